"""CSPF: the best path for one request under latency, hop, affinity, exclusion and bandwidth limits.

Method (see docs/pathing.md): links failing the static constraints (exclusions, affinities) or the
bandwidth are pruned. Without a latency or hop bound a Dijkstra on the objective is optimal. With
a bound, if the unconstrained best path already meets it we are done; otherwise an exact
label-setting search (A* on the objective, with Pareto dominance on (delay, hops) per node and
pruning by reverse-Dijkstra lower bounds on delay and hops) returns the optimal path that meets
every bound. It is exact; its cost is O(L log L) for L labels, L <= (number of Pareto-optimal
partial paths), which is small on real WANs; a label budget turns pathological cases into a clear
error instead of a hang.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from controller.errors import PathError
from controller.pathing.graph import PathGraph, dijkstra, walk_back, walk_forward, with_transit
from controller.pathing.types import Path, PathRequest
from controller.topology import Link, LinkKey, Topology
from controller.units import format_bandwidth

MAX_LABELS = 200_000
EPS = 1e-12


def link_allowed(link: Link, req: PathRequest) -> bool:
    """Static constraints: exclusions, uplink transports and metering, affinities (include-any,
    include-all, exclude-any)."""
    if link.id in req.exclude_links or link.src in req.exclude_nodes:
        return False
    if link.dst in req.exclude_nodes or (req.exclude_srlgs and link.srlgs & req.exclude_srlgs):
        return False
    if link.transport and req.transports is not None and link.transport not in req.transports:
        return False
    if link.metered and not req.metered:
        return False
    if req.include_any and not link.affinities & req.include_any:
        return False
    if req.include_all and not req.include_all <= link.affinities:
        return False
    return not (req.exclude_any and link.affinities & req.exclude_any)


def static_mask(graph: PathGraph, req: PathRequest) -> list[bool]:
    return [link_allowed(link, req) for link in graph.links]


Room = Sequence[float] | np.ndarray
"""Bandwidth a request may use on each link, by link index."""
Mask = Sequence[bool] | np.ndarray
"""Per link index: may the request use it."""


def bandwidth_mask(graph: PathGraph, req: PathRequest, available: Room | None) -> list[bool]:
    if req.bandwidth_bps <= 0:
        return [True] * len(graph.links)
    need = req.bandwidth_bps * (1 - 1e-9)
    room = graph.capacity if available is None else available
    if isinstance(room, np.ndarray):
        mask: list[bool] = (room >= need).tolist()
        return mask
    return [a >= need for a in room]


@dataclass(frozen=True)
class Bounds:
    latency_s: float
    hops: float

    @classmethod
    def of(cls, req: PathRequest) -> Bounds:
        lat = float("inf") if req.max_latency_s is None else req.max_latency_s * (1 + 1e-9) + EPS
        hops = float("inf") if req.max_hops is None else float(req.max_hops)
        return cls(lat, hops)

    def met(self, graph: PathGraph, links: Sequence[int]) -> bool:
        return len(links) <= self.hops and sum(graph.delay[e] for e in links) <= self.latency_s


def cspf_links(
    graph: PathGraph,
    req: PathRequest,
    *,
    available: Room | None = None,
    mask: Mask | None = None,
) -> list[int]:
    """Link indices of the optimal path for `req`, or PathError saying which constraint blocked.

    `available[e]` is the bandwidth the request may use on link e (default: capacity); `mask`
    overrides the static constraints (callers that place many requests precompute it). The
    transit policy always applies (see `graph.py`).
    """
    src, dst = _endpoints(graph, req)
    static = static_mask(graph, req) if mask is None else mask
    bounds = Bounds.of(req)
    quick = walk_back(graph, graph.tree(src, req.objective, target=dst), src, dst)
    if quick and _usable(graph, req, quick, static, available) and bounds.met(graph, quick):
        return quick  # the unconstrained best path survives every constraint: still the best
    allowed = allowed_links(graph, req, static, available)
    weight = graph.weights(req.objective)
    found = constrained_search(graph, src, dst, weight, allowed=allowed, bounds=bounds)
    if found is None:
        plain = static.tolist() if isinstance(static, np.ndarray) else static
        raise PathError(diagnose(graph, req, plain, bandwidth_mask(graph, req, available)))
    return found


def allowed_links(
    graph: PathGraph, req: PathRequest, static: Mask, available: Room | None
) -> list[bool]:
    """The static constraints, the bandwidth and the transit policy as one mask (one pass)."""
    ok = np.asarray(static, dtype=bool)
    if req.bandwidth_bps > 0:
        room = np.asarray(graph.capacity if available is None else available, dtype=float)
        ok = ok & (room >= req.bandwidth_bps * (1 - 1e-9))
    return with_transit(graph, ok, graph.index[req.src], graph.index[req.dst])


def _usable(
    graph: PathGraph,
    req: PathRequest,
    links: Sequence[int],
    static: Mask,
    available: Room | None,
) -> bool:
    """Whether every link of `links` meets the static, bandwidth and transit constraints (the
    same test as the masks, for one path: no pass over every link)."""
    src, dst = graph.src[links[0]], graph.dst[links[-1]]
    if not all(static[e] and graph.passable(e, src, dst) for e in links):
        return False
    if req.bandwidth_bps <= 0:
        return True
    need = req.bandwidth_bps * (1 - 1e-9)
    room = graph.capacity if available is None else available
    return all(room[e] >= need for e in links)


def compute_path(
    topology: Topology | PathGraph,
    req: PathRequest,
    residual: Mapping[LinkKey, float] | None = None,
) -> Path:
    """The optimal path for `req`; `residual` maps links to the bandwidth left (default: all)."""
    graph = topology if isinstance(topology, PathGraph) else PathGraph.of(topology)
    available = None
    if residual is not None:
        available = [residual.get(lk.key, lk.capacity_bps) for lk in graph.links]
    links = cspf_links(graph, req, available=available)
    return graph.make_path(links, cost=path_cost(graph, req, links))


def path_cost(graph: PathGraph, req: PathRequest, links: Sequence[int]) -> float:
    weight = graph.weights(req.objective)
    return float(sum(weight[e] for e in links))


def _endpoints(graph: PathGraph, req: PathRequest) -> tuple[int, int]:
    for end in (req.src, req.dst):
        graph.topology.node(end)
    if req.src == req.dst:
        raise PathError(f"{req.name}: source and destination are both {req.src!r}")
    for end in (req.src, req.dst):
        if end in req.exclude_nodes:
            raise PathError(f"{req.name}: endpoint {end!r} is in the excluded nodes")
    return graph.index[req.src], graph.index[req.dst]


def constrained_search(
    graph: PathGraph,
    src: int,
    dst: int,
    weight: Sequence[float],
    *,
    allowed: Sequence[bool],
    bounds: Bounds,
) -> list[int] | None:
    """Optimal path under the bounds, or None when no path meets them."""
    dist, pred = dijkstra(graph, src, weight, allowed=allowed, target=dst)
    if dist[dst] == float("inf"):
        return None
    best = walk_back(graph, pred, src, dst)
    if bounds.met(graph, best):
        return best
    return _label_search(graph, src, dst, weight, allowed=allowed, bounds=bounds)


def _label_search(
    graph: PathGraph,
    src: int,
    dst: int,
    weight: Sequence[float],
    *,
    allowed: Sequence[bool],
    bounds: Bounds,
) -> list[int] | None:
    ones = [1.0] * len(graph.links)
    lb_delay = dijkstra(graph, dst, graph.delay, allowed=allowed, reverse=True)[0]
    lb_hops = dijkstra(graph, dst, ones, allowed=allowed, reverse=True)[0]
    to_go = dijkstra(graph, dst, weight, allowed=allowed, reverse=True)[0]
    if lb_delay[src] > bounds.latency_s or lb_hops[src] > bounds.hops:
        return None
    parent: list[int] = [-1]
    via: list[int] = [-1]
    heap: list[tuple[float, int, float, float, int, int]] = [(to_go[src], 0, 0.0, 0.0, src, 0)]
    settled: list[list[tuple[float, int]]] = [[] for _ in graph.names]
    while heap:
        _, hops, cost, delay, u, label = heapq.heappop(heap)
        if any(d <= delay and h <= hops for d, h in settled[u]):
            continue
        settled[u].append((delay, hops))
        if u == dst:
            return _unwind(parent, via, label)
        if u != src and not graph.transit[u]:
            continue  # reached, never crossed (transit policy)
        for e in graph.out[u]:
            v = graph.dst[e]
            nd, nh = delay + graph.delay[e], hops + 1
            if (
                not allowed[e]
                or nd + lb_delay[v] > bounds.latency_s
                or nh + lb_hops[v] > bounds.hops
            ):
                continue
            if len(parent) >= MAX_LABELS:
                raise PathError(
                    f"constrained search gave up after {MAX_LABELS} labels; relax the bounds"
                )
            parent.append(label)
            via.append(e)
            nc = cost + weight[e]
            heapq.heappush(heap, (nc + to_go[v], nh, nc, nd, v, len(parent) - 1))
    return None


def _unwind(parent: Sequence[int], via: Sequence[int], label: int) -> list[int]:
    links: list[int] = []
    while label > 0:
        links.append(via[label])
        label = parent[label]
    links.reverse()
    return links


# -- telling the user which constraint blocked ---------------------------------------------------


def describe(graph: PathGraph, links: Sequence[int]) -> str:
    names = [graph.names[graph.src[links[0]]], *(graph.names[graph.dst[e]] for e in links)]
    return "-".join(names)


def diagnose(graph: PathGraph, req: PathRequest, static: Sequence[bool], bw: Sequence[bool]) -> str:
    """One sentence naming the constraint that leaves no path."""
    src, dst = graph.index[req.src], graph.index[req.dst]
    everything = [True] * len(graph.links)
    where = f"{req.name}: no path from {req.src} to {req.dst}"
    if not _reachable(graph, src, dst, everything, ignore_transit=True):
        return f"{where}: they are not connected by up links"
    if not _reachable(graph, src, dst, everything):
        return f"{where}: {_transit_words(graph, src, dst, everything)}"
    if not _reachable(graph, src, dst, static):
        if _reachable(graph, src, dst, static, ignore_transit=True):
            return f"{where} {_static_words(req)}: {_transit_words(graph, src, dst, static)}"
        return f"{where} {_static_words(req)}"
    allowed = [a and b for a, b in zip(static, bw, strict=True)]
    if not _reachable(graph, src, dst, allowed):
        return (
            f"{where} with {format_bandwidth(req.bandwidth_bps)} available at priority "
            f"{req.setup_priority}"
        )
    return where + _bound_words(graph, req, src, dst, allowed)


def _reachable(
    graph: PathGraph,
    src: int,
    dst: int,
    allowed: Sequence[bool],
    *,
    ignore_transit: bool = False,
) -> bool:
    ones = [1.0] * len(graph.links)
    dist = dijkstra(graph, src, ones, allowed=allowed, target=dst, ignore_transit=ignore_transit)
    return dist[0][dst] < float("inf")


def _transit_words(graph: PathGraph, src: int, dst: int, allowed: Sequence[bool]) -> str:
    """Names the non-transit routers the remaining paths would have to cross."""
    ones = [1.0] * len(graph.links)
    pred = dijkstra(graph, src, ones, allowed=allowed, target=dst, ignore_transit=True)[1]
    crossed = graph.crossed_non_transit(walk_back(graph, pred, src, dst))
    return (
        f"every remaining path crosses a non-transit router (e.g. {', '.join(crossed)}), "
        "which carries no other router's traffic"
    )


def _static_words(req: PathRequest) -> str:
    parts = []
    if req.exclude_nodes or req.exclude_links or req.exclude_srlgs:
        parts.append("avoiding the excluded nodes, links and SRLGs")
    if req.include_any or req.include_all or req.exclude_any:
        parts.append("meeting the affinity constraints")
    if req.transports is not None:
        parts.append(f"over {' or '.join(sorted(req.transports))} uplinks")
    if not req.metered:
        parts.append("off metered links")
    return " and ".join(parts)


def _bound_words(
    graph: PathGraph, req: PathRequest, src: int, dst: int, allowed: Sequence[bool]
) -> str:
    bounds = Bounds.of(req)
    words = []
    dist, succ = dijkstra(graph, dst, graph.delay, allowed=allowed, reverse=True)
    if dist[src] > bounds.latency_s:
        best = walk_forward(graph, succ, src, dst)
        words.append(
            f" within {(req.max_latency_s or 0) * 1e3:.3g} ms: "
            f"best is {dist[src] * 1e3:.3g} ms via {describe(graph, best)}"
        )
    hop_dist, hop_succ = dijkstra(
        graph, dst, [1.0] * len(graph.links), allowed=allowed, reverse=True
    )
    if hop_dist[src] > bounds.hops:
        best = walk_forward(graph, hop_succ, src, dst)
        words.append(
            f" within {req.max_hops} hops: fewest is {int(hop_dist[src])} "
            f"via {describe(graph, best)}"
        )
    if not words:
        return (
            f" within {(req.max_latency_s or 0) * 1e3:.3g} ms and {req.max_hops} hops together: "
            "each bound alone can be met, both at once cannot"
        )
    return ";".join(words)
