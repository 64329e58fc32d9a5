"""Disjoint primary/backup pairs of minimum total cost, or the most disjoint pair with its risks.

Link and node disjointness: Suurballe's algorithm in its successive-shortest-path form (two
augmentations of a min-cost flow of value 2, Dijkstra on reduced costs with potentials). Each
link (or, for node disjointness, each transit node split into in/out) has a second, penalised
copy of cost `SHARE_PENALTY`; the penalty only matters when fully disjoint paths do not exist, in
which case the result is the pair sharing the fewest elements, then of least cost.

SRLG disjointness (NP-hard in general): primaries are enumerated in cost order (Yen, networkx);
for each, the cheapest backup avoiding the primary's links and SRLGs; the search stops when twice
the primary's cost reaches the best total found, so the pair is of minimum total cost among
candidates. Without an SRLG-disjoint pair, the pair with the fewest shared SRLGs is returned.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import networkx as nx

from controller.errors import PathError
from controller.pathing.cspf import Mask, Room, allowed_links, static_mask
from controller.pathing.graph import PathGraph, dijkstra, walk_back
from controller.pathing.types import Disjointness, Objective, Path, PathRequest

SHARE_PENALTY = 1e9
MAX_PRIMARIES = 200


@dataclass(frozen=True)
class DisjointPair:
    primary: Path
    backup: Path
    shared_risks: tuple[str, ...]
    """Links ('link a-b'), nodes ('node X') or SRLGs ('srlg S') both paths use; empty if none."""


@dataclass(frozen=True)
class _Network:
    """Arcs of the doubled (and, for node mode, node-split) network; built once per graph."""

    tails: list[int]
    heads: list[int]
    costs: list[float]
    links: list[int]  # link index, or -1 for a node-split arc
    out: list[list[int]]  # per node: arc i leaving it, or ~i for the reverse of arc i entering it
    split: bool

    @classmethod
    def of(cls, graph: PathGraph, objective: Objective, mode: str) -> _Network:
        key = ("disjoint", objective, mode)
        cached = graph.memo.get(key)
        if isinstance(cached, _Network):
            return cached
        n = len(graph.names)
        split = mode == "node"
        weight = graph.weights(objective)
        net = cls([], [], [], [], [[] for _ in range(2 * n if split else n)], split)
        for e in range(len(graph.links)):
            for penalty in (0.0, SHARE_PENALTY):
                net._add(graph.src[e] + (n if split else 0), graph.dst[e], weight[e] + penalty, e)
        if split:
            for v in range(n):
                for penalty in (0.0, SHARE_PENALTY):
                    net._add(v, n + v, penalty, -1)
        graph.memo[key] = net
        return net

    def _add(self, tail: int, head: int, cost: float, link: int) -> None:
        i = len(self.tails)
        self.tails.append(tail)
        self.heads.append(head)
        self.costs.append(cost)
        self.links.append(link)
        self.out[tail].append(i)
        self.out[head].append(~i)


def _successive_paths(
    net: _Network, allowed: Sequence[bool], src: int, dst: int
) -> list[int] | None:
    """Min-cost flow of 2 (unit capacity per arc) by two Dijkstras on reduced costs."""
    usable = [lk < 0 or allowed[lk] for lk in net.links]
    flow = [0] * len(net.tails)
    potential = [0.0] * len(net.out)
    for _ in range(2):
        dist, pred = _residual_dijkstra(net, usable, flow, potential, (src, dst))
        if dist[dst] == float("inf"):
            return None
        node = dst
        while node != src:
            i = pred[node]
            if i >= 0:
                flow[i] = 1
                node = net.tails[i]
            else:
                flow[~i] = 0
                node = net.heads[~i]
        reach = dist[dst]
        potential = [p + min(d, reach) for p, d in zip(potential, dist, strict=True)]
    return flow


def _residual_dijkstra(
    net: _Network,
    usable: list[bool],
    flow: list[int],
    potential: list[float],
    ends: tuple[int, int],
) -> tuple[list[float], list[int]]:
    """Reduced-cost Dijkstra on the residual network, stopping once the sink is settled."""
    src, dst = ends
    inf = float("inf")
    dist = [inf] * len(net.out)
    pred = [0] * len(net.out)
    dist[src] = 0.0
    heap = [(0.0, src)]
    while heap:
        d, u = heapq.heappop(heap)
        if d > dist[u]:
            continue
        if u == dst:
            break
        for i in net.out[u]:
            if i >= 0:
                if flow[i] or not usable[i]:
                    continue
                v, cost = net.heads[i], net.costs[i]
            else:
                if not flow[~i]:
                    continue
                v, cost = net.tails[~i], -net.costs[~i]
            nd = d + cost + potential[u] - potential[v]
            if nd < dist[v] - 1e-9:
                dist[v], pred[v] = nd, i
                heapq.heappush(heap, (nd, v))
    return dist, pred


def _decompose(
    graph: PathGraph, net: _Network, flow: list[int], src: int, dst: int
) -> list[list[int]]:
    """Two link-index paths from the flow, each followed from the source, loops erased."""
    used: dict[int, list[int]] = {}
    for i, link in enumerate(net.links):
        if flow[i] and link >= 0:
            used.setdefault(graph.src[link], []).append(link)
    paths = []
    for _ in range(2):
        node, links = src, []
        while node != dst and used.get(node):
            e = used[node].pop()
            links.append(e)
            node = graph.dst[e]
        paths.append(_loop_erase(graph, links))
    return paths


def _loop_erase(graph: PathGraph, links: list[int]) -> list[int]:
    out: list[int] = []
    position: dict[int, int] = {}
    for e in links:
        u = graph.src[e]
        if u in position:
            out = out[: position[u]]
            position = {graph.src[x]: k for k, x in enumerate(out)}
        position[u] = len(out)
        out.append(e)
    return out


def _shared(graph: PathGraph, a: Sequence[int], b: Sequence[int], mode: Disjointness) -> list[str]:
    la, lb = [graph.links[e] for e in a], [graph.links[e] for e in b]
    risks = sorted({f"link {x.id}" for x in la} & {f"link {y.id}" for y in lb})
    if mode == "node":
        inner_a = {x.dst for x in la[:-1]}
        risks += sorted(f"node {v}" for v in inner_a & {y.dst for y in lb[:-1]})
    if mode == "srlg":
        s_a = set().union(*(x.srlgs for x in la))
        risks += sorted(f"srlg {s}" for s in s_a & set().union(*(y.srlgs for y in lb)))
    return risks


def disjoint_pair(
    graph: PathGraph,
    req: PathRequest,
    mode: Disjointness,
    available: Room | None = None,
    *,
    mask: Mask | None = None,
) -> DisjointPair:
    """Min-total-cost `mode`-disjoint pair for `req` (or the most disjoint, risks listed).

    `mask` overrides the static constraints (placement precomputes it per constraint set)."""
    src, dst = graph.index[req.src], graph.index[req.dst]
    static = static_mask(graph, req) if mask is None else mask
    allowed = allowed_links(graph, req, static, available)
    weight = graph.weights(req.objective)
    if mode == "srlg":
        pair = _srlg_pair(graph, src, dst, req.objective, allowed)
    else:
        net = _Network.of(graph, req.objective, mode)
        source = src + len(graph.names) if net.split else src  # leave from src's out copy
        flow = _successive_paths(net, allowed, source, dst)
        pair = None if flow is None else _decompose(graph, net, flow, src, dst)
    if pair is None:
        raise PathError(
            f"{req.name}: no two paths from {req.src} to {req.dst} under its constraints"
        )
    first, second = sorted(pair, key=lambda p: (sum(weight[e] for e in p), len(p)))
    cost = [float(sum(weight[e] for e in p)) for p in (first, second)]
    return DisjointPair(
        primary=graph.make_path(first, cost=cost[0]),
        backup=graph.make_path(second, cost=cost[1]),
        shared_risks=tuple(_shared(graph, first, second, mode)),
    )


def _srlg_pair(
    graph: PathGraph,
    src: int,
    dst: int,
    objective: Objective,
    allowed: Sequence[bool],
) -> list[list[int]] | None:
    weight = graph.weights(objective)
    best: tuple[int, float, list[int], list[int]] | None = None
    floor = _PairFloor(graph, src, dst, objective, allowed)
    for count, primary in enumerate(_primaries(graph, src, dst, weight, allowed)):
        p_cost = sum(weight[e] for e in primary)
        if count >= MAX_PRIMARIES or (best is not None and best[0] == 0 and 2 * p_cost >= best[1]):
            break
        penalty = _penalised(graph, weight, primary)
        dist, pred = dijkstra(graph, src, penalty, allowed=allowed, target=dst)
        if dist[dst] == float("inf"):
            continue
        backup = walk_back(graph, pred, src, dst)
        shared = int(dist[dst] // SHARE_PENALTY)
        total = p_cost + sum(weight[e] for e in backup)
        if best is None or (shared, total) < (best[0], best[1]):
            best = (shared, total, primary, backup)
        if floor.reached(best[0], best[1]):
            break  # proven the best pair without enumerating further primaries
    return None if best is None else [best[2], best[3]]


def _penalised(graph: PathGraph, weight: Sequence[float], primary: list[int]) -> list[float]:
    """`weight` plus SHARE_PENALTY per SRLG shared with `primary` and per link of it; only the
    links that carry one of its SRLGs or ids are touched (found through a memoised index)."""
    index = graph.memo.get(("srlg-index",))
    if not isinstance(index, dict):
        built: dict[tuple[str, str], list[int]] = {}
        for e, link in enumerate(graph.links):
            for key in (("id", link.id), *(("srlg", g) for g in link.srlgs)):
                built.setdefault(key, []).append(e)
        index = graph.memo[("srlg-index",)] = built
    risks = set().union(*(graph.links[e].srlgs for e in primary))
    keys = {("id", graph.links[e].id) for e in primary} | {("srlg", g) for g in risks}
    penalty = list(weight)
    for key in keys:
        for e in index.get(key, ()):
            penalty[e] += SHARE_PENALTY
    return penalty


class _PairFloor:
    """Lower bounds on what any pair can achieve, computed only when asked, cheapest first.

    A bound (shared, cost) says: no pair shares fewer elements than `shared`, and none sharing
    exactly that many costs less than `cost`. Fully disjoint pairs leave `src` by two different
    links and reach `dst` by two different links, so they cost at least the two cheapest "first
    link, then shortest" costs, and the two cheapest "shortest, then last link" costs
    (unconstrained, memoised distances: never longer than constrained ones). Last, the
    min-cost flow of 2 with penalised twins (Suurballe) bounds every pair: the fewest shared
    links, and the least cost with that many.
    """

    def __init__(
        self, graph: PathGraph, src: int, dst: int, objective: Objective, allowed: Sequence[bool]
    ) -> None:
        self.graph, self.src, self.dst, self.objective = graph, src, dst, objective
        self.allowed = allowed
        self.bounds: list[tuple[int, float]] = []
        self._more = self._bounds()

    def reached(self, shared: int, total: float) -> bool:
        """Whether a pair sharing `shared` and costing `total` is proven the best."""
        if any(_meets(shared, total, bound) for bound in self.bounds):
            return True
        for bound in self._more:
            self.bounds.append(bound)
            if _meets(shared, total, bound):
                return True
        return False

    def _bounds(self) -> Iterator[tuple[int, float]]:
        graph, weight, ok = self.graph, self.graph.weights(self.objective), self.allowed
        firsts = [e for e in graph.out[self.src] if ok[e]]
        to_dst = graph.distances(
            self.dst, self.objective, [graph.dst[e] for e in firsts], reverse=True
        )
        yield 0, _two_cheapest([weight[e] + to_dst[graph.dst[e]] for e in firsts])
        lasts = [e for e in graph.inc[self.dst] if ok[e]]
        from_src = graph.distances(self.src, self.objective, [graph.src[e] for e in lasts])
        yield 0, _two_cheapest([from_src[graph.src[e]] + weight[e] for e in lasts])
        net = _Network.of(graph, self.objective, "link")
        flow = _successive_paths(net, ok, self.src, self.dst)
        if flow is not None:
            used = [i for i, f in enumerate(flow) if f]
            twins = sum(i % 2 for i in used)  # arcs 2e (plain) and 2e + 1 (penalised) per link
            yield twins, float(sum(weight[net.links[i]] for i in used))


def _meets(shared: int, total: float, bound: tuple[int, float]) -> bool:
    least, cost = bound
    return shared <= least and total <= cost + 1e-12 * max(1.0, abs(cost))


def _two_cheapest(costs: list[float]) -> float:
    if len(costs) < 2:
        return float("inf")  # fewer than two ways out (or in): no disjoint pair at all
    first, second = sorted(costs)[:2]
    return first + second


def _primaries(
    graph: PathGraph, src: int, dst: int, weight: Sequence[float], allowed: Sequence[bool]
) -> Iterator[list[int]]:
    simple = nx.DiGraph()
    for e in itertools.compress(range(len(allowed)), allowed):
        u, v = graph.src[e], graph.dst[e]
        prev = simple.get_edge_data(u, v)
        if prev is None or weight[e] < prev["weight"]:
            simple.add_edge(u, v, weight=weight[e], link=e)
    if src not in simple or dst not in simple:
        return
    try:
        for nodes in nx.shortest_simple_paths(simple, src, dst, weight="weight"):
            yield [simple.edges[a, b]["link"] for a, b in itertools.pairwise(nodes)]
    except nx.NetworkXNoPath:
        return
