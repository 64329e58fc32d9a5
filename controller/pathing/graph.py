"""A compact, read-only index of a Topology for fast path searches.

Nodes become integers 0..n-1 and directed links integers 0..m-1; per-link figures live in lists
so the searches in this package (Dijkstra, label setting, Suurballe) run in plain Python without
networkx overhead. Only links that are up are indexed.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from controller.pathing.types import Objective, Path
from controller.topology import Link, LinkKey, Topology

Weight = Callable[[int], float]


@dataclass(frozen=True, eq=False)
class PathGraph:
    """Integer-indexed view of the up links of a topology."""

    topology: Topology
    names: tuple[str, ...]
    index: dict[str, int]
    links: tuple[Link, ...]
    out: tuple[tuple[int, ...], ...]
    """out[u] = indices of links leaving node u."""
    inc: tuple[tuple[int, ...], ...]
    """inc[v] = indices of links entering node v."""
    src: tuple[int, ...]
    dst: tuple[int, ...]
    delay: tuple[float, ...]
    capacity: tuple[float, ...]
    link_index: dict[LinkKey, int] = field(default_factory=dict)
    _weights: dict[str, tuple[float, ...]] = field(default_factory=dict, repr=False)
    _trees: dict[tuple[int, str], list[int]] = field(default_factory=dict, repr=False)
    memo: dict[tuple[object, ...], object] = field(default_factory=dict, repr=False)
    """Derived structures other modules build once per graph (e.g. residual networks)."""

    @classmethod
    def of(cls, topology: Topology) -> PathGraph:
        names = tuple(topology.nodes)
        index = {name: i for i, name in enumerate(names)}
        links = tuple(topology.up_links())
        out: list[list[int]] = [[] for _ in names]
        inc: list[list[int]] = [[] for _ in names]
        for e, link in enumerate(links):
            out[index[link.src]].append(e)
            inc[index[link.dst]].append(e)
        return cls(
            topology=topology,
            names=names,
            index=index,
            links=links,
            out=tuple(tuple(x) for x in out),
            inc=tuple(tuple(x) for x in inc),
            src=tuple(index[lk.src] for lk in links),
            dst=tuple(index[lk.dst] for lk in links),
            delay=tuple(lk.delay_s for lk in links),
            capacity=tuple(lk.capacity_bps for lk in links),
            link_index={lk.key: e for e, lk in enumerate(links)},
        )

    def weights(self, objective: Objective) -> tuple[float, ...]:
        """Per-link cost for an objective: IGP metric, TE metric, delay (s) or 1 per hop."""
        cached = self._weights.get(objective)
        if cached is None:
            cached = self._weights[objective] = self._compute_weights(objective)
        return cached

    def _compute_weights(self, objective: Objective) -> tuple[float, ...]:
        if objective == "igp":
            return tuple(float(lk.igp_metric) for lk in self.links)
        if objective == "te":
            return tuple(float(lk.te_metric) for lk in self.links)
        if objective == "latency":
            return self.delay
        return tuple(1.0 for _ in self.links)

    def tree(self, source: int, objective: Objective) -> list[int]:
        """Predecessor links of the unconstrained shortest-path tree from `source` (memoised)."""
        key = (source, objective)
        cached = self._trees.get(key)
        if cached is None:
            cached = self._trees[key] = dijkstra(self, source, self.weights(objective))[1]
        return cached

    def make_path(self, link_ids: Sequence[int], cost: float | None = None) -> Path:
        """A `Path` from link indices; `cost` defaults to the sum of IGP metrics."""
        if not link_ids:
            raise ValueError("a path needs at least one link")
        links = [self.links[e] for e in link_ids]
        nodes = (links[0].src, *(lk.dst for lk in links))
        total = float(sum(lk.igp_metric for lk in links)) if cost is None else cost
        return Path(
            nodes=nodes,
            links=tuple(lk.key for lk in links),
            latency_s=sum(lk.delay_s for lk in links),
            cost=total,
        )


def dijkstra(
    graph: PathGraph,
    source: int,
    weight: Sequence[float],
    *,
    allowed: Sequence[bool] | None = None,
    target: int | None = None,
    reverse: bool = False,
) -> tuple[list[float], list[int]]:
    """Shortest distances and predecessor links from `source` (to it, with `reverse`).

    Ties are broken by fewer hops so that zero-weight links never create loops. `allowed[e]`
    false removes link e. Stops early once `target` is settled.
    """
    n = len(graph.names)
    inf = float("inf")
    dist = [inf] * n
    hops = [0] * n
    pred = [-1] * n
    dist[source] = 0.0
    heap: list[tuple[float, int, int]] = [(0.0, 0, source)]
    adjacency = graph.inc if reverse else graph.out
    ends = graph.src if reverse else graph.dst
    done = [False] * n
    while heap:
        d, h, u = heapq.heappop(heap)
        if done[u]:
            continue
        done[u] = True
        if u == target:
            break
        for e in adjacency[u]:
            if allowed is not None and not allowed[e]:
                continue
            v = ends[e]
            nd = d + weight[e]
            if nd < dist[v] or (nd == dist[v] and h + 1 < hops[v] and not done[v]):
                dist[v], hops[v], pred[v] = nd, h + 1, e
                heapq.heappush(heap, (nd, h + 1, v))
    return dist, pred


def walk_back(graph: PathGraph, pred: Sequence[int], source: int, target: int) -> list[int]:
    """Link indices from `source` to `target` following forward predecessors."""
    links: list[int] = []
    node = target
    while node != source:
        e = pred[node]
        if e < 0:
            return []
        links.append(e)
        node = graph.src[e]
    links.reverse()
    return links


def walk_forward(graph: PathGraph, succ: Sequence[int], source: int, target: int) -> list[int]:
    """Link indices from `source` to `target` following reverse-search successors."""
    links: list[int] = []
    node = source
    while node != target:
        e = succ[node]
        if e < 0:
            return []
        links.append(e)
        node = graph.dst[e]
    return links
