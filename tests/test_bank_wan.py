"""The bundled bank WAN keeps the promises other areas rely on (names, uplinks, redundancy)."""

from __future__ import annotations

import networkx as nx

from controller.topology import Topology
from topologies.loader import load

BRANCHES = [f"BR{i}" for i in range(1, 7)]
MEDIA = {"private-line", "mpls-vpn", "internet"}


def _simple(topo: Topology) -> nx.MultiGraph:
    graph = nx.MultiGraph()
    graph.add_nodes_from(topo.nodes)
    for lid, directed in topo.physical_links().items():
        graph.add_edge(directed[0].src, directed[0].dst, key=lid)
    return graph


def test_names_other_areas_use() -> None:
    topo = load("bank-wan")
    assert {"DC1", "DC2", "HQ", *BRANCHES} <= set(topo.nodes)
    assert topo.node("DC1").role == topo.node("DC2").role == "dc"
    assert topo.node("HQ").role == "hq"
    assert all(n.has_coordinates for n in topo.nodes.values())
    assert topo.warnings == ()


def test_every_branch_has_three_uplinks_of_different_cost_and_latency() -> None:
    topo = load("bank-wan")
    for branch in BRANCHES:
        uplinks = topo.out_links(branch)
        assert len(uplinks) == 3
        assert {lk.medium for lk in uplinks} == MEDIA
        assert len({lk.igp_metric for lk in uplinks}) == 3
        assert len({lk.delay_s for lk in uplinks}) == 3
        assert all(lk.capacity_bps <= 1e9 for lk in uplinks)  # branch lines are Mbps
        assert all(lk.affinities == {lk.medium} for lk in uplinks)
        assert len({lk.dst for lk in uplinks}) == 3
        by_medium = {lk.medium: lk for lk in uplinks}
        assert (
            by_medium["private-line"].igp_metric
            < by_medium["mpls-vpn"].igp_metric
            < by_medium["internet"].igp_metric
        )
        assert by_medium["internet"].delay_s > by_medium["mpls-vpn"].delay_s


def test_redundancy_and_shared_risk() -> None:
    topo = load("bank-wan")
    stats = topo.stats()
    assert stats.connected and stats.edge_connectivity >= 2
    assert nx.edge_connectivity(_simple(topo)) >= 2
    dcdc = topo.links_between("DC1", "DC2")
    assert len(dcdc) == 2 and all(lk.capacity_bps >= 10e9 for lk in dcdc)
    assert set.intersection(*(set(lk.srlgs) for lk in dcdc))  # one conduit
    for dc in ("DC1", "DC2"):
        assert len(topo.links_between("HQ", dc)) == 2
    core = [lk for lk in topo.links if topo.nodes[lk.src].role == "core"]
    assert all(lk.capacity_bps >= 10e9 for lk in core if topo.nodes[lk.dst].role == "core")
    # losing any one DC keeps every branch connected to the other DC and to HQ
    for dc in ("DC1", "DC2"):
        graph = _simple(topo)
        graph.remove_node(dc)
        assert nx.is_connected(graph)


def test_dc_fabric_is_a_leaf_spine() -> None:
    topo = load("dc-fabric")
    spines = [n for n in topo.nodes.values() if n.role == "spine"]
    others = [n for n in topo.nodes.values() if n.role != "spine"]
    assert len(spines) == 2 and len(others) == 4
    for node in others:
        assert {lk.dst for lk in topo.out_links(node.name)} == {s.name for s in spines}
    assert topo.stats().edge_connectivity == 2
