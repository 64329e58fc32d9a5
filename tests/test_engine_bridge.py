"""A link-down seen by telemetry reaches the real reconcile engine, which moves the intents."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import numpy as np

from controller.engine import Engine, EngineConfig
from controller.intentfile import load_intents
from controller.southbound.memory import MemorySouthbound
from controller.store import Store
from harness.netsim import NetworkSimulator
from harness.routing import LinkIndex
from harness.scenario import parse_scenario
from harness.simrun import SimRuntime
from harness.traffic import Flows, StaticTraffic
from telemetry.engine_bridge import engine_sink
from topologies.loader import load

ROOT = Path(__file__).resolve().parent.parent


def test_link_down_event_reroutes_intents(tmp_path: Path) -> None:
    topo = load("bank-wan")
    intents = load_intents(ROOT / "topologies" / "bank-wan.intents.yaml")
    store = Store(tmp_path / "np.db")
    engine = Engine(topo, store, MemorySouthbound(), time.time, config=EngineConfig(tick_s=3600))
    loop = asyncio.new_event_loop()  # the controller's loop, in its own thread
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    def on_loop(coro):  # type: ignore[no-untyped-def]
        return asyncio.run_coroutine_threadsafe(coro, loop).result(60)

    try:
        store.apply_intents(intents, actor="test")
        on_loop(engine.start())
        on_loop(engine.reconcile("test"))
        before = engine.placements()
        used = {lk[2] for p in before.values() for lk in p.primary.links}
        assert used
        victim = sorted(used)[0]
        index = LinkIndex(topo)
        sim = NetworkSimulator(
            index,
            StaticTraffic(Flows(np.zeros(0, int), np.zeros(0, int), np.zeros(0, int)), np.zeros(0)),
            rng=np.random.default_rng(0),
            scenario=parse_scenario(
                {"events": [{"kind": "link_down", "link": victim, "at": "15s"}]}
            ),
        )
        pending: list = []
        runtime = SimRuntime(sim, on_event=engine_sink(engine, loop, pending))
        for _ in range(3):
            runtime.tick()
        assert pending, "the link-down reached the engine"
        for future in pending:
            future.result(60)
        assert not engine.topology.link(next(lk.key for lk in topo.links if lk.id == victim)).is_up
        after = engine.placements()
        assert all(victim not in {lk[2] for lk in p.primary.links} for p in after.values())
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
        store.close()
