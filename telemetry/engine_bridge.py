"""Hand telemetry's topology events to the reconcile engine at once.

`engine_sink(engine, loop)` returns an `EventSink` for `TelemetryProcessor(on_event=...)`: a
`link_down`/`link_up` seen in a `<get>` reply schedules `engine.link_state(...)` on the engine's
event loop immediately (thread-safe: collectors run in worker threads), without waiting for the
telemetry round to finish; the two ends of a link both report it, the engine hears it once.
Device restarts are not forwarded (the engine has no use for them yet).
"""

from __future__ import annotations

import asyncio
from concurrent.futures import Future
from typing import Any, Protocol

from controller.topology import LinkState
from telemetry.events import EventSink, TopologyEvent


class LinkStateEngine(Protocol):
    async def link_state(self, link_id: str, state: LinkState, cause: str) -> Any: ...


def engine_sink(
    engine: LinkStateEngine,
    loop: asyncio.AbstractEventLoop,
    pending: list[Future[Any]] | None = None,
) -> EventSink:
    known: dict[str, LinkState] = {}

    def sink(event: TopologyEvent) -> None:
        if event.link is None or event.kind not in ("link_down", "link_up"):
            return
        state = LinkState.DOWN if event.kind == "link_down" else LinkState.UP
        if known.get(event.link) is state:
            return  # the other end of the same link reported it already
        known[event.link] = state
        cause = f"telemetry: {event.device} reports {event.link} {state.value}"
        future = asyncio.run_coroutine_threadsafe(engine.link_state(event.link, state, cause), loop)
        if pending is not None:
            pending.append(future)

    return sink
