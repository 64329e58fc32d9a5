"""SRv6 segment lists: encode a path as the fewest SIDs that reproduce it under IGP routing.

From the current segment start u, a node SID for v reproduces the path's stretch u..v only when the
IGP shortest path from u to v is unique (no ECMP) and is that stretch: its cost equals the IGP
distance and the number of shortest paths is one. Greedy furthest reach is optimal because any
sub-stretch of a unique shortest path is again unique and shortest. Where not even one hop
qualifies (a longer-than-shortest link, or ECMP over parallel links), the link's adjacency SID
(End.X) pins it. `expand` turns a SID list back into every path IGP forwarding could take.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

from controller.errors import PathError, ValidationError
from controller.pathing.graph import PathGraph
from controller.pathing.types import Path
from controller.topology import LinkKey, Topology

MAX_EXPANSIONS = 64


@dataclass(frozen=True, eq=False)
class IgpRouting:
    """IGP shortest paths with ECMP counts, computed per source on demand and memoised; a
    source's search grows only as far as asked (`settled`)."""

    graph: PathGraph
    _spf: dict[int, _Spf] = field(default_factory=dict)

    @classmethod
    def of(cls, topology: Topology | PathGraph) -> IgpRouting:
        graph = topology if isinstance(topology, PathGraph) else PathGraph.of(topology)
        return cls(graph)

    def _search(self, source: int) -> _Spf:
        search = self._spf.get(source)
        if search is None:
            search = self._spf[source] = _Spf(self.graph, source)
        return search

    def spf(self, source: int) -> tuple[list[float], list[int]]:
        """(distance, number of shortest paths capped at 2) from `source` by IGP metric."""
        search = self._search(source)
        search.run()
        return search.dist, search.count

    def settled(self, source: int, node: int) -> tuple[float, int]:
        """IGP distance and number of shortest paths (capped at 2) from `source` to `node`.

        From a non-transit router (a branch: few links, many of them) the answer is derived
        from its neighbours' searches, which every branch behind the same hubs shares: the
        distance is the least `metric(e) + distance(far end of e, node)` over its links e, the
        count the sum of the counts of the links achieving it. That is what its own Dijkstra
        would find (metrics are at least 1, so no shortest path comes back through it)."""
        graph = self.graph
        if graph.transit[source] or source == node:
            search = self._search(source)
            search.run(node)
            return search.dist[node], search.count[node]
        metric = graph.weights("igp")
        best, count = float("inf"), 0
        for e in graph.out[source]:
            far = graph.dst[e]
            if far == node:
                d, c = 0.0, 1
            elif far == source:
                continue
            else:
                search = self._search(far)
                search.run(node)
                d, c = search.dist[node], search.count[node]
            if metric[e] + d < best:
                best, count = metric[e] + d, c
            elif metric[e] + d == best:
                count = min(2, count + c)
        return best, count

    def shortest_paths(self, u: int, v: int) -> list[list[int]]:
        """All IGP shortest paths u -> v as link-index lists (at most MAX_EXPANSIONS)."""
        dist = self.spf(u)[0]
        if dist[v] == float("inf"):
            return []
        metric = self.graph.weights("igp")
        out: list[list[int]] = []
        stack: list[tuple[int, list[int]]] = [(v, [])]
        while stack and len(out) < MAX_EXPANSIONS:
            node, suffix = stack.pop()
            if node == u:
                out.append(suffix)
                continue
            for e in self.graph.inc[node]:
                w = self.graph.src[e]
                if dist[w] + metric[e] == dist[node]:
                    stack.append((w, [e, *suffix]))
        return out


class _Spf:
    """IGP Dijkstra from one source counting shortest paths (capped at 2), resumable: a node's
    distance and count are final once it is settled (IGP metrics are at least 1, so every
    predecessor on a shortest path is settled before it)."""

    def __init__(self, graph: PathGraph, source: int) -> None:
        n = len(graph.names)
        self.graph, self.metric = graph, graph.weights("igp")
        self.dist = [float("inf")] * n
        self.count = [0] * n
        self.done = [False] * n
        self.dist[source], self.count[source] = 0.0, 1
        self.heap = [(0.0, source)]

    def run(self, target: int | None = None) -> None:
        done, dist, count, heap, metric = self.done, self.dist, self.count, self.heap, self.metric
        out, ends = self.graph.out, self.graph.dst
        while heap and not (target is not None and done[target]):
            d, u = heapq.heappop(heap)
            if done[u]:
                continue
            done[u] = True
            for e in out[u]:
                v = ends[e]
                nd = d + metric[e]
                if nd < dist[v]:
                    dist[v], count[v] = nd, count[u]
                    heapq.heappush(heap, (nd, v))
                elif nd == dist[v]:
                    count[v] = min(2, count[v] + count[u])


def _link_ids(routing: IgpRouting, path: Path) -> list[int]:
    try:
        return [routing.graph.link_index[key] for key in path.links]
    except KeyError as missing:
        raise PathError(f"path uses link {missing} which is not up") from None


def encode(routing: IgpRouting, path: Path) -> tuple[str, ...]:
    """The shortest SID list steering traffic from the path's head end along exactly `path`."""
    graph = routing.graph
    topo = graph.topology
    metric = graph.weights("igp")
    links = _link_ids(routing, path)
    sids: list[str] = []
    i = 0
    while i < len(links):
        start = graph.src[links[i]]
        j, acc = i, 0.0
        while j < len(links):
            acc += metric[links[j]]
            end = graph.dst[links[j]]
            dist, count = routing.settled(start, end)
            if dist != acc or count != 1:
                break
            j += 1
        if j == i:
            sids.append(topo.adjacency_sid(graph.links[links[i]]))
            i += 1
        else:
            sids.append(topo.nodes[graph.names[graph.dst[links[j - 1]]]].node_sid)
            i = j
    return tuple(sids)


def with_sids(routing: IgpRouting, path: Path) -> Path:
    """`path` with its SID list, refused (PathError) beyond the head end's max SID depth."""
    sids = encode(routing, path)
    head = routing.graph.topology.nodes[path.nodes[0]]
    if len(sids) > head.max_sid_depth:
        raise PathError(
            f"path {'-'.join(path.nodes)} needs {len(sids)} SIDs but head end {head.name} "
            f"supports at most {head.max_sid_depth} (max SID depth)"
        )
    return Path(path.nodes, path.links, path.latency_s, path.cost, sids)


def _sid_table(topology: Topology) -> dict[str, tuple[str, str | LinkKey]]:
    table: dict[str, tuple[str, str | LinkKey]] = {}
    for node in topology.nodes.values():
        table[node.node_sid] = ("node", node.name)
    for link in topology.links:
        table[topology.adjacency_sid(link)] = ("adj", link.key)
    return table


def expand(routing: IgpRouting, head: str, sids: Sequence[str]) -> list[tuple[LinkKey, ...]]:
    """Every path (link keys) IGP forwarding may take for `sids` sent from `head` (ECMP too)."""
    graph = routing.graph
    table = _sid_table(graph.topology)
    current = graph.index[head]
    segments: list[list[list[int]]] = []
    for sid in sids:
        kind, target = table.get(sid, ("", ""))
        if kind == "node":
            assert isinstance(target, str)
            options = routing.shortest_paths(current, graph.index[target])
            if not options:
                raise ValidationError("SID list", [f"{sid}: {target} unreachable by IGP"])
            current = graph.index[target]
        elif kind == "adj":
            assert isinstance(target, tuple)
            e = graph.link_index.get(target)
            if e is None or graph.src[e] != current:
                raise ValidationError(
                    "SID list", [f"{sid}: adjacency does not start at {graph.names[current]}"]
                )
            options = [[e]]
            current = graph.dst[e]
        else:
            raise ValidationError("SID list", [f"{sid}: not a node or adjacency SID here"])
        segments.append(options)
    expansions = itertools.islice(itertools.product(*segments), MAX_EXPANSIONS)
    return [tuple(graph.links[e].key for seg in combo for e in seg) for combo in expansions]
