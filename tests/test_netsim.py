"""The flow-level simulator against hand-computed results on small topologies."""

from __future__ import annotations

import numpy as np
import pytest
from simnets import DIAMOND, LINE, static, topo

from controller.desired import CandidatePath, DeviceConfig, SegmentList, SrPolicy
from harness.netsim import NetworkSimulator
from harness.queues import MAX_QUEUE_DELAY_S
from harness.routing import LinkIndex
from harness.scenario import parse_scenario

RNG = np.random.default_rng


def make(edges, flows, scenario=None, **kw) -> NetworkSimulator:
    index = LinkIndex(topo("t", edges))
    return NetworkSimulator(
        index, static(index, flows), rng=RNG(1), scenario=parse_scenario(scenario), **kw
    )


def load(sim: NetworkSimulator, a: str, b: str) -> float:
    i = sim.index.link_idx[(a, b, f"{min(a, b)}-{max(a, b)}")]
    assert sim.solution is not None
    return float(sim.solution.queues.served[i].sum())


def test_line_loads_and_delay_by_hand() -> None:
    sim = make(LINE, [("a", "c", "production", 4e9)])
    sim.step()
    assert load(sim, "a", "b") == pytest.approx(4e9)
    assert load(sim, "b", "c") == pytest.approx(4e9)
    assert load(sim, "b", "a") == 0
    # two 1 ms links; M/M/1 wait per hop: packet time 800*8/10G = 0.64 us, rho 0.4 -> 0.4267 us
    wait = 6.4e-7 * 0.4 / 0.6
    assert sim.solution.flow_delay_s[0] == pytest.approx(2e-3 + 2 * wait, rel=1e-9)
    assert sim.solution.flow_dropped[0] == 0


def test_ecmp_splits_equally_and_delay_is_the_mean() -> None:
    sim = make(DIAMOND, [("a", "d", "bigdata", 6e9)])
    sim.step()
    for a, b in [("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")]:
        assert load(sim, a, b) == pytest.approx(3e9)
    # branches of 2 ms and 4 ms propagation, half the traffic each
    assert sim.solution.flow_delay_s[0] == pytest.approx(3e-3, rel=1e-3)


def test_igp_metric_picks_the_cheaper_branch() -> None:
    edges = [(a, b, c, d, 30 if "c" in (a, b) else 10) for a, b, c, d, _ in DIAMOND]
    sim = make(edges, [("a", "d", "office", 1e9)])
    sim.step()
    assert load(sim, "a", "b") == pytest.approx(1e9)
    assert load(sim, "a", "c") == 0


def test_overload_drops_the_excess_and_thins_downstream() -> None:
    edges = [("a", "b", 10e9, 1e-3, 10), ("b", "c", 5e9, 1e-3, 10)]
    sim = make(edges, [("a", "c", "production", 12e9), ("a", "b", "voice", 1e9)])
    sim.step()
    s = sim.solution
    # a->b: voice 1G strict priority, production gets the other 9G of 12G offered
    assert load(sim, "a", "b") == pytest.approx(10e9)
    i_ab = sim.index.link_idx[("a", "b", "a-b")]
    assert s.queues.dropped[i_ab].sum() == pytest.approx(3e9)
    # b->c sees only the 9G that survived a->b, not the 12G injected, and carries 5G
    i_bc = sim.index.link_idx[("b", "c", "b-c")]
    assert s.offered[i_bc].sum() == pytest.approx(9e9)
    assert load(sim, "b", "c") == pytest.approx(5e9)
    assert s.flow_delivered[0] == pytest.approx(5e9)
    assert s.flow_dropped[0] == pytest.approx(7e9)
    assert s.flow_dropped[1] == 0
    # the full production queue on b->c delays by its buffer drained at the served rate
    k = sim.classes.index("production")
    assert s.queues.delay_s[i_bc, k] == pytest.approx(min(0.05 * 5e9 / 5e9, MAX_QUEUE_DELAY_S))


def test_weighted_sharing_between_classes() -> None:
    edges = [("a", "b", 9e9, 1e-3, 10)]
    sim = make(edges, [("a", "b", "production", 10e9), ("a", "b", "bigdata", 10e9)])
    sim.step()
    served = sim.solution.queues.served[sim.index.link_idx[("a", "b", "a-b")]]
    c = sim.classes
    wp, wb = c.specs[c.index("production")].weight, c.specs[c.index("bigdata")].weight
    assert (wp, wb) == (40, 15)  # the controller's class table
    assert served[c.index("production")] == pytest.approx(9e9 * 40 / 55)
    assert served[c.index("bigdata")] == pytest.approx(9e9 * 15 / 55)


def test_unused_share_goes_to_the_others() -> None:
    edges = [("a", "b", 9e9, 1e-3, 10)]
    sim = make(edges, [("a", "b", "production", 1e9), ("a", "b", "bigdata", 10e9)])
    sim.step()
    served = sim.solution.queues.served[sim.index.link_idx[("a", "b", "a-b")]]
    assert served[sim.classes.index("bigdata")] == pytest.approx(8e9)


def test_link_down_reroutes_and_reports_the_event() -> None:
    scenario = {"events": [{"kind": "link_down", "link": "a-b", "at": "15s", "until": "35s"}]}
    sim = make(DIAMOND, [("a", "d", "video", 2e9)], scenario)
    first = sim.step()
    assert load(sim, "a", "b") == pytest.approx(1e9)
    down = sim.step()
    assert [(e.kind, e.target) for e in down.events] == [("link_down", "a-b")]
    assert load(sim, "a", "c") == pytest.approx(2e9)
    assert load(sim, "a", "b") == 0
    assert not first.events
    sim.step()
    up = sim.step()
    assert [(e.kind, e.target) for e in up.events] == [("link_up", "a-b")]
    assert load(sim, "a", "b") == pytest.approx(1e9)


def test_sr_policy_steers_through_a_node_sid_and_an_adjacency_sid() -> None:
    edges = [(a, b, c, d, 30 if "c" in (a, b) else 10) for a, b, c, d, _ in DIAMOND]
    index = LinkIndex(topo("t", edges))
    sim = NetworkSimulator(
        index, static(index, [("a", "d", "voice", 1e9), ("a", "d", "office", 1e9)]), rng=RNG(1)
    )
    c_sid = index.topology.node("c").node_sid
    policy = SrPolicy(
        color=10,
        endpoint="d",
        name="via-c",
        candidate_paths=(CandidatePath("p", 100, (SegmentList("s", (c_sid,)),)),),
    )
    sim.apply_config("a", DeviceConfig("a", sr_policies=(policy,)))
    sim.step()
    assert load(sim, "a", "c") == pytest.approx(2e9)
    assert load(sim, "a", "b") == 0
    state = sim.device_state("a")
    assert state.sr_policies[0].up and state.sr_policies[0].active_candidate_path == "p"
    adj = index.topology.adjacency_sid(index.topology.link(("a", "c", "a-c")))
    dsid = index.topology.node("d").node_sid
    policy2 = SrPolicy(10, "d", "adj", (CandidatePath("q", 200, (SegmentList("s", (adj, dsid)),)),))
    sim.apply_config("a", DeviceConfig("a", sr_policies=(policy2,)))
    sim.step()
    assert load(sim, "c", "d") == pytest.approx(2e9)


def test_policy_with_unknown_sid_is_down_and_traffic_falls_back_to_igp() -> None:
    index = LinkIndex(topo("t", DIAMOND))
    sim = NetworkSimulator(index, static(index, [("a", "d", "voice", 1e9)]), rng=RNG(1))
    bad = SrPolicy(
        1, "d", "bad", (CandidatePath("p", 1, (SegmentList("s", ("fcbb:bb00:99::1",)),)),)
    )
    sim.apply_config("a", DeviceConfig("a", sr_policies=(bad,)))
    sim.step()
    assert not sim.device_state("a").sr_policies[0].up
    assert sim.solution.flow_delivered[0] == pytest.approx(1e9)


def test_node_down_makes_its_traffic_unroutable_and_conserved() -> None:
    scenario = {"events": [{"kind": "node_down", "node": "d", "at": "5s", "until": "25s"}]}
    sim = make(DIAMOND, [("a", "d", "video", 2e9), ("a", "b", "office", 1e9)], scenario)
    s = sim.step()
    assert s.dropped_bps == pytest.approx(2e9)
    assert s.delivered_bps == pytest.approx(1e9)
    assert {e.kind for e in s.events} == {"node_down"}


def test_crc_errors_drop_packets_and_count_as_receive_errors() -> None:
    scenario = {
        "events": [
            {
                "kind": "degrade",
                "link": "a-b",
                "signal": "crc",
                "at": 0,
                "ramp": "10s",
                "amount": 0.01,
            }
        ]
    }
    sim = make(LINE, [("a", "b", "production", 1e9)], scenario)
    sim.step()
    assert sim.solution.flow_dropped[0] == pytest.approx(1e7)
    rx = {i.name: i for i in sim.device_state("b").interfaces}["a-b"]
    assert rx.crc_errors == pytest.approx(1e7 * 10 / 6400, rel=1e-3)


def _geant_sim(scenario=None, seed=7):
    from harness.traffic import GravityTraffic
    from topologies.loader import load as load_topology

    index = LinkIndex(load_topology("geant"))
    rng = RNG(seed)
    traffic = GravityTraffic(index, rng, total_bps=300e9, n_flows=1200)
    return NetworkSimulator(index, traffic, rng=rng, scenario=parse_scenario(scenario))


def test_conservation_on_geant_under_overload_and_faults() -> None:
    scenario = {
        "events": [
            {"kind": "link_down", "link": "0-2", "at": "1m"},
            {"kind": "node_down", "node": "5", "at": "2m", "until": "3m"},
            {
                "kind": "degrade",
                "link": "0-4",
                "signal": "crc",
                "at": 0,
                "ramp": "1m",
                "amount": 0.02,
            },
        ]
    }
    sim = _geant_sim(scenario)
    for summary in sim.run(300):
        s = sim.solution
        assert summary.offered_bps == pytest.approx(summary.delivered_bps + summary.dropped_bps)
        unroutable = s.flow_offered[~sim.routing().table.routed].sum()
        link_losses = s.queues.dropped.sum() + s.corrupted.sum()
        assert s.flow_dropped.sum() == pytest.approx(link_losses + unroutable, rel=1e-6)
        assert (s.flow_delivered >= -1e-6).all()
    assert sim.solution.queues.dropped.sum() > 0, "the load should congest some links"


def test_same_seed_same_run() -> None:
    a, b = _geant_sim(seed=3), _geant_sim(seed=3)
    ra, rb = a.run(120), b.run(120)
    assert [s.delivered_bps for s in ra] == [s.delivered_bps for s in rb]
    assert a.device_state("3") == b.device_state("3")
