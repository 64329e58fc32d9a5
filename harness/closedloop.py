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
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from controller.engine import Engine, EngineConfig
from controller.intents import Intent
from controller.southbound.base import Southbound
from controller.store import Store
from controller.topology import Topology
from telemetry.engine_bridge import engine_sink
from telemetry.events import EventSink


class EmbeddedController:
    def __init__(
        self, topology: Topology, intents: list[Intent], southbound: Southbound, db: Path
    ) -> None:
        self.store = Store(db)
        self.store.apply_intents(intents, actor="sim")
        self.engine = Engine(
            topology, self.store, southbound, time.time, config=EngineConfig(tick_s=3600)
        )
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
