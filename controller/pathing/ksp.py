"""k shortest loop-free paths by IGP metric (Yen's algorithm), spur searches in scipy's C Dijkstra.

Parallel links are collapsed to the one with the lowest IGP metric. A spur search removes the
root's nodes and the links already used from the same root by giving them a prohibitive weight
and capping the search below it, so each spur is one call to `scipy.sparse.csgraph.dijkstra`.

Transit policy (see `graph.py`): for a pair (s, t), the links out of non-transit routers other
than s and into non-transit routers other than t get the prohibitive weight too, in a copy of the
weights made once per pair; the reverse trees to t are computed on that copy.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from controller.topology import Link, Topology

BANNED = 1e15


@dataclass(frozen=True, eq=False)
class YenKsp:
    names: tuple[str, ...]
    index: dict[str, int]
    matrix: sp.csr_matrix
    link_at: dict[tuple[int, int], Link]
    position: dict[tuple[int, int], int]
    into: tuple[np.ndarray, ...]
    """into[v]: data positions of every link into or out of v."""
    transit: tuple[bool, ...]
    _trees: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    _pair: dict[str, Any] = field(default_factory=dict)
    """The pair `paths` is enumerating (its transit-policy weights), when the policy applies."""

    @classmethod
    def of(cls, topology: Topology) -> YenKsp:
        names = tuple(topology.nodes)
        index = {n: i for i, n in enumerate(names)}
        best: dict[tuple[int, int], Link] = {}
        for link in topology.up_links():
            key = (index[link.src], index[link.dst])
            prev = best.get(key)
            if prev is None or (link.igp_metric, link.id) < (prev.igp_metric, prev.id):
                best[key] = link
        keys = sorted(best)
        rows = np.array([k[0] for k in keys], dtype=np.int64)
        cols = np.array([k[1] for k in keys], dtype=np.int64)
        data = np.array([float(best[k].igp_metric) for k in keys])
        matrix = sp.csr_matrix((data, (rows, cols)), shape=(len(names), len(names)))
        matrix.sort_indices()
        position = {}
        for u in range(len(names)):
            for pos in range(matrix.indptr[u], matrix.indptr[u + 1]):
                position[(u, int(matrix.indices[pos]))] = pos
        by_column = np.argsort(matrix.indices, kind="stable")
        bounds = np.searchsorted(matrix.indices[by_column], np.arange(len(names) + 1))
        into = tuple(
            np.r_[
                np.arange(matrix.indptr[v], matrix.indptr[v + 1]),
                by_column[bounds[v] : bounds[v + 1]],
            ]
            for v in range(len(names))
        )
        transit = tuple(bool(topology.nodes[n].transit) for n in names)
        return cls(names, index, matrix, best, position, into, transit)

    def _policy_matrix(self, src: int, dst: int) -> sp.csr_matrix:
        """The weights with links that would cross a non-transit router (other than `src` and
        `dst`) banned; the plain matrix when every router is transit."""
        if all(self.transit):
            return self.matrix
        graph = self.matrix
        tails = np.repeat(np.arange(len(self.names)), np.diff(graph.indptr))
        heads = graph.indices
        ok = np.asarray(self.transit, dtype=bool)
        tail_ok = ok[tails] | (tails == src)
        head_ok = ok[heads] | (heads == dst)
        data = np.where(tail_ok & head_ok, graph.data, BANNED)
        return sp.csr_matrix((data, graph.indices, graph.indptr), shape=graph.shape)

    def _shortest(
        self, src: int, dst: int, nodes: set[int], edges: set[tuple[int, int]]
    ) -> list[int]:
        graph = self._weights(dst)
        if nodes or edges:
            data = graph.data.copy()
            if nodes:
                data[np.concatenate([self.into[v] for v in nodes])] = BANNED
            for e in edges:
                data[self.position[e]] = BANNED
            graph = sp.csr_matrix((data, graph.indices, graph.indptr), shape=graph.shape)
        dist, pred = dijkstra(
            graph, directed=True, indices=src, return_predecessors=True, limit=BANNED / 2
        )
        if not np.isfinite(dist[dst]):
            return []
        path = [dst]
        while path[-1] != src:
            path.append(int(pred[path[-1]]))
        path.reverse()
        return path

    def _install(self, s: int, t: int) -> None:
        """Make (s, t) the pair whose transit-policy weights the searches use."""
        if all(self.transit) or self._pair.get("pair") == (s, t):
            return
        self._pair.clear()
        self._pair.update(pair=(s, t), matrix=self._policy_matrix(s, t))

    def _weights(self, dst: int) -> sp.csr_matrix:
        """The matrix of the pair being enumerated (transit policy applied), else the plain one."""
        pair = self._pair.get("pair")
        if pair is not None and pair[1] == dst:
            matrix: sp.csr_matrix = self._pair["matrix"]
            return matrix
        return self.matrix

    def tree(self, dst: int) -> tuple[np.ndarray, np.ndarray]:
        """Reverse shortest-path tree to `dst`: distance and next hop of every node.

        Under a transit policy the tree is that of the pair being enumerated (links out of
        non-transit routers are banned, so no node routes through one)."""
        if self._weights(dst) is not self.matrix:
            cached_pair = self._pair.get("tree")
            if cached_pair is None:
                cached_pair = self._pair["tree"] = self._reverse_tree(self._weights(dst), dst)
            return cached_pair
        cached = self._trees.get(dst)
        if cached is None:
            cached = self._trees[dst] = self._reverse_tree(self.matrix, dst)
        return cached

    @staticmethod
    def _reverse_tree(matrix: sp.csr_matrix, dst: int) -> tuple[np.ndarray, np.ndarray]:
        dist, pred = dijkstra(
            matrix.T.tocsr(),
            directed=True,
            indices=dst,
            return_predecessors=True,
            limit=BANNED / 2,
        )
        return dist, pred

    def _spur(self, spur: int, dst: int, nodes: set[int], edges: set[tuple[int, int]]) -> list[int]:
        """Shortest spur path: the reverse tree answers when its best branch avoids the bans."""
        dist, succ = self.tree(dst)
        graph = self._weights(dst)
        best, best_w = np.inf, -1
        for pos in range(graph.indptr[spur], graph.indptr[spur + 1]):
            w = int(graph.indices[pos])
            value = graph.data[pos] + dist[w]
            if (
                value < best
                and graph.data[pos] < BANNED
                and w not in nodes
                and (spur, w) not in edges
            ):
                best, best_w = value, w
        if best_w < 0:
            return []
        path = [spur, best_w]
        while path[-1] != dst:
            nxt = int(succ[path[-1]])
            if nxt < 0 or nxt in nodes or nxt == spur:
                return self._shortest(spur, dst, nodes, edges)
            path.append(nxt)
        return path

    def cost(self, path: Sequence[int]) -> float:
        return float(sum(self.link_at[(a, b)].igp_metric for a, b in itertools.pairwise(path)))

    def paths(self, src: str, dst: str) -> Iterator[list[int]]:
        """Loop-free paths (node indices) from src to dst in non-decreasing IGP cost."""
        s, t = self.index[src], self.index[dst]
        self._install(s, t)
        first = self._shortest(s, t, set(), set())
        if not first:
            return
        heap: list[tuple[float, int, tuple[int, ...]]] = [
            (self.cost(first), len(first), tuple(first))
        ]
        seen = {tuple(first)}
        found: list[tuple[int, ...]] = []
        while heap:
            _, _, path = heapq.heappop(heap)
            found.append(path)
            yield list(path)
            self._install(s, t)  # another enumeration may have run meanwhile
            for i in range(len(path) - 1):
                root = path[: i + 1]
                edges = {(p[i], p[i + 1]) for p in found if p[: i + 1] == root}
                spur = self._spur(path[i], t, set(root[:-1]), edges)
                if spur:
                    cand = (*root[:-1], *spur)
                    if cand not in seen:
                        seen.add(cand)
                        heapq.heappush(heap, (self.cost(cand), len(cand), cand))

    def k_paths(
        self, src: str, dst: str, k: int, accept: Callable[[list[Link]], bool], limit: int
    ) -> list[list[Link]]:
        """Up to k accepted paths (as links) among the first `limit` shortest ones."""
        out: list[list[Link]] = []
        for seen, nodes in enumerate(self.paths(src, dst)):
            if seen >= limit or len(out) >= k:
                break
            links = [self.link_at[(a, b)] for a, b in itertools.pairwise(nodes)]
            if accept(links):
                out.append(links)
        return out
