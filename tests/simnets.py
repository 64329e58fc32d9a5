"""Small hand-built topologies for simulator and telemetry tests."""

from __future__ import annotations

import numpy as np

from controller.topology import Link, Node, Topology
from harness.classes import ClassTable
from harness.routing import LinkIndex
from harness.traffic import Flows, StaticTraffic


def topo(name: str, edges: list[tuple[str, str, float, float, int]]) -> Topology:
    """Bidirectional links (a, b, capacity bit/s, delay s, igp metric); link id 'a-b'."""
    names = sorted({e[0] for e in edges} | {e[1] for e in edges})
    nodes = [Node(n, i + 1) for i, n in enumerate(names)]
    links = []
    for a, b, cap, delay, metric in edges:
        links.append(Link(f"{a}-{b}", a, b, cap, delay, igp_metric=metric))
        links.append(Link(f"{a}-{b}", b, a, cap, delay, igp_metric=metric))
    return Topology(name, nodes, links)


def static(index: LinkIndex, flows: list[tuple[str, str, str, float]]) -> StaticTraffic:
    """Flows (src, dst, class, bit/s) as constant traffic."""
    classes = ClassTable()
    ids = index.node_idx
    return StaticTraffic(
        Flows(
            src=np.array([ids[f[0]] for f in flows]),
            dst=np.array([ids[f[1]] for f in flows]),
            cls=np.array([classes.index(f[2]) for f in flows]),
        ),
        np.array([f[3] for f in flows], dtype=float),
    )


LINE = [("a", "b", 10e9, 1e-3, 10), ("b", "c", 10e9, 1e-3, 10)]
DIAMOND = [
    ("a", "b", 10e9, 1e-3, 10),
    ("a", "c", 10e9, 2e-3, 10),
    ("b", "d", 10e9, 1e-3, 10),
    ("c", "d", 10e9, 2e-3, 10),
]
