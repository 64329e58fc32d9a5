"""A compact, read-only index of a Topology for fast path searches.

Nodes become integers 0..n-1 and directed links integers 0..m-1; per-link figures live in lists
so the searches in this package (Dijkstra, label setting, Suurballe) run in plain Python without
networkx overhead. Only links that are up are indexed.

Transit policy lives here, once, for every search in this package: a router whose `transit` is
false may start or end a path but never be crossed by one. In searches (`dijkstra`, the label
search) a non-transit router other than the search's root is reached but never expanded; where
an algorithm works on link masks (disjoint pairs, Yen), `transit_array` removes the links that
would cross one: out of a non-transit router other than the source, into one other than the
destination. For simple paths the two forms are the same rule.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from controller.pathing.types import Objective, Path
from controller.topology import Link, LinkKey, Topology

Weight = Callable[[int], float]

TREE_SLOTS = 2_000_000
"""Memoised searches per graph are capped at about this many node entries (each holds five
lists over the nodes): on bank-wan:2000, 980 searches (about 80 MB). An evicted search is
simply run again when asked (same order, same tree)."""


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
    transit: tuple[bool, ...]
    """transit[u]: paths may cross node u (see the module docstring)."""
    link_index: dict[LinkKey, int] = field(default_factory=dict)
    _weights: dict[str, tuple[float, ...]] = field(default_factory=dict, repr=False)
    _trees: dict[tuple[int, str], Search] = field(default_factory=dict, repr=False)
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
            transit=tuple(bool(topology.nodes[name].transit) for name in names),
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

    def tree(self, source: int, objective: Objective, target: int | None = None) -> list[int]:
        """Predecessor links of the unconstrained shortest-path tree from `source` (memoised).

        With `target`, the tree is grown only until `target` is settled (later calls grow it
        further): the predecessors of settled nodes are final, so `walk_back` to `target` is."""
        search = self._search(source, objective)
        search.run(target)
        return search.pred

    def _search(self, root: int, objective: Objective, *, reverse: bool = False) -> Search:
        """The memoised unconstrained search from `root` (to it, with `reverse`)."""
        key = (root, objective) if not reverse else (~root, objective)
        search = self._trees.pop(key, None)
        if search is None:
            search = Search(self, root, self.weights(objective), reverse=reverse)
            if len(self._trees) >= max(64, TREE_SLOTS // max(1, len(self.names))):
                del self._trees[next(iter(self._trees))]  # least recently used
        self._trees[key] = search  # most recently used last
        return search

    def distances(
        self, root: int, objective: Objective, nodes: Iterable[int], *, reverse: bool = False
    ) -> list[float]:
        """Unconstrained distances from `root` (to it, with `reverse`), final at least for
        `nodes`, from a memoised search grown only as far as that needs."""
        search = self._search(root, objective, reverse=reverse)
        for node in nodes:
            search.run(node)
        return search.dist

    @property
    def all_transit(self) -> bool:
        """True when every node may be crossed (no transit policy to apply)."""
        cached = self.memo.get(("all-transit",))
        if cached is None:
            cached = self.memo[("all-transit",)] = all(self.transit)
        return bool(cached)

    def passable(self, e: int, src: int, dst: int) -> bool:
        """Whether link e may be on a path from `src` to `dst` under the transit policy."""
        u, v = self.src[e], self.dst[e]
        return (self.transit[u] or u == src) and (self.transit[v] or v == dst)

    def crossed_non_transit(self, link_ids: Sequence[int]) -> list[str]:
        """Non-transit nodes a path (link indices) crosses; empty when it is legal."""
        return [self.names[self.dst[e]] for e in link_ids[:-1] if not self.transit[self.dst[e]]]

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


def transit_array(graph: PathGraph, src: int, dst: int) -> np.ndarray:
    """Per link: may it be on a path from `src` to `dst` under the transit policy."""
    base = graph.memo.get(("transit-mask",))
    if not isinstance(base, np.ndarray):
        t = np.asarray(graph.transit, dtype=bool)
        base = graph.memo[("transit-mask",)] = t[list(graph.src)] & t[list(graph.dst)]
    mask = base.copy()
    for e in graph.out[src]:
        mask[e] = graph.transit[graph.dst[e]] or graph.dst[e] == dst
    for e in graph.inc[dst]:
        mask[e] = graph.transit[graph.src[e]] or graph.src[e] == src
    return mask


def with_transit(
    graph: PathGraph, allowed: Sequence[bool] | np.ndarray, src: int, dst: int
) -> list[bool]:
    """`allowed` and the transit policy for a path from `src` to `dst`."""
    ok = np.asarray(allowed, dtype=bool)
    if not graph.all_transit:
        ok = ok & transit_array(graph, src, dst)
    mask: list[bool] = ok.tolist()
    return mask


def dijkstra(
    graph: PathGraph,
    source: int,
    weight: Sequence[float],
    *,
    allowed: Sequence[bool] | None = None,
    target: int | None = None,
    reverse: bool = False,
    ignore_transit: bool = False,
) -> tuple[list[float], list[int]]:
    """Shortest distances and predecessor links from `source` (to it, with `reverse`).

    Ties are broken by fewer hops so that zero-weight links never create loops. `allowed[e]`
    false removes link e. Stops early once `target` is settled. Non-transit nodes other than
    `source` are reached but not expanded (paths never cross them), unless `ignore_transit`
    (used only to explain why no path exists).
    """
    search = Search(
        graph, source, weight, allowed=allowed, reverse=reverse, ignore_transit=ignore_transit
    )
    search.run(target)
    return search.dist, search.pred


class Search:
    """The state of one `dijkstra`, which can stop once a target is settled and resume later.

    Resuming continues in the same order, so every settled node has the same distance and
    predecessor as in a search run to the end; memoised trees grow only as far as asked.
    """

    def __init__(
        self,
        graph: PathGraph,
        source: int,
        weight: Sequence[float],
        *,
        allowed: Sequence[bool] | None = None,
        reverse: bool = False,
        ignore_transit: bool = False,
    ) -> None:
        n = len(graph.names)
        self.graph, self.source, self.weight, self.allowed = graph, source, weight, allowed
        self.adjacency = graph.inc if reverse else graph.out
        self.ends = graph.src if reverse else graph.dst
        self.expands = [True] * n if ignore_transit else list(graph.transit)
        self.expands[source] = True
        self.dist = [float("inf")] * n
        self.hops = [0] * n
        self.pred = [-1] * n
        self.done = [False] * n
        self.dist[source] = 0.0
        self.heap: list[tuple[float, int, int]] = [(0.0, 0, source)]
        self.pending = -1
        """A settled target not yet expanded (the search stopped on it)."""

    def run(self, target: int | None = None) -> None:
        """Settle nodes until `target` is settled (or every reachable node, without one).

        Nodes that are not expanded (non-transit, not the root) never enter the heap: their
        distance and predecessor are kept as found, and final once the heap holds nothing
        nearer (which is when the plain Dijkstra would have popped them)."""
        t = -1 if target is None else target
        done, dist, hops, heap = self.done, self.dist, self.hops, self.heap
        if t >= 0 and done[t]:
            return
        leaf = t >= 0 and not self.expands[t]
        u, self.pending = self.pending, -1
        while True:
            if u >= 0:
                self._expand(u)
            if leaf and (not heap or heap[0][:2] >= (dist[t], hops[t])):
                done[t] = True
                return
            u = -1
            while heap:
                _, _, w = heapq.heappop(heap)
                if not done[w]:
                    u = w
                    break
            if u < 0:
                return
            done[u] = True
            if u == t:
                self.pending = u
                return

    def _expand(self, u: int) -> None:
        dist, hops, pred, done, heap = self.dist, self.hops, self.pred, self.done, self.heap
        ends, weight, allowed, expands = self.ends, self.weight, self.allowed, self.expands
        d, h = dist[u], hops[u]
        for e in self.adjacency[u]:
            if allowed is not None and not allowed[e]:
                continue
            v = ends[e]
            nd = d + weight[e]
            if nd < dist[v] or (nd == dist[v] and h + 1 < hops[v] and not done[v]):
                dist[v], hops[v], pred[v] = nd, h + 1, e
                if expands[v]:
                    heapq.heappush(heap, (nd, h + 1, v))


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
