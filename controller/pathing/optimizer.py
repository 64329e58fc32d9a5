"""Global traffic engineering: split demands over candidate tunnels to minimise max link load.

A `TunnelSet` fixes the candidate paths (given tunnels or k shortest per pair). `min_mlu_lp` solves
the exact LP with HiGHS:

    minimise U  s.t.  sum_{p in d} f_p = demand_d      (one row per pair)
                      sum_{p uses e} f_p <= U * c_e    (one row per used link)
                      f >= 0

The constraint matrix depends only on the tunnels, so it is built once per TunnelSet and kept in a
HiGHS model; each solve changes only the demand rows' bounds and warm-starts from the last basis.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import highspy
import numpy as np
import scipy.sparse as sp

from controller.errors import ValidationError
from controller.pathing.ksp import YenKsp
from controller.pathing.types import Path
from controller.topology import Link, LinkKey, Topology


@dataclass(frozen=True, eq=False)
class TunnelSet:
    """Candidate paths for a set of demand pairs, with the path x link incidence matrix."""

    capacities: np.ndarray
    """(E,) capacity of each link in bit/s, aligned with `link_keys`."""
    link_keys: tuple[LinkKey, ...]
    pairs: tuple[tuple[str, str], ...]
    """(D,) demand pairs (src, dst)."""
    path_pair: np.ndarray
    """(P,) index into `pairs` of each path."""
    path_links: sp.csr_matrix
    """(P x E) 1 where the path uses the link."""
    paths: tuple[Path, ...]
    cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    """Solver state reused across solves (the HiGHS model); not part of the value."""

    @property
    def num_paths(self) -> int:
        return len(self.paths)

    def paths_of(self, pair: int) -> np.ndarray:
        """Indices of the paths of pair `pair`."""
        return np.flatnonzero(self.path_pair == pair)


@dataclass(frozen=True)
class MluSolution:
    """Max link utilisation, the split of each pair over its paths (sums to 1), solve time."""

    mlu: float
    split: np.ndarray
    seconds: float


# -- building tunnel sets ------------------------------------------------------------------------


def _best_link(topology: Topology, a: str, b: str) -> Link | None:
    candidates = [lk for lk in topology.links_between(a, b) if lk.is_up]
    return min(candidates, key=lambda lk: (lk.igp_metric, lk.id), default=None)


def _path_of(topology: Topology, nodes: Sequence[str], where: str) -> Path:
    if len(nodes) < 2:
        raise ValidationError("tunnels", [f"{where}: a path needs at least two nodes"])
    links: list[Link] = []
    for a, b in itertools.pairwise(nodes):
        if a not in topology.nodes or b not in topology.nodes:
            missing = a if a not in topology.nodes else b
            raise ValidationError(
                "tunnels", [f"{where}: unknown node {missing!r}; use names from the topology"]
            )
        link = _best_link(topology, a, b)
        if link is None:
            raise ValidationError(
                "tunnels",
                [f"{where}: no up link {a} -> {b} in topology {topology.name!r}; fix the path"],
            )
        links.append(link)
    crossed = [n for n in nodes[1:-1] if not topology.nodes[n].transit]
    if crossed:
        raise ValidationError(
            "tunnels",
            [
                f"{where}: crosses non-transit router {crossed[0]!r}, which carries no other "
                "router's traffic; route around it or set transit: true on it"
            ],
        )
    return Path(
        nodes=tuple(nodes),
        links=tuple(lk.key for lk in links),
        latency_s=sum(lk.delay_s for lk in links),
        cost=float(sum(lk.igp_metric for lk in links)),
    )


def tunnel_set_from_paths(
    topology: Topology, pairs: Sequence[tuple[str, str]], per_pair: Sequence[Sequence[Path]]
) -> TunnelSet:
    """Assemble a TunnelSet from ready-made paths (one list per pair, aligned with `pairs`)."""
    link_keys = tuple(lk.key for lk in topology.links)
    column = {key: i for i, key in enumerate(link_keys)}
    paths: list[Path] = []
    owner: list[int] = []
    rows: list[int] = []
    cols: list[int] = []
    for d, plist in enumerate(per_pair):
        for path in plist:
            for key in path.links:
                rows.append(len(paths))
                cols.append(column[key])
            paths.append(path)
            owner.append(d)
    incidence = sp.csr_matrix(
        (np.ones(len(rows)), (rows, cols)), shape=(len(paths), len(link_keys))
    )
    incidence.sum_duplicates()
    return TunnelSet(
        capacities=np.array([lk.capacity_bps for lk in topology.links], dtype=float),
        link_keys=link_keys,
        pairs=tuple(pairs),
        path_pair=np.array(owner, dtype=np.int64),
        path_links=incidence,
        paths=tuple(paths),
    )


def build_tunnel_set(
    topology: Topology, tunnels: Mapping[tuple[str, str], Sequence[Sequence[str]]]
) -> TunnelSet:
    """TunnelSet from explicit paths given as node-name lists (parallel links: lowest IGP metric).

    A path over a missing or down link raises ValidationError naming it.
    """
    pairs = list(tunnels)
    per_pair = []
    for src, dst in pairs:
        plist = []
        for i, nodes in enumerate(tunnels[(src, dst)]):
            where = f"tunnel {i + 1} of {src}->{dst} ({'-'.join(nodes)})"
            if nodes and (nodes[0] != src or nodes[-1] != dst):
                raise ValidationError("tunnels", [f"{where}: does not join {src} to {dst}"])
            plist.append(_path_of(topology, nodes, where))
        per_pair.append(plist)
    return tunnel_set_from_paths(topology, pairs, per_pair)


def k_shortest_tunnels(
    topology: Topology,
    pairs: Iterable[tuple[str, str]],
    k: int = 4,
    max_latency_s: float | None = None,
    *,
    max_candidates: int = 64,
    on_pair: Callable[[], None] | None = None,
) -> TunnelSet:
    """The k shortest loop-free paths by IGP metric per pair that meet `max_latency_s`.

    Yen's algorithm (`ksp.YenKsp`) enumerates paths in IGP order; paths over the latency bound
    are skipped, looking at most `max_candidates` paths per pair. A pair with no qualifying path
    raises ValidationError naming it.
    """
    if k < 1:
        raise ValidationError("k_shortest_tunnels", [f"k must be at least 1, got {k}"])
    yen = YenKsp.of(topology)
    bound = float("inf") if max_latency_s is None else max_latency_s * (1 + 1e-12)
    pair_list = list(pairs)
    per_pair = []
    for src, dst in pair_list:
        for end in (src, dst):
            topology.node(end)
        if src == dst:
            raise ValidationError("tunnels", [f"pair {src}->{dst}: source equals destination"])
        found = yen.k_paths(
            src, dst, k, lambda links: sum(lk.delay_s for lk in links) <= bound, max_candidates
        )
        if not found:
            words = "" if max_latency_s is None else f" within {max_latency_s * 1e3:.3g} ms"
            raise ValidationError(
                "tunnels", [f"no path from {src} to {dst}{words}; drop the pair or relax the bound"]
            )
        per_pair.append([_path_from_links(links) for links in found])
        if on_pair is not None:
            on_pair()
    return tunnel_set_from_paths(topology, pair_list, per_pair)


def _path_from_links(links: Sequence[Link]) -> Path:
    return Path(
        nodes=(links[0].src, *(lk.dst for lk in links)),
        links=tuple(lk.key for lk in links),
        latency_s=sum(lk.delay_s for lk in links),
        cost=float(sum(lk.igp_metric for lk in links)),
    )


# -- evaluating a split --------------------------------------------------------------------------


def demand_vector(ts: TunnelSet, tm: np.ndarray, node_index: Mapping[str, int]) -> np.ndarray:
    """(D,) demand of each pair of `ts`, read from an n x n matrix by `node_index[name]`."""
    try:
        rows = [node_index[s] for s, _ in ts.pairs]
        cols = [node_index[d] for _, d in ts.pairs]
    except KeyError as missing:
        raise ValidationError(
            "traffic matrix", [f"node {missing} has no row/column in the matrix index"]
        ) from None
    n = tm.shape[0]
    if tm.ndim != 2 or tm.shape[1] != n or max(rows + cols, default=0) >= n:
        raise ValidationError(
            "traffic matrix", [f"shape {tm.shape} does not cover the topology's nodes"]
        )
    out: np.ndarray = np.asarray(tm[rows, cols], dtype=float)
    return out


def path_flows(ts: TunnelSet, demand: np.ndarray, split: np.ndarray) -> np.ndarray:
    """(P,) bit/s on each path."""
    flows: np.ndarray = np.asarray(demand, dtype=float)[ts.path_pair] * np.asarray(split)
    return flows


def link_loads(ts: TunnelSet, demand: np.ndarray, split: np.ndarray) -> np.ndarray:
    """(E,) bit/s on each link of `ts.link_keys`."""
    return np.asarray(ts.path_links.T @ path_flows(ts, demand, split), dtype=float)


def mlu_of_split(ts: TunnelSet, demand: np.ndarray, split: np.ndarray) -> float:
    """Max link utilisation of routing `demand` with `split`."""
    loads = link_loads(ts, demand, split)
    return float(np.max(loads / ts.capacities)) if loads.size else 0.0


def shortest_split(ts: TunnelSet) -> np.ndarray:
    """All traffic on each pair's first (lowest-cost) path: plain shortest-path routing."""
    split = np.zeros(ts.num_paths)
    first = np.unique(ts.path_pair, return_index=True)[1]
    split[first] = 1.0
    return split


def normalise_split(ts: TunnelSet, weights: np.ndarray) -> np.ndarray:
    """Scale non-negative path weights to sum to 1 per pair (all on the first path if zero)."""
    weights = np.clip(np.asarray(weights, dtype=float), 0.0, None)
    totals = np.bincount(ts.path_pair, weights=weights, minlength=len(ts.pairs))
    per_path = totals[ts.path_pair]
    split = np.divide(weights, per_path, out=np.zeros_like(weights), where=per_path > 0)
    empty = totals <= 0
    if empty.any():
        split += shortest_split(ts) * empty[ts.path_pair]
    out: np.ndarray = split
    return out


# -- the LP --------------------------------------------------------------------------------------


def _check_demand(ts: TunnelSet, demand: np.ndarray) -> np.ndarray:
    demand = np.asarray(demand, dtype=float)
    if demand.shape != (len(ts.pairs),):
        raise ValidationError(
            "demand",
            [f"expected {len(ts.pairs)} values aligned with the pairs, got {demand.shape}"],
        )
    if not np.isfinite(demand).all() or (demand < 0).any():
        raise ValidationError("demand", ["demands must be finite and >= 0 bit/s"])
    return demand


class MinMluLp:
    """The min-MLU LP of one TunnelSet, kept in HiGHS between solves (warm start)."""

    def __init__(self, ts: TunnelSet) -> None:
        self.ts = ts
        self.scale = float(ts.capacities.max()) if ts.capacities.size else 1.0
        used = np.flatnonzero(np.asarray(ts.path_links.sum(axis=0)).ravel() > 0)
        self.used_links = used
        num_p, num_d, num_e = ts.num_paths, len(ts.pairs), len(used)
        # rows: demand rows 0..D-1, then link rows D..D+E-1; columns: paths, then U.
        demand_rows = sp.csr_matrix(
            (np.ones(num_p), (ts.path_pair, np.arange(num_p))), shape=(num_d, num_p)
        )
        link_rows = ts.path_links[:, used].T.tocsr()
        caps = -ts.capacities[used] / self.scale
        u_col = sp.vstack([sp.csr_matrix((num_d, 1)), sp.csr_matrix(caps.reshape(-1, 1))])
        matrix = sp.hstack([sp.vstack([demand_rows, link_rows]), u_col]).tocsc()
        lp = highspy.HighsLp()
        lp.num_col_ = num_p + 1
        lp.num_row_ = num_d + num_e
        lp.col_cost_ = np.r_[np.zeros(num_p), 1.0]
        lp.col_lower_ = np.zeros(num_p + 1)
        lp.col_upper_ = np.full(num_p + 1, highspy.kHighsInf)
        lp.row_lower_ = np.r_[np.zeros(num_d), np.full(num_e, -highspy.kHighsInf)]
        lp.row_upper_ = np.zeros(num_d + num_e)
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = matrix.indptr
        lp.a_matrix_.index_ = matrix.indices
        lp.a_matrix_.value_ = matrix.data
        lp.a_matrix_.num_col_ = num_p + 1
        lp.a_matrix_.num_row_ = num_d + num_e
        self.highs = highspy.Highs()  # type: ignore[no-untyped-call]
        self.highs.setOptionValue("output_flag", False)
        self.highs.passModel(lp)
        self._rows = np.arange(num_d, dtype=np.int32)

    def solve(self, demand: np.ndarray, *, cold: bool = False) -> MluSolution:
        """The min-MLU split of `demand`. Warm-started from the last solve's basis unless
        `cold`: the LP is degenerate (only the bottleneck links' flows are fixed), so which
        optimal split a warm start returns depends on the solves before it; a cold solve
        returns the same split for the same demand whatever came before (evaluations that
        compare methods need that; the controller keeps the warm start's speed)."""
        ts = self.ts
        demand = _check_demand(ts, demand)
        has_path = np.bincount(ts.path_pair, minlength=len(ts.pairs)) > 0
        stranded = np.flatnonzero((demand > 0) & ~has_path)
        if stranded.size:
            src, dst = ts.pairs[stranded[0]]
            raise ValidationError("demand", [f"pair {src}->{dst} has demand but no tunnel"])
        start = time.perf_counter()
        scaled = demand / self.scale
        if cold:
            self.highs.clearSolver()
        self.highs.changeRowsBounds(  # type: ignore[attr-defined]
            len(self._rows), self._rows, scaled, scaled
        )
        status = self.highs.run()
        model_status = self.highs.getModelStatus()
        if status != highspy.HighsStatus.kOk or model_status != highspy.HighsModelStatus.kOptimal:
            raise ValidationError("min-MLU LP", [f"HiGHS did not reach an optimum: {model_status}"])
        values = np.asarray(self.highs.getSolution().col_value)
        seconds = time.perf_counter() - start
        split = normalise_split(ts, values[:-1])
        return MluSolution(mlu=mlu_of_split(ts, demand, split), split=split, seconds=seconds)


def min_mlu_lp(ts: TunnelSet, demand: np.ndarray, *, cold: bool = False) -> MluSolution:
    """Exact minimum MLU of routing `demand` (D,) over the tunnels of `ts` (HiGHS LP); `cold`:
    a split that does not depend on earlier solves (`MinMluLp.solve`)."""
    solver = ts.cache.get("lp")
    if solver is None:
        solver = ts.cache["lp"] = MinMluLp(ts)
    assert isinstance(solver, MinMluLp)
    return solver.solve(demand, cold=cold)
