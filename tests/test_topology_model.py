from __future__ import annotations

import pytest

from controller.errors import NotFoundError, TopologyError
from controller.topology import Link, LinkState, Node, Topology, fibre_delay_s, great_circle_km


def _pair(link_id: str, a: str, b: str, cap: float = 10e9, delay: float = 1e-3) -> list[Link]:
    return [Link(link_id, a, b, cap, delay), Link(link_id, b, a, cap, delay)]


def _triangle() -> Topology:
    nodes = [Node("A", 1), Node("B", 2), Node("C", 3)]
    links = _pair("ab", "A", "B") + _pair("bc", "B", "C") + _pair("ca", "C", "A", delay=5e-3)
    links += _pair("ab2", "A", "B", cap=1e9)  # a parallel link
    return Topology("tri", nodes, links)


def test_addressing_is_derived_from_index() -> None:
    node = Node("R26", 26)
    assert node.locator == "fcbb:bb00:1a::/48"
    assert node.node_sid == "fcbb:bb00:1a::1"
    assert node.loopback == "fc00:0:1a::1/128"


def test_adjacency_sids_are_unique_per_router() -> None:
    topo = _triangle()
    sids = [topo.adjacency_sid(lk) for lk in topo.links]
    assert len(set(sids)) == len(sids)
    assert all(
        s.startswith(topo.nodes[lk.src].locator.split("::")[0])
        for s, lk in zip(sids, topo.links, strict=True)
    )


def test_parallel_links_and_stats() -> None:
    topo = _triangle()
    assert len(topo.links_between("A", "B")) == 2
    stats = topo.stats()
    assert (stats.nodes, stats.links, stats.directed_links) == (3, 4, 8)
    assert stats.connected and stats.diameter_hops == 1
    assert stats.diameter_s == pytest.approx(2e-3)  # C->A direct is 5 ms, via B is 2 ms
    assert stats.edge_connectivity == 2
    assert stats.total_capacity_bps == pytest.approx(2 * (3 * 10e9 + 1e9))


def test_default_metrics() -> None:
    link = Link("x", "A", "B", 10e9, 2.5e-3)
    assert link.igp_metric == 10  # 100G reference / 10G
    assert link.te_metric == 2500  # microseconds


def test_every_problem_is_listed_with_the_element() -> None:
    nodes = [Node("A", 1), Node("A", 2), Node("B", 3)]
    links = [
        Link("l1", "A", "Z", 1e9, 0.0),
        Link("l2", "B", "B", 1e9, 0.0),
        Link("l3", "A", "B", -5, 0.0),
    ]
    with pytest.raises(TopologyError) as info:
        Topology("bad", nodes, links)
    text = "\n".join(info.value.problems)
    assert "node 'A' is defined 2 times" in text
    assert "unknown node 'Z'" in text
    assert "'l2'" in text and "itself" in text
    assert "'l3'" in text and "capacity must be a positive" in text


def test_disconnected_is_a_warning_not_an_error() -> None:
    topo = Topology("two", [Node("A", 1), Node("B", 2), Node("C", 3)], _pair("ab", "A", "B"))
    assert any("disconnected" in w for w in topo.warnings)
    assert not topo.stats().connected


def test_link_state_change_returns_new_topology() -> None:
    topo = _triangle()
    down = topo.with_link_state("ab", LinkState.DOWN)
    assert all(lk.is_up for lk in topo.links)
    assert {lk.key for lk in down.links if not lk.is_up} == {("A", "B", "ab"), ("B", "A", "ab")}
    assert ("A", "B", "ab") not in set(down.up_graph().edges(keys=True))
    with pytest.raises(NotFoundError):
        topo.with_link_state("nope", LinkState.DOWN)


def test_great_circle_and_fibre_delay() -> None:
    # London to New York is about 5,570 km
    assert great_circle_km(51.5074, -0.1278, 40.7128, -74.0060) == pytest.approx(5570, rel=0.01)
    a, b = Node("L", 1, lat=51.5074, lon=-0.1278), Node("N", 2, lat=40.7128, lon=-74.0060)
    assert fibre_delay_s(a, b) == pytest.approx(0.02785, rel=0.01)
    assert fibre_delay_s(a, Node("X", 3)) is None
