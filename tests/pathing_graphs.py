"""Small generated topologies and brute-force path enumeration for the pathing tests."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import networkx as nx
from hypothesis import strategies as st

from controller.topology import Link, LinkKey, Node, Topology

AFFINITIES = ("red", "blue", "gold")
SRLGS = ("s1", "s2", "s3")


@st.composite
def small_topologies(draw: st.DrawFn, max_nodes: int = 6, parallel: bool = False) -> Topology:
    """Random connected-ish graphs; both directions of a link share id, metrics may differ."""
    n = draw(st.integers(3, max_nodes))
    names = [chr(ord("A") + i) for i in range(n)]
    pairs = list(itertools.combinations(names, 2))
    chosen = draw(
        st.lists(st.sampled_from(pairs), min_size=n - 1, max_size=len(pairs), unique=True)
    )
    links: list[Link] = []
    for k, (a, b) in enumerate(chosen):
        copies = draw(st.integers(1, 2)) if parallel else 1
        for c in range(copies):
            srlgs = frozenset(draw(st.sets(st.sampled_from(SRLGS), max_size=1)))
            affinities = frozenset(draw(st.sets(st.sampled_from(AFFINITIES), max_size=2)))
            cap = draw(st.sampled_from([1e9, 10e9]))
            for src, dst in ((a, b), (b, a)):
                links.append(
                    Link(
                        id=f"L{k}.{c}",
                        src=src,
                        dst=dst,
                        capacity_bps=cap,
                        delay_s=draw(st.integers(1, 9)) * 1e-3,
                        igp_metric=draw(st.integers(1, 6)),
                        te_metric=draw(st.integers(1, 6)),
                        affinities=affinities,
                        srlgs=srlgs,
                    )
                )
    nodes = [Node(name=x, index=i + 1) for i, x in enumerate(names)]
    return Topology("gen", nodes, links)


def simple_link_paths(topo: Topology, src: str, dst: str) -> Iterator[list[Link]]:
    """Every loop-free path src -> dst over up links (parallel links distinguished)."""
    graph = topo.up_graph()
    for edge_path in nx.all_simple_edge_paths(graph, src, dst):
        yield [graph.edges[u, v, k]["link"] for u, v, k in edge_path]


def keys(links: list[Link]) -> tuple[LinkKey, ...]:
    return tuple(lk.key for lk in links)
