"""The live controller's telemetry loop against real NETCONF routers that misbehave: a router
that answers too slowly, one that closes its session and refuses to reconnect, one that answers
an rpc-error. Each goes
stale for the round with a one-line cause; the round completes without waiting for them; the
others' reports are used; each recovers when it answers again."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import numpy as np
from simnets import DIAMOND, static, topo

from controller.engine import Engine, EngineConfig
from controller.runtime.live import LiveTelemetry
from controller.southbound.memory import MemorySouthbound
from controller.southbound.session import SessionOptions
from controller.store import Store
from harness.netsim import NetworkSimulator
from harness.routing import LinkIndex
from harness.simdevices import SimDevices
from telemetry.linkmodels import BaselineLinkModels
from telemetry.netconf_collector import NetconfCollector

DEADLINE_S = 0.5


def _events(engine: Engine, kind: str) -> dict[str, str]:
    """device -> detail of the engine's events of `kind` (device-stale / device-recovered)."""
    out = {}
    for e in engine.events:
        if e.kind == kind:
            out[e.cause.split()[1]] = e.detail
    return out


def test_slow_closed_and_failing_routers_go_stale_and_recover(tmp_path: Path) -> None:
    index = LinkIndex(topo("t", DIAMOND))
    sim = NetworkSimulator(
        index, static(index, [("a", "d", "production", 4e9)]), rng=np.random.default_rng(0)
    )
    store = Store(tmp_path / "np.db")
    engine = Engine(
        index.topology, store, MemorySouthbound(), time.time, config=EngineConfig(tick_s=3600)
    )
    with SimDevices(sim, tmp_path / "devices") as devices:
        assert devices.inventory is not None
        collector = NetconfCollector(
            devices.inventory,
            options=SessionOptions(rpc_timeout_s=5, connect_timeout_s=2, connect_attempts=1),
        )
        live = LiveTelemetry(
            engine, collector, BaselineLinkModels(), interval_s=1.0, deadline_s=DEADLINE_S
        )
        routers = devices.runner.fleet.routers
        try:
            sim.step()
            asyncio.run(live.round())
            assert live.stale_devices() == {} and live.processor.links
            routers["b"].faults.delay_s = 3.0  # answers, but far too late
            routers["c"].faults.on_rpc["get"] = "drop"  # closes the session instead,
            routers["c"].faults.refuse_connections = True  # and refuses the reconnect
            routers["d"].faults.on_rpc["get"] = "fail"  # answers an rpc-error
            sim.step()
            asyncio.run(live.round())
            stale = live.stale_devices()
            assert set(stale) == {"b", "c", "d"}
            assert f"no answer within {DEADLINE_S:g}s" in stale["b"]
            assert "connect" in stale["c"]
            assert "get state" in stale["d"]
            assert not collector._inflight["b"].done()  # the round did not wait for b
            assert live.devices["a"].stamp == sim.t  # a's report of this round was used
            assert set(_events(engine, "device-stale")) == {"b", "c", "d"}
            routers["b"].faults.delay_s = 0.0
            routers["c"].faults.refuse_connections = False
            sim.step()
            asyncio.run(live.round())  # c and d answer again; b's old request may still run
            assert {"c", "d"} <= set(_events(engine, "device-recovered"))
            for _ in range(20):
                if not live.stale_devices():
                    break
                time.sleep(0.2)
                asyncio.run(live.round())
            assert live.stale_devices() == {}
            assert "b" in _events(engine, "device-recovered")
        finally:
            collector.close()
            store.close()
