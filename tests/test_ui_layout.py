"""Where the console draws routers (controller.api_ui_layout) and what its topology doc holds."""

from __future__ import annotations

import itertools
import math
from dataclasses import replace

import pytest

from controller.api_ui_layout import WIDTH, layout
from controller.api_ui_view import topology_doc
from controller.topology import Topology
from topologies.loader import load


def closest(points: dict[str, tuple[float, float]]) -> float:
    return min(math.dist(a, b) for a, b in itertools.combinations(points.values(), 2))


def inside(topology: Topology) -> dict[str, tuple[float, float]]:
    drawn = layout(topology)
    assert set(drawn.points) == set(topology.nodes)
    for x, y in drawn.points.values():
        assert 0 <= x <= drawn.width and 0 <= y <= drawn.height
    return drawn.points


def test_bank_wan_is_drawn_by_its_coordinates_with_beijing_pulled_apart() -> None:
    p = inside(load("bank-wan"))
    assert p["P-GZ"][1] > p["P-WH"][1] > p["DC1"][1]  # south is down: Guangzhou, Wuhan, Beijing
    assert p["BR4"][0] < p["P-WH"][0] < p["P-SH"][0]  # west is left: Chengdu, Wuhan, Shanghai
    assert closest(p) > 0.02 * WIDTH  # the seven Beijing routers (0.2 degrees apart) separate


def without_coordinates(topology: Topology, names: set[str]) -> Topology:
    nodes = [
        replace(n, lat=None, lon=None) if n.name in names else n for n in topology.nodes.values()
    ]
    return Topology(topology.name, nodes, list(topology.links))


@pytest.mark.parametrize("missing", [set(), {"BR4", "P-GZ"}, None])
def test_every_router_gets_a_distinct_place_inside_the_drawing(missing: set[str] | None) -> None:
    """All coordinates; some missing (placed around the others, which keep theirs); none."""
    bank = load("bank-wan")
    topo = without_coordinates(bank, set(bank.nodes) if missing is None else missing)
    points = inside(topo)
    assert closest(points) > 0.005 * WIDTH
    if missing:  # the routers that have coordinates keep their geography
        assert points["P-SH"][0] > points["P-WH"][0] and points["P-SH"][1] > points["DC1"][1]


def test_the_topology_doc_has_one_entry_per_physical_link() -> None:
    topo = load("bank-wan")
    doc = topology_doc(topo, layout(topo))
    assert len(doc["links"]) == len(topo.physical_links())
    parallel = [lk for lk in doc["links"] if {lk["a"], lk["b"]} == {"DC1", "DC2"}]
    assert sorted(lk["id"] for lk in parallel) == ["DC1-DC2-a", "DC1-DC2-b"]
    assert {n["name"] for n in doc["nodes"]} == set(topo.nodes)
