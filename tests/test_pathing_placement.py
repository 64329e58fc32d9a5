"""Placement of many requests: priority, admission, preemption, backups, keeping placements."""

from __future__ import annotations

import random
from collections import defaultdict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pathing_data import dataset
from pathing_graphs import small_topologies

from controller.errors import ValidationError
from controller.pathing.placement import place
from controller.pathing.sids import IgpRouting, expand
from controller.pathing.types import PathRequest, PlacementResult
from controller.topology import Link, LinkKey, LinkState, Node, Topology


def _diamond() -> Topology:
    """A-B-D (metric 2, 10G) and A-C-D (metric 4, 10G), both 1 ms per hop."""
    nodes = [Node(name=n, index=i + 1) for i, n in enumerate("ABCD")]
    links = []
    for a, b, m in [("A", "B", 1), ("B", "D", 1), ("A", "C", 2), ("C", "D", 2)]:
        for s, d in ((a, b), (b, a)):
            links.append(
                Link(id=f"{a}{b}", src=s, dst=d, capacity_bps=10e9, delay_s=1e-3, igp_metric=m)
            )
    return Topology("diamond", nodes, links)


def _loads(result: PlacementResult) -> dict[LinkKey, float]:
    loads: dict[LinkKey, float] = defaultdict(float)
    for p in result.placed.values():
        used = set(p.primary.links) | set(p.backup.links if p.backup else ())
        for key in used:
            loads[key] += p.request.bandwidth_bps
    return loads


def _within_capacity(topo: Topology, result: PlacementResult) -> bool:
    return all(load <= topo.link(k).capacity_bps * (1 + 1e-9) for k, load in _loads(result).items())


def test_admission_spills_to_the_next_path_then_refuses_with_reason() -> None:
    topo = _diamond()
    reqs = [PathRequest(f"r{i}", "A", "D", bandwidth_bps=6e9) for i in range(3)]
    result = place(topo, reqs)
    assert sorted(result.placed) == ["r0", "r1"]
    assert {result.placed[n].primary.nodes for n in ("r0", "r1")} == {
        ("A", "B", "D"),
        ("A", "C", "D"),
    }
    assert "r2" in result.unplaced and "6 Gbps available" in result.unplaced["r2"]
    assert _within_capacity(topo, result)


def test_higher_priority_preempts_existing_lower_priority() -> None:
    topo = _diamond()
    low = [
        PathRequest(f"low{i}", "A", "D", bandwidth_bps=6e9, setup_priority=5, hold_priority=5)
        for i in range(2)
    ]
    first = place(topo, low)
    assert len(first.placed) == 2
    high = PathRequest("high", "A", "D", bandwidth_bps=6e9, setup_priority=1, hold_priority=1)
    second = place(topo, [*low, high], existing=first.placed)
    assert "high" in second.placed
    assert len(second.preempted) == 1
    victim = second.preempted[0]
    assert victim in second.unplaced and "preempted by high" in second.unplaced[victim]
    assert _within_capacity(topo, second)
    # the surviving low-priority request kept its path untouched
    survivor = next(n for n in ("low0", "low1") if n != victim)
    assert second.placed[survivor] == first.placed[survivor]


def test_equal_priority_does_not_preempt() -> None:
    topo = _diamond()
    reqs = [
        PathRequest(f"r{i}", "A", "D", bandwidth_bps=6e9, setup_priority=3, hold_priority=3)
        for i in range(3)
    ]
    result = place(topo, reqs)
    again = place(
        topo,
        [*reqs, PathRequest("r9", "A", "D", bandwidth_bps=6e9, setup_priority=3, hold_priority=3)],
        existing=result.placed,
    )
    assert again.preempted == []
    assert "r9" in again.unplaced


def test_disjoint_request_gets_backup_with_sids_that_expand_back() -> None:
    topo = _diamond()
    result = place(topo, [PathRequest("p", "A", "D", bandwidth_bps=1e9, disjoint="node")])
    placement = result.placed["p"]
    assert placement.backup is not None
    assert {placement.primary.nodes, placement.backup.nodes} == {("A", "B", "D"), ("A", "C", "D")}
    routing = IgpRouting.of(topo)
    for path in (placement.primary, placement.backup):
        assert path.sids
        assert expand(routing, "A", path.sids) == [path.links]


def test_link_down_recomputes_only_the_affected_placements() -> None:
    topo = _diamond()
    reqs = [PathRequest("ab", "A", "B"), PathRequest("cd", "C", "D"), PathRequest("ad", "A", "D")]
    before = place(topo, reqs)
    down = topo.with_link_state("BD", LinkState.DOWN)
    after = place(down, reqs, existing=before.placed)
    assert after.placed["ab"] is before.placed["ab"]
    assert after.placed["cd"] is before.placed["cd"]
    assert after.placed["ad"].primary.nodes == ("A", "C", "D")


def test_unknown_endpoint_is_unplaced_without_blocking_others() -> None:
    result = place(_diamond(), [PathRequest("ok", "A", "D"), PathRequest("gone", "A", "Z")])
    assert "ok" in result.placed
    assert result.unplaced == {"gone": "gone: unknown node 'Z' in topology 'diamond'"}


def test_bad_requests_are_refused_naming_the_field() -> None:
    with pytest.raises(ValidationError, match=r"setup_priority must be 0\.\.7"):
        place(_diamond(), [PathRequest("x", "A", "D", setup_priority=9)])
    with pytest.raises(ValidationError, match="used 2 times"):
        place(_diamond(), [PathRequest("x", "A", "D"), PathRequest("x", "A", "C")])


def test_many_requests_on_geant_never_overbook_and_explain_refusals() -> None:
    topo, _, _ = dataset("geant")
    rng = random.Random(3)
    names = sorted(topo.nodes)
    reqs = []
    for i in range(300):
        src, dst = rng.sample(names, 2)
        prio = rng.randint(0, 7)
        reqs.append(
            PathRequest(
                f"r{i}",
                src,
                dst,
                bandwidth_bps=rng.choice([1e8, 5e8, 1e9]),
                setup_priority=prio,
                hold_priority=prio,
                disjoint=rng.choice([None, None, "link"]),
            )
        )
    result = place(topo, reqs)
    assert set(result.placed) | set(result.unplaced) == {r.name for r in reqs}
    assert not set(result.placed) & set(result.unplaced)
    assert _within_capacity(topo, result)
    assert result.unplaced, "300 intents of up to 1G must overfill GEANT's 155M links"
    assert all("no path" in why for why in result.unplaced.values())
    unprotected = [p for p in result.placed.values() if p.request.disjoint and not p.backup]
    assert all(p.shared_risks[0].startswith("no backup") for p in unprotected)
    worst_placed = max(r.setup_priority for r in reqs if r.name in result.placed)
    assert worst_placed >= min(r.setup_priority for r in reqs if r.name in result.unplaced)


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_placement_invariants_on_generated_graphs(data: st.DataObject) -> None:
    topo = data.draw(small_topologies(parallel=True))
    names = sorted(topo.nodes)
    reqs = []
    for i in range(data.draw(st.integers(1, 12))):
        src, dst = data.draw(st.lists(st.sampled_from(names), min_size=2, max_size=2, unique=True))
        prio = data.draw(st.integers(0, 7))
        reqs.append(
            PathRequest(
                f"r{i}",
                src,
                dst,
                bandwidth_bps=data.draw(st.sampled_from([2e8, 6e8, 3e9])),
                max_latency_s=data.draw(st.none() | st.just(12e-3)),
                setup_priority=prio,
                hold_priority=prio,
                disjoint=data.draw(st.sampled_from([None, None, "link", "node"])),
            )
        )
    result = place(topo, reqs)
    assert set(result.placed) | set(result.unplaced) == {r.name for r in reqs}
    assert _within_capacity(topo, result)
    routing = IgpRouting.of(topo)
    for name, placement in result.placed.items():
        req = placement.request
        assert placement.primary.nodes[0] == req.src and placement.primary.nodes[-1] == req.dst
        if req.max_latency_s is not None:
            assert placement.primary.latency_s <= req.max_latency_s + 1e-12, name
        assert expand(routing, req.src, placement.primary.sids) == [placement.primary.links]
    # placing again with the result as `existing` changes nothing
    again = place(topo, reqs, existing=result.placed)
    assert all(again.placed[n] is p for n, p in result.placed.items())


def test_resegment_reencodes_sids_that_the_igp_change_broke() -> None:
    topo = _diamond()
    reqs = [PathRequest("p", "A", "D")]
    during = place(topo.with_link_state("BD", LinkState.DOWN), reqs)
    old = during.placed["p"]
    assert old.primary.nodes == ("A", "C", "D")
    routing = IgpRouting.of(topo)
    # the old list, sent on the healed network, would follow the IGP over B
    assert expand(routing, "A", old.primary.sids) != [old.primary.links]
    assert place(topo, reqs, existing=during.placed).placed["p"] is old
    fresh = place(topo, reqs, existing=during.placed, resegment=True).placed["p"]
    assert fresh.primary.links == old.primary.links
    assert expand(routing, "A", fresh.primary.sids) == [fresh.primary.links]
