"""Streamed oper-status changes to the engine, at once: `link_callback(engine, loop)`.

The streaming collector calls the callback on its own thread as an ON_CHANGE update arrives;
it schedules `engine.link_state(link, state, cause)` on the engine's loop (thread-safe) without
waiting for a telemetry round. Both ends of a link report a cut: the second report of the same
state within `window_s` is dropped, so the engine hears it once; a later change (a flap) goes
through. A failed call is logged, never raised into the collector.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from controller.topology import LinkState
from telemetry.engine_bridge import LinkStateEngine
from telemetry.gnmi_stream import LinkCallback

log = logging.getLogger("netpilot.telemetry")


def link_callback(
    engine: LinkStateEngine,
    loop: asyncio.AbstractEventLoop,
    *,
    window_s: float = 5.0,
    known: Callable[[str], bool] | None = None,
    clock: Callable[[], float] = time.monotonic,
    seen: list[tuple[float, str, str, str]] | None = None,
) -> LinkCallback:
    """`known(link)` filters interfaces that are no link of the topology; `seen` records
    (wall time, device, link, state) of every change handed on (benchmarks)."""
    last: dict[str, tuple[LinkState, float]] = {}
    lock = threading.Lock()

    def on_link(device: str, link: str, up: bool, ts: float) -> None:
        state = LinkState.UP if up else LinkState.DOWN
        now = clock()
        if known is not None and not known(link):
            return
        with lock:
            prev = last.get(link)
            if prev is not None and prev[0] is state and now - prev[1] < window_s:
                return
            last[link] = (state, now)
        if seen is not None:
            seen.append((time.time(), device, link, state.value))
        cause = f"telemetry: gNMI: {device} reports {link} {state.value}"
        future = asyncio.run_coroutine_threadsafe(engine.link_state(link, state, cause), loop)
        future.add_done_callback(_log_failure)

    return on_link


def _log_failure(future: Future[Any]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.error("link state from gNMI failed: %r", future.exception())
