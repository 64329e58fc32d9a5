"""Telemetry over real NETCONF/SSH: simulated routers backed by the simulator, polled in
parallel with <get>; SR policies installed over NETCONF steer the simulated traffic."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from simnets import DIAMOND, static, topo

from controller.desired import CandidatePath, DeviceConfig, SegmentList, SrPolicy
from controller.southbound.netconf import NetconfSouthbound
from controller.southbound.session import SessionOptions
from controller.southbound.transaction import TransactionOptions
from harness.netsim import NetworkSimulator
from harness.routing import LinkIndex
from harness.scenario import parse_scenario
from harness.simdevices import SimDevices
from harness.simrun import SimRuntime

WEIGHTED = [(a, b, c, d, 30 if "c" in (a, b) else 10) for a, b, c, d, _ in DIAMOND]


def test_polling_over_netconf_matches_the_simulation(tmp_path: Path) -> None:
    index = LinkIndex(topo("t", WEIGHTED))
    scenario = {"events": [{"kind": "link_down", "link": "b-d", "at": "35s"}]}
    sim = NetworkSimulator(
        index,
        static(index, [("a", "d", "production", 4e9)]),
        rng=np.random.default_rng(0),
        scenario=parse_scenario(scenario),
    )
    events = []
    with SimDevices(sim, tmp_path) as devices:
        collector = devices.collector()
        try:
            runtime = SimRuntime(sim, collector=collector, on_event=events.append)
            for _ in range(3):
                runtime.tick()
            lt = runtime.processor.links[("a", "a-b")]
            assert lt.utilisation == pytest.approx(0.4, rel=1e-6)
            assert lt.class_utilisation["production"] == pytest.approx(0.4, rel=1e-6)
            assert lt.rx_power_dbm is not None and lt.delay_s == pytest.approx(1e-3, rel=1e-2)
            runtime.tick()  # b-d goes down at 35 s: seen through <get> as oper-status down
            assert ("link_down", "b", "b-d") in [(e.kind, e.device, e.link) for e in events]
            runtime.tick()
            assert runtime.processor.links[("a", "a-c")].utilisation == pytest.approx(0.4)

            # install a policy over NETCONF (a real transaction), the simulator follows it
            southbound = NetconfSouthbound(
                devices.inventory,
                session_options=SessionOptions(rpc_timeout_s=10),
                transaction_options=TransactionOptions(confirm_timeout_s=5),
            )
            sid = index.topology.node("b").node_sid
            policy = SrPolicy(
                7, "d", "via-b", (CandidatePath("p", 100, (SegmentList("s", (sid,)),)),)
            )
            result = southbound.apply_sync(1, {"a": DeviceConfig("a", sr_policies=(policy,))}, {})
            southbound.close_sync()
            assert result.committed, result
            assert devices.sync_configs() == ["a"]
            runtime.tick()
            states = {s.device: s for s in collector.collect().states}
            (pstate,) = states["a"].sr_policies
            assert pstate.color == 7 and pstate.up and pstate.active_candidate_path == "p"
            # steered to b, which reaches d (b-d is down) back through a and c
            assert runtime.processor.links[("a", "a-b")].utilisation == pytest.approx(0.4)
            assert runtime.processor.links[("b", "a-b")].utilisation == pytest.approx(0.4)
        finally:
            collector.close()


def test_a_dead_router_is_an_error_not_an_exception(tmp_path: Path) -> None:
    index = LinkIndex(topo("t", DIAMOND))
    sim = NetworkSimulator(
        index, static(index, [("a", "d", "video", 1e9)]), rng=np.random.default_rng(0)
    )
    with SimDevices(sim, tmp_path) as devices:
        collector = devices.collector(rpc_timeout_s=2)
        try:
            sim.step()
            devices.runner.run(devices.runner.fleet.routers["c"].die())
            result = collector.collect()
            assert sorted(s.device for s in result.states) == ["a", "b", "d"]
            assert list(result.errors) == ["c"] and "'c'" in result.errors["c"]
        finally:
            collector.close()
