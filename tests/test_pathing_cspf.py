"""CSPF against brute force on generated graphs, and its explanations when no path exists."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pathing_graphs import AFFINITIES, SRLGS, simple_link_paths, small_topologies

from controller.errors import PathError
from controller.pathing.cspf import compute_path, link_allowed
from controller.pathing.types import PathRequest
from controller.topology import Link, Node, Topology


def _objective_cost(link: Link, objective: str) -> float:
    return {
        "igp": link.igp_metric,
        "te": link.te_metric,
        "latency": link.delay_s,
        "hops": 1.0,
    }[objective]


@st.composite
def requests(draw: st.DrawFn, topo: Topology) -> PathRequest:
    names = sorted(topo.nodes)
    src, dst = draw(st.lists(st.sampled_from(names), min_size=2, max_size=2, unique=True))
    others = [n for n in names if n not in (src, dst)]
    return PathRequest(
        name="r",
        src=src,
        dst=dst,
        bandwidth_bps=draw(st.sampled_from([0.0, 5e8, 2e9])),
        max_latency_s=draw(st.none() | st.integers(2, 20).map(lambda x: x * 1e-3)),
        max_hops=draw(st.none() | st.integers(1, 4)),
        include_any=frozenset(draw(st.sets(st.sampled_from(AFFINITIES), max_size=1))),
        include_all=frozenset(draw(st.sets(st.sampled_from(AFFINITIES), max_size=1))),
        exclude_any=frozenset(draw(st.sets(st.sampled_from(AFFINITIES), max_size=1))),
        exclude_nodes=frozenset(draw(st.sets(st.sampled_from(others), max_size=1)))
        if others
        else frozenset(),
        exclude_srlgs=frozenset(draw(st.sets(st.sampled_from(SRLGS), max_size=1))),
        exclude_links=frozenset(
            draw(st.sets(st.sampled_from(sorted({lk.id for lk in topo.links})), max_size=1))
        ),
        objective=draw(st.sampled_from(["igp", "te", "latency", "hops"])),
    )


def _feasible(links: list[Link], req: PathRequest) -> bool:
    if req.max_hops is not None and len(links) > req.max_hops:
        return False
    if (
        req.max_latency_s is not None
        and sum(lk.delay_s for lk in links) > req.max_latency_s + 1e-12
    ):
        return False
    return all(link_allowed(lk, req) and lk.capacity_bps >= req.bandwidth_bps for lk in links)


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_cspf_is_optimal_among_all_simple_paths(data: st.DataObject) -> None:
    topo = data.draw(small_topologies(parallel=True))
    req = data.draw(requests(topo))
    feasible = [p for p in simple_link_paths(topo, req.src, req.dst) if _feasible(p, req)]
    if not feasible:
        with pytest.raises(PathError):
            compute_path(topo, req)
        return
    best = min(sum(_objective_cost(lk, req.objective) for lk in p) for p in feasible)
    path = compute_path(topo, req)
    links = [topo.link(k) for k in path.links]
    assert _feasible(links, req)
    assert path.nodes[0] == req.src and path.nodes[-1] == req.dst
    assert len(set(path.nodes)) == len(path.nodes)
    assert path.cost == pytest.approx(best)


def _line() -> Topology:
    """A-B-D fast but 7.3 ms; A-C-D 9 ms; A-E-D 3 ms but narrow and red."""
    nodes = [Node(name=n, index=i + 1) for i, n in enumerate("ABCDE")]
    spec = [
        ("A", "B", 3.3e-3, 1, 10e9, frozenset()),
        ("B", "D", 4e-3, 1, 10e9, frozenset()),
        ("A", "C", 4e-3, 5, 10e9, frozenset()),
        ("C", "D", 5e-3, 5, 10e9, frozenset()),
        ("A", "E", 1e-3, 9, 1e9, frozenset({"red"})),
        ("E", "D", 2e-3, 9, 1e9, frozenset({"red"})),
    ]
    links = []
    for a, b, delay, metric, cap, aff in spec:
        for s, d in ((a, b), (b, a)):
            links.append(
                Link(
                    id=f"{a}{b}",
                    src=s,
                    dst=d,
                    capacity_bps=cap,
                    delay_s=delay,
                    igp_metric=metric,
                    affinities=aff,
                )
            )
    return Topology("line", nodes, links)


def test_latency_bound_picks_the_cheapest_path_that_meets_it() -> None:
    topo = _line()
    assert compute_path(topo, PathRequest("r", "A", "D")).nodes == ("A", "B", "D")
    bounded = compute_path(topo, PathRequest("r", "A", "D", max_latency_s=5e-3))
    assert bounded.nodes == ("A", "E", "D")
    assert bounded.latency_s == pytest.approx(3e-3)


def test_infeasible_latency_names_the_best_latency_and_path() -> None:
    req = PathRequest("r", "A", "D", max_latency_s=5e-3, exclude_any=frozenset({"red"}))
    with pytest.raises(
        PathError, match=r"no path from A to D within 5 ms: best is 7.3 ms via A-B-D"
    ):
        compute_path(_line(), req)


def test_infeasible_bandwidth_and_exclusions_are_named() -> None:
    topo = _line()
    with pytest.raises(PathError, match=r"with 2 Gbps available"):
        compute_path(
            topo, PathRequest("r", "A", "D", bandwidth_bps=2e9, include_any=frozenset({"red"}))
        )
    with pytest.raises(PathError, match="avoiding the excluded"):
        compute_path(topo, PathRequest("r", "A", "D", exclude_nodes=frozenset({"B", "C", "E"})))
    with pytest.raises(PathError, match="within 1 hops: fewest is 2"):
        compute_path(topo, PathRequest("r", "A", "D", max_hops=1))
    with pytest.raises(PathError, match="endpoint 'A' is in the excluded nodes"):
        compute_path(topo, PathRequest("r", "A", "D", exclude_nodes=frozenset({"A"})))


def test_residual_bandwidth_steers_around_full_links() -> None:
    topo = _line()
    residual = {("A", "B", "AB"): 1e8}
    path = compute_path(topo, PathRequest("r", "A", "D", bandwidth_bps=5e8), residual)
    assert path.nodes == ("A", "C", "D")
