"""Generated topologies have the shape their names promise."""

from __future__ import annotations

from dataclasses import replace

import networkx as nx
import pytest

from topologies.generators import fat_tree, grid, leaf_spine, ring
from topologies.loader import load


def _simple(topo_name: str) -> nx.Graph:
    topo = load(topo_name)
    graph = nx.Graph()
    graph.add_nodes_from(topo.nodes)
    graph.add_edges_from((lk.src, lk.dst) for lk in topo.links)
    return graph


@pytest.mark.parametrize(("spines", "leaves"), [(1, 1), (2, 4), (4, 16)])
def test_leaf_spine(spines: int, leaves: int) -> None:
    topo = leaf_spine(spines, leaves)
    assert len(topo.nodes) == spines + leaves
    assert len(topo.physical_links()) == spines * leaves
    for node in topo.nodes.values():
        peers = {lk.dst for lk in topo.out_links(node.name)}
        other = "leaf" if node.role == "spine" else "spine"
        assert {topo.nodes[p].role for p in peers} == {other}
        assert len(peers) == (leaves if node.role == "spine" else spines)
    assert topo.stats().edge_connectivity == min(spines, leaves)


@pytest.mark.parametrize("k", [2, 4, 6])
def test_fat_tree(k: int) -> None:
    topo = fat_tree(k)
    roles = [n.role for n in topo.nodes.values()]
    assert roles.count("core") == (k // 2) ** 2
    assert roles.count("agg") == roles.count("edge") == k * k // 2
    assert len(topo.physical_links()) == k**3 // 2  # k^3/4 edge-agg + k^3/4 agg-core
    degree = {n: len(topo.out_links(n)) for n in topo.nodes}
    assert all(degree[n.name] == k for n in topo.nodes.values() if n.role in ("core", "agg"))
    assert all(degree[n.name] == k // 2 for n in topo.nodes.values() if n.role == "edge")
    assert topo.stats().diameter_hops == 4  # edge-agg-core-agg-edge


def test_ring_and_grid_shapes() -> None:
    assert nx.is_isomorphic(_simple("ring:7"), nx.cycle_graph(7))
    assert nx.is_isomorphic(_simple("grid:3,4"), nx.grid_2d_graph(3, 4))
    assert ring(5).stats().diameter_s == pytest.approx(2e-3)
    assert grid(1, 2).stats().nodes == 2


def test_generated_topologies_are_valid_and_symmetric() -> None:
    for spec in ("leaf-spine:3,5", "fat-tree:4", "ring:4", "grid:2,2"):
        topo = load(spec)
        assert topo.warnings == ()
        assert sorted(n.index for n in topo.nodes.values()) == list(range(1, len(topo.nodes) + 1))
        assert all(topo.reverse(lk) == replace(lk, src=lk.dst, dst=lk.src) for lk in topo.links)
