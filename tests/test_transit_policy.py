"""Transit policy: no computed path crosses a non-transit router (hypothesis over random
topologies, transit flags, exclusions and failures), checked against brute force."""

from __future__ import annotations

import itertools
from dataclasses import replace

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pathing_graphs import simple_link_paths, small_topologies

from controller.errors import PathError, ValidationError
from controller.pathing.cspf import compute_path
from controller.pathing.disjoint import disjoint_pair
from controller.pathing.graph import PathGraph
from controller.pathing.optimizer import k_shortest_tunnels, min_mlu_lp
from controller.pathing.placement import place
from controller.pathing.reopt import reoptimize
from controller.pathing.types import Disjointness, Path, PathRequest
from controller.topology import Link, LinkState, Topology, transit_cut

SETTINGS = settings(max_examples=60, deadline=None)


@st.composite
def policed(draw: st.DrawFn, max_nodes: int = 6) -> Topology:
    """A small random topology whose routers are randomly transit or not, some links down."""
    topo = draw(small_topologies(max_nodes=max_nodes))
    flags = draw(st.lists(st.booleans(), min_size=len(topo.nodes), max_size=len(topo.nodes)))
    nodes = [replace(n, transit=f) for n, f in zip(topo.nodes.values(), flags, strict=True)]
    ids = sorted(topo.physical_links())
    down = draw(st.sets(st.sampled_from(ids), max_size=2))
    links = [replace(lk, state=LinkState.DOWN) if lk.id in down else lk for lk in topo.links]
    return Topology(topo.name, nodes, links)


def crossed(topo: Topology, nodes: tuple[str, ...] | list[str]) -> list[str]:
    return [v for v in nodes[1:-1] if not topo.nodes[v].transit]


def legal(topo: Topology, links: list[Link], req: PathRequest) -> bool:
    inner = [lk.dst for lk in links[:-1]]
    if any(not topo.nodes[v].transit for v in inner):
        return False
    return not any(
        lk.id in req.exclude_links or lk.src in req.exclude_nodes or lk.dst in req.exclude_nodes
        for lk in links
    )


@st.composite
def requests(draw: st.DrawFn, topo: Topology) -> PathRequest:
    names = sorted(topo.nodes)
    src, dst = draw(st.permutations(names))[:2]
    others = [n for n in names if n not in (src, dst)]
    return PathRequest(
        name="r",
        src=src,
        dst=dst,
        exclude_nodes=frozenset(draw(st.sets(st.sampled_from(others), max_size=2)))
        if others
        else frozenset(),
        exclude_links=frozenset(
            draw(st.sets(st.sampled_from(sorted(topo.physical_links())), max_size=2))
        ),
        max_hops=draw(st.one_of(st.none(), st.integers(1, 4))),
        objective=draw(st.sampled_from(["igp", "te", "hops"])),
    )


@SETTINGS
@given(data=st.data())
def test_cspf_never_crosses_a_non_transit_router_and_stays_optimal(data: st.DataObject) -> None:
    topo = data.draw(policed())
    req = data.draw(requests(topo))
    graph = PathGraph.of(topo)
    weight = dict(zip((lk.key for lk in graph.links), graph.weights(req.objective), strict=True))
    bound = req.max_hops if req.max_hops is not None else 99
    costs = [
        sum(weight[lk.key] for lk in p)
        for p in simple_link_paths(topo, req.src, req.dst)
        if legal(topo, p, req) and len(p) <= bound
    ]
    if not costs:
        with pytest.raises(PathError):
            compute_path(graph, req)
        return
    path = compute_path(graph, req)
    assert crossed(topo, path.nodes) == []
    assert path.cost == pytest.approx(min(costs))


@SETTINGS
@given(data=st.data())
def test_disjoint_pairs_never_cross(data: st.DataObject) -> None:
    topo = data.draw(policed())
    req = data.draw(requests(topo))
    mode: Disjointness = data.draw(st.sampled_from(["link", "node", "srlg"]))
    graph = PathGraph.of(topo)
    legal_paths = [p for p in simple_link_paths(topo, req.src, req.dst) if legal(topo, p, req)]
    try:
        pair = disjoint_pair(graph, req, mode)
    except PathError:
        assert not any(  # no two legal paths that share no link
            not {lk.id for lk in a} & {lk.id for lk in b}
            for a, b in itertools.combinations(legal_paths, 2)
        )
        return
    for path in (pair.primary, pair.backup):
        assert crossed(topo, path.nodes) == []
        assert not set(path.nodes) & req.exclude_nodes


@SETTINGS
@given(data=st.data())
def test_k_shortest_tunnels_are_the_cheapest_legal_paths(data: st.DataObject) -> None:
    topo = data.draw(policed())
    req = data.draw(requests(topo))
    plain = replace(req, exclude_nodes=frozenset(), exclude_links=frozenset())
    costs = sorted(
        sum(lk.igp_metric for lk in p)
        for p in simple_link_paths(topo, req.src, req.dst)
        if legal(topo, p, plain)
    )
    if not costs:
        with pytest.raises(ValidationError):
            k_shortest_tunnels(topo, [(req.src, req.dst)], k=3)
        return
    ts = k_shortest_tunnels(topo, [(req.src, req.dst)], k=3)
    assert all(crossed(topo, p.nodes) == [] for p in ts.paths)
    assert [p.cost for p in ts.paths] == costs[:3]
    solution = min_mlu_lp(ts, np.array([1e6]))
    used = [p for p, share in zip(ts.paths, solution.split, strict=True) if share > 0]
    assert used and all(crossed(topo, p.nodes) == [] for p in used)


@SETTINGS
@given(data=st.data())
def test_placement_and_reoptimisation_after_failures_never_cross(data: st.DataObject) -> None:
    topo = data.draw(policed(max_nodes=7))
    reqs = [
        replace(
            data.draw(requests(topo)),
            name=f"r{i}",
            bandwidth_bps=data.draw(st.sampled_from([0.0, 4e8, 9e8])),
            setup_priority=p,
            hold_priority=p,
            disjoint=data.draw(st.sampled_from([None, "link", "node"])),
        )
        for i, p in enumerate(data.draw(st.lists(st.integers(0, 7), min_size=1, max_size=5)))
    ]
    result = place(topo, reqs)
    failed = data.draw(st.sampled_from(sorted(topo.physical_links())))
    after = topo.with_link_state(failed, LinkState.DOWN)
    again, _ = reoptimize(after, reqs, result.placed)
    for outcome in (result, again):
        for placement in outcome.placed.values():
            paths: list[Path] = [placement.primary]
            paths += [placement.backup] if placement.backup else []
            assert all(crossed(topo, p.nodes) == [] for p in paths)


def _brute_cut(topo: Topology) -> int:
    plain = topo.graph.to_undirected()
    transit = {n for n, node in topo.nodes.items() if node.transit}
    count = 0
    for a, b in itertools.combinations(sorted(topo.nodes), 2):
        if nx.has_path(plain, a, b) and not nx.has_path(plain.subgraph(transit | {a, b}), a, b):
            count += 1
    return count


@SETTINGS
@given(topo=policed(max_nodes=7))
def test_validate_counts_the_pairs_the_policy_disconnects(topo: Topology) -> None:
    expected = _brute_cut(topo)
    cut = transit_cut(topo)
    assert (0 if cut is None else cut[0]) == expected
    assert any("transit policy" in w for w in topo.warnings) == (expected > 0)
    if cut is not None:
        _, (a, b), via = cut
        assert via and all(not topo.nodes[v].transit for v in via)
        transit = {n for n, node in topo.nodes.items() if node.transit}
        plain = topo.graph.to_undirected()
        assert nx.has_path(plain, a, b)
        assert not nx.has_path(plain.subgraph(transit | {a, b}), a, b)
