"""IGP shortest paths with ECMP, and SRv6 segment lists expanded through them.

`LinkIndex` numbers routers and directed links once. `IgpRouting` holds all-pairs IGP distances
(scipy's Dijkstra over the links that are up, metric = `Link.igp_metric`) and answers "what
fraction of traffic entering at u for d crosses each link", splitting equally over every
equal-cost outgoing link (parallel links count separately), as routers do with per-flow hashing
over many flows. Each crossed link also gets a level (hops from the start) so that the flow
solver knows which links come first on a path.
"""

from __future__ import annotations

import heapq
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from controller.topology import Link, LinkKey, Topology

Hop = tuple[int, float, int]
"""(link index, fraction of the flow, level)."""


@dataclass
class LinkIndex:
    """Routers and directed links as integers, with per-link arrays."""

    topology: Topology
    nodes: list[str] = field(init=False)
    node_idx: dict[str, int] = field(init=False)
    links: list[Link] = field(init=False)
    link_idx: dict[LinkKey, int] = field(init=False)
    src: np.ndarray = field(init=False)
    dst: np.ndarray = field(init=False)
    capacity: np.ndarray = field(init=False)
    delay: np.ndarray = field(init=False)
    metric: np.ndarray = field(init=False)
    out_links: list[list[int]] = field(init=False)

    def __post_init__(self) -> None:
        topo = self.topology
        self.nodes = sorted(topo.nodes, key=lambda n: topo.nodes[n].index)
        self.node_idx = {n: i for i, n in enumerate(self.nodes)}
        self.links = sorted(topo.links, key=lambda lk: (self.node_idx[lk.src], lk.dst, lk.id))
        self.link_idx = {lk.key: i for i, lk in enumerate(self.links)}
        self.src = np.array([self.node_idx[lk.src] for lk in self.links], dtype=np.int64)
        self.dst = np.array([self.node_idx[lk.dst] for lk in self.links], dtype=np.int64)
        self.capacity = np.array([lk.capacity_bps for lk in self.links], dtype=float)
        self.delay = np.array([lk.delay_s for lk in self.links], dtype=float)
        self.metric = np.array([lk.igp_metric for lk in self.links], dtype=float)
        self.out_links = [[] for _ in self.nodes]
        for i, s in enumerate(self.src):
            self.out_links[int(s)].append(i)
        self.sids = _sid_table(topo, self)

    @property
    def n_nodes(self) -> int:
        return len(self.nodes)

    @property
    def n_links(self) -> int:
        return len(self.links)

    def links_of_id(self, link_id: str) -> list[int]:
        return [i for i, lk in enumerate(self.links) if lk.id == link_id]


Segment = tuple[int, int | None]
"""(node index to reach, then this link index for an adjacency SID, or None for a node SID)."""


def _sid_table(topo: Topology, index: LinkIndex) -> dict[int, Segment]:
    table: dict[int, Segment] = {}
    for name, node in topo.nodes.items():
        table[int(ipaddress.IPv6Address(node.node_sid))] = (index.node_idx[name], None)
    for i, link in enumerate(index.links):
        sid = int(ipaddress.IPv6Address(topo.adjacency_sid(link)))
        table[sid] = (index.node_idx[link.src], i)
    return table


def parse_sid(index: LinkIndex, sid: str) -> Segment | None:
    """The segment a SID stands for, or None if no router owns it."""
    try:
        value = int(ipaddress.IPv6Address(sid))
    except ValueError:
        return None
    return index.sids.get(value)


class IgpRouting:
    """Shortest-path ECMP routing over the links marked up in `up` (and nodes in `node_up`)."""

    def __init__(self, index: LinkIndex, up: np.ndarray, node_up: np.ndarray | None = None):
        self.index = index
        self.up = up.copy()
        if node_up is not None:
            self.up &= node_up[index.src] & node_up[index.dst]
        n = index.n_nodes
        live = np.flatnonzero(self.up)
        weights: dict[tuple[int, int], float] = {}
        for i in live:
            key = (int(index.src[i]), int(index.dst[i]))
            weights[key] = min(weights.get(key, np.inf), float(index.metric[i]))
        rows = np.array([k[0] for k in weights], dtype=np.int64)
        cols = np.array([k[1] for k in weights], dtype=np.int64)
        graph = csr_matrix((np.array(list(weights.values())), (rows, cols)), shape=(n, n))
        self.dist: np.ndarray = dijkstra(graph, directed=True)
        self._nh: dict[tuple[int, int], list[int]] = {}

    def reachable(self, u: int, d: int) -> bool:
        return bool(np.isfinite(self.dist[u, d]))

    def next_hops(self, u: int, d: int) -> list[int]:
        key = (u, d)
        cached = self._nh.get(key)
        if cached is None:
            idx, target = self.index, self.dist[u, d]
            cached = [
                lk
                for lk in idx.out_links[u]
                if self.up[lk] and idx.metric[lk] + self.dist[idx.dst[lk], d] == target
            ]
            self._nh[key] = cached
        return cached

    def spread(self, u: int, d: int, level0: int = 0) -> tuple[list[Hop], int]:
        """Hops of traffic entering at u for d, and the last level used. Empty if u == d."""
        if u == d or not self.reachable(u, d):
            return [], level0
        amount: dict[int, float] = {u: 1.0}
        level: dict[int, int] = {u: level0}
        heap = [(-self.dist[u, d], u)]
        hops: list[Hop] = []
        last = level0
        while heap:
            _, v = heapq.heappop(heap)
            a = amount.pop(v)
            if v == d:
                continue
            nhs = self.next_hops(v, d)
            share = a / len(nhs)
            for lk in nhs:
                w = int(self.index.dst[lk])
                lvl = level[v] + 1
                hops.append((lk, share, lvl))
                last = max(last, lvl)
                if w not in amount:
                    amount[w] = 0.0
                    level[w] = lvl
                    heapq.heappush(heap, (-self.dist[w, d], w))
                amount[w] += share
                level[w] = max(level[w], lvl)
        return hops, last

    def path_hops(self, s: int, segments: Sequence[Segment], d: int) -> list[Hop] | None:
        """Hops of traffic from s through `segments` then on to d; None if a segment is broken."""
        hops: list[Hop] = []
        at, level = s, 0
        for node, adj in segments:
            if not self.reachable(at, node):
                return None
            part, level = self.spread(at, node, level)
            hops += part
            at = node
            if adj is not None:
                if not self.up[adj]:
                    return None
                level += 1
                hops.append((adj, 1.0, level))
                at = int(self.index.dst[adj])
        if not self.reachable(at, d):
            return None
        part, _ = self.spread(at, d, level)
        return hops + part
