"""SID lists: shortest encoding that reproduces the path exactly under IGP ECMP routing."""

from __future__ import annotations

import dataclasses
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pathing_data import dataset
from pathing_graphs import keys, simple_link_paths, small_topologies

from controller.errors import PathError
from controller.pathing.sids import IgpRouting, encode, expand, with_sids
from controller.pathing.types import Path
from controller.topology import Link, Node, Topology


def _as_path(links: list[Link]) -> Path:
    nodes = (links[0].src, *(lk.dst for lk in links))
    return Path(nodes, tuple(lk.key for lk in links), sum(lk.delay_s for lk in links), 0.0)


def _brute_force_min_sids(routing: IgpRouting, path: Path) -> int:
    """Fewest segments: try every split of the path into stretches (exponential, tiny paths)."""
    n = len(path.links)
    best = {0: 0}
    for j in range(1, n + 1):
        options = [best[j - 1] + 1]  # adjacency SID for hop j-1
        for i in range(j):
            stretch = Path(path.nodes[i : j + 1], path.links[i:j], 0.0, 0.0)
            sids = encode(routing, stretch)
            if len(sids) == 1 and sids[0] == routing.graph.topology.nodes[path.nodes[j]].node_sid:
                options.append(best[i] + 1)
        best[j] = min(options)
    return best[n]


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_round_trip_and_minimality_on_generated_graphs(data: st.DataObject) -> None:
    topo = data.draw(small_topologies(parallel=True))
    routing = IgpRouting.of(topo)
    names = sorted(topo.nodes)
    src, dst = data.draw(st.lists(st.sampled_from(names), min_size=2, max_size=2, unique=True))
    paths = list(simple_link_paths(topo, src, dst))
    if not paths:
        return
    path = _as_path(data.draw(st.sampled_from(paths)))
    sids = encode(routing, path)
    assert expand(routing, src, sids) == [path.links]
    assert len(sids) == _brute_force_min_sids(routing, path)


def test_round_trip_on_random_geant_paths() -> None:
    topo, ts, _ = dataset("geant")
    routing = IgpRouting.of(topo)
    rng = random.Random(7)
    for path in rng.sample(list(ts.paths), 80):
        sids = encode(routing, path)
        assert expand(routing, path.nodes[0], sids) == [path.links]
        assert 1 <= len(sids) <= path.hops


def _ecmp_square(depth: int = 10) -> Topology:
    """A-B-D and A-C-D both cost 2: ECMP; a longer A-E-F-D."""
    nodes = [Node(name=n, index=i + 1, max_sid_depth=depth) for i, n in enumerate("ABCDEF")]
    links = []
    for a, b, m in [
        ("A", "B", 1),
        ("B", "D", 1),
        ("A", "C", 1),
        ("C", "D", 1),
        ("A", "E", 20),
        ("E", "F", 5),
        ("F", "D", 5),
    ]:
        for s, d in ((a, b), (b, a)):
            links.append(
                Link(id=f"{a}{b}", src=s, dst=d, capacity_bps=1e9, delay_s=1e-3, igp_metric=m)
            )
    return Topology("ecmp", nodes, links)


def test_ecmp_needs_a_waypoint_and_long_detour_needs_adjacencies() -> None:
    topo = _ecmp_square()
    routing = IgpRouting.of(topo)
    via_b = _as_path([topo.link(("A", "B", "AB")), topo.link(("B", "D", "BD"))])
    sids = encode(routing, via_b)
    assert sids == (topo.nodes["B"].node_sid, topo.nodes["D"].node_sid)
    detour = _as_path(
        [topo.link(k) for k in [("A", "E", "AE"), ("E", "F", "EF"), ("F", "D", "FD")]]
    )
    sids = encode(routing, detour)
    assert sids[0] == topo.adjacency_sid(topo.link(("A", "E", "AE")))
    assert expand(routing, "A", sids) == [detour.links]
    # a bare node SID for D would spread over both ECMP paths
    assert len(expand(routing, "A", (topo.nodes["D"].node_sid,))) == 2


def test_max_sid_depth_is_honoured_with_a_clear_refusal() -> None:
    topo = _ecmp_square(depth=1)
    routing = IgpRouting.of(topo)
    via_b = _as_path([topo.link(("A", "B", "AB")), topo.link(("B", "D", "BD"))])
    with pytest.raises(PathError, match="needs 2 SIDs but head end A supports at most 1"):
        with_sids(routing, via_b)
    direct = _as_path([topo.link(("A", "B", "AB"))])
    assert with_sids(routing, direct).sids == (topo.nodes["B"].node_sid,)
    assert dataclasses.replace(direct, sids=()).sids == ()
    assert keys([topo.link(("A", "B", "AB"))]) == direct.links
