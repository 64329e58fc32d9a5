"""Disjoint pairs against brute force: nothing shared that must not be, minimum total cost."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st
from pathing_graphs import simple_link_paths, small_topologies

from controller.pathing.disjoint import disjoint_pair
from controller.pathing.graph import PathGraph
from controller.pathing.types import PathRequest
from controller.topology import Link, Node, Topology


def _disjoint(a: list[Link], b: list[Link], mode: str) -> bool:
    if {x.id for x in a} & {y.id for y in b}:
        return False
    if mode == "node" and {x.dst for x in a[:-1]} & {y.dst for y in b[:-1]}:
        return False
    return not (
        mode == "srlg" and set().union(*(x.srlgs for x in a)) & set().union(*(y.srlgs for y in b))
    )


def _cost(links: list[Link]) -> int:
    return sum(lk.igp_metric for lk in links)


@settings(max_examples=80, deadline=None)
@given(data=st.data(), mode=st.sampled_from(["link", "node", "srlg"]))
def test_disjoint_pair_is_minimum_cost_or_most_disjoint(data: st.DataObject, mode: str) -> None:
    topo = data.draw(small_topologies(parallel=mode != "srlg"))
    names = sorted(topo.nodes)
    src, dst = data.draw(st.lists(st.sampled_from(names), min_size=2, max_size=2, unique=True))
    paths = list(simple_link_paths(topo, src, dst))
    if not paths:
        return
    req = PathRequest("r", src, dst, disjoint=mode)  # type: ignore[arg-type]
    pair = disjoint_pair(PathGraph.of(topo), req, mode)  # type: ignore[arg-type]
    got = [[topo.link(k) for k in p.links] for p in (pair.primary, pair.backup)]
    for p in got:
        assert p[0].src == src and p[-1].dst == dst
    best = min(
        (_cost(a) + _cost(b) for a, b in itertools.combinations(paths, 2) if _disjoint(a, b, mode)),
        default=None,
    )
    if best is None:
        assert pair.shared_risks, "no disjoint pair exists, so risks must be listed"
        return
    assert not pair.shared_risks
    assert _disjoint(got[0], got[1], mode)
    assert _cost(got[0]) + _cost(got[1]) == best


def _trap() -> Topology:
    """The classic trap: the shortest path A-B-C-D blocks any disjoint partner; A-B-D + A-C-D."""
    nodes = [Node(name=n, index=i + 1) for i, n in enumerate("ABCD")]
    spec = [
        ("A", "B", 1, "x"),
        ("B", "C", 1, "y"),
        ("C", "D", 1, "z"),
        ("A", "C", 3, "x"),
        ("B", "D", 3, "w"),
    ]
    links = []
    for a, b, m, srlg in spec:
        for s, d in ((a, b), (b, a)):
            links.append(
                Link(
                    id=f"{a}{b}",
                    src=s,
                    dst=d,
                    capacity_bps=1e9,
                    delay_s=1e-3,
                    igp_metric=m,
                    srlgs=frozenset({srlg}),
                )
            )
    return Topology("trap", nodes, links)


def test_suurballe_escapes_the_shortest_path_trap() -> None:
    pair = disjoint_pair(PathGraph.of(_trap()), PathRequest("r", "A", "D"), "link")
    assert {pair.primary.nodes, pair.backup.nodes} == {("A", "B", "D"), ("A", "C", "D")}
    assert pair.primary.cost + pair.backup.cost == 8
    assert pair.shared_risks == ()


def test_srlg_sharing_is_listed_when_unavoidable() -> None:
    pair = disjoint_pair(PathGraph.of(_trap()), PathRequest("r", "A", "D"), "srlg")
    assert pair.shared_risks == ("srlg x",)


def test_node_disjoint_reports_the_shared_cut_node() -> None:
    nodes = [Node(name=n, index=i + 1) for i, n in enumerate("ABCDE")]
    links = []
    for a, b in [("A", "B"), ("A", "C"), ("B", "D"), ("C", "D"), ("D", "E")]:
        for s, d in ((a, b), (b, a)):
            links.append(Link(id=f"{a}{b}", src=s, dst=d, capacity_bps=1e9, delay_s=1e-3))
    links += [
        Link(id="DE2", src=s, dst=d, capacity_bps=1e9, delay_s=1e-3)
        for s, d in (("D", "E"), ("E", "D"))
    ]
    pair = disjoint_pair(
        PathGraph.of(Topology("cut", nodes, links)), PathRequest("r", "A", "E"), "node"
    )
    assert pair.shared_risks == ("node D",)
    assert pair.primary.nodes[2] == "D" and pair.backup.nodes[2] == "D"
    assert pair.primary.links != pair.backup.links
