"""Topology.stats() figures agree with networkx on random graphs (the diameters use scipy)."""

from __future__ import annotations

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.topology import Link, Node, Topology


@st.composite
def connected_topologies(draw: st.DrawFn) -> Topology:
    n = draw(st.integers(2, 12))
    tree = nx.random_labeled_tree(n, seed=draw(st.integers(0, 10_000)))
    extra = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=8))
    pairs = [*tree.edges(), *((a, b) for a, b in extra if a != b)]
    delays = st.sampled_from([0.0, 1e-6, 1e-3, 2.5e-3, 0.04])
    links = []
    for k, (a, b) in enumerate(pairs):
        d = draw(delays)
        links += [Link(f"l{k}", f"n{a}", f"n{b}", 1e9, d), Link(f"l{k}", f"n{b}", f"n{a}", 1e9, d)]
    return Topology("random", [Node(f"n{i}", i + 1) for i in range(n)], links)


@settings(max_examples=60, deadline=None)
@given(topo=connected_topologies())
def test_diameters_match_networkx(topo: Topology) -> None:
    simple = nx.Graph()
    for link in topo.links:
        prev = simple.get_edge_data(link.src, link.dst)
        if prev is None or link.delay_s < prev["delay"]:
            simple.add_edge(link.src, link.dst, delay=link.delay_s)
    stats = topo.stats()
    assert stats.connected
    assert stats.diameter_hops == nx.diameter(simple)
    lengths = dict(nx.all_pairs_dijkstra_path_length(simple, weight="delay"))
    assert stats.diameter_s == pytest.approx(max(max(r.values()) for r in lengths.values()))
    assert stats.edge_connectivity == nx.edge_connectivity(simple)


def test_disconnected_has_no_diameter() -> None:
    nodes = [Node("a", 1), Node("b", 2), Node("c", 3)]
    links = [Link("ab", "a", "b", 1e9, 0.0), Link("ab", "b", "a", 1e9, 0.0)]
    stats = Topology("split", nodes, links).stats()
    assert not stats.connected and stats.diameter_hops is None and stats.diameter_s is None
    assert any("disconnected" in w for w in stats.warnings)
