"""An embedded controller driving the simulated network: the engine installs intents through a
southbound (the simulator in process, or NETCONF to the simulated routers), telemetry events
reach the engine at once, and the simulation measures every intent with a probe.

The engine runs on its own event loop in a thread (as in `netpilot controller run`); the
simulation steps in the caller's thread.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from controller.intents import Intent
from controller.runtime.assemble import assemble_engine
from controller.runtime.settings import make_settings
from controller.southbound.base import Southbound
from controller.store import Store
from controller.topology import Topology
from telemetry.engine_bridge import engine_sink
from telemetry.events import EventSink


class EmbeddedController:
    def __init__(
        self,
        topology: Topology,
        intents: list[Intent],
        southbound: Southbound,
        db: Path,
        *,
        clock: Callable[[], float] = time.time,
        hold_time_s: float = 300.0,
        debounce_s: float = 0.2,
    ) -> None:
        self.store = Store(db, clock=clock)
        self.store.apply_intents(intents, actor="sim")
        settings = make_settings(
            topology=topology.name, db=db, tick_s=3600, hold_time_s=hold_time_s,
            debounce_s=debounce_s,
        )  # fmt: skip
        self.engine = assemble_engine(settings, topology, self.store, southbound, clock)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True, name="engine")
        self.pending: list[Future[Any]] = []

    def start(self, timeout_s: float = 120.0) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.engine.start(), self.loop).result(timeout_s)

    def sink(self) -> EventSink:
        return engine_sink(self.engine, self.loop, self.pending)

    def settle(self, timeout_s: float = 120.0) -> None:
        """Wait until the engine has handled every event handed to it so far."""
        for future in list(self.pending):
            future.result(timeout_s)
        self.pending.clear()

    def summary(self) -> dict[str, Any]:
        records = self.store.list_intents()
        return {
            "intents": len(records),
            "states": dict(Counter(str(r.state.value) for r in records)),
            "events": len(self.engine.events),
            "telemetry_events": sum(
                e.cause.startswith("telemetry") for e in self.engine.events if e.kind == "topology"
            ),
        }

    def stop(self) -> None:
        if self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=10)
        self.store.close()
