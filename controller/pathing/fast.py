"""A fast approximate min-MLU method with a time budget, over the same TunnelSet as the LP.

Accelerated projected gradient (FISTA with restarts) on a smoothed max: the log-sum-exp of link
utilisations with temperature beta = scale * log(E) / MLU; `scale` starts at 5 and is raised
whenever a round of 50 iterations improves the MLU by less than 0.2% (continuation). Each
iteration costs two sparse products (path flows -> link loads, link prices -> path prices) and
a projection of each pair's split onto the simplex, vectorised over a pairs x k matrix. The link
prices (softmax weights / capacity) also prove a lower bound on the optimum for free (LP
duality: MLU* >= sum_d demand_d * min_{p in d} price(p) when the weights sum to 1), so the
method stops once within `tolerance` of it. Warm start with a previous split.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from controller.pathing.optimizer import (
    TunnelSet,
    _check_demand,
    normalise_split,
    shortest_split,
)

RESTART_EVERY = 50
STALL = 0.002


@dataclass(frozen=True)
class FastSolution:
    """Best split found, its MLU, a proven lower bound on the optimum, time and iterations."""

    mlu: float
    split: np.ndarray
    seconds: float
    lower_bound: float
    iterations: int


@dataclass
class _Problem:
    """The TunnelSet as a (pairs x k) padded matrix for vectorised per-pair operations."""

    ts: TunnelSet
    idx: np.ndarray  # (D', K) path index, 0 where padded
    valid: np.ndarray  # (D', K) bool
    pair_demand: np.ndarray  # (D',)
    path_demand: np.ndarray  # (P,)
    inv_cap: np.ndarray
    links_by_path: sp.csr_matrix  # (E x P) transposed incidence

    @classmethod
    def of(cls, ts: TunnelSet, demand: np.ndarray) -> _Problem:
        starts = np.unique(ts.path_pair, return_index=True)[1]
        order = np.argsort(ts.path_pair, kind="stable")
        counts = np.bincount(ts.path_pair, minlength=len(ts.pairs))[ts.path_pair[starts]]
        width = int(counts.max()) if counts.size else 1
        offsets = np.r_[0, np.cumsum(counts)[:-1]]
        column = np.arange(width)
        valid = column[None, :] < counts[:, None]
        idx = np.where(valid, order[np.minimum(offsets[:, None] + column, len(order) - 1)], 0)
        return cls(
            ts=ts,
            idx=idx,
            valid=valid,
            pair_demand=demand[ts.path_pair[starts]],
            path_demand=demand[ts.path_pair],
            inv_cap=1.0 / ts.capacities,
            links_by_path=ts.path_links.T.tocsr(),
        )

    def util(self, x: np.ndarray) -> np.ndarray:
        flows = np.zeros(self.ts.num_paths)
        flows[self.idx[self.valid]] = x[self.valid]
        loads = self.links_by_path @ (self.path_demand * flows)
        util: np.ndarray = np.asarray(loads) * self.inv_cap
        return util

    def to_split(self, x: np.ndarray) -> np.ndarray:
        split = np.zeros(self.ts.num_paths)
        split[self.idx[self.valid]] = x[self.valid]
        return normalise_split(self.ts, split)


def project_rows(v: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Euclidean projection of each row (its valid entries) onto the probability simplex."""
    u = -np.sort(-np.where(valid, v, -np.inf), axis=1)
    finite = np.isfinite(u)
    css = np.cumsum(np.where(finite, u, 0.0), axis=1)
    j = np.arange(1, v.shape[1] + 1)
    cond = finite & (u - (css - 1) / j > 0)
    rho = v.shape[1] - 1 - np.argmax(cond[:, ::-1], axis=1)
    theta = (css[np.arange(len(v)), rho] - 1) / (rho + 1)
    out: np.ndarray = np.where(valid, np.maximum(v - theta[:, None], 0.0), 0.0)
    return out


def _smooth_max(beta: float, util: np.ndarray) -> float:
    top = float(util.max())
    return top + math.log(float(np.exp(beta * (util - top)).sum())) / beta


@dataclass
class _State:
    x: np.ndarray
    best_x: np.ndarray
    best: float
    lower: float = 0.0
    step: float = 0.0
    scale: float = 5.0


def fast_min_mlu(
    ts: TunnelSet,
    demand: np.ndarray,
    *,
    time_budget_s: float = 5.0,
    tolerance: float = 0.005,
    warm_split: np.ndarray | None = None,
    max_iterations: int = 1_000_000,
) -> FastSolution:
    """Approximate min-MLU split within `time_budget_s`; stops within `tolerance` of the bound."""
    start = time.perf_counter()
    demand = _check_demand(ts, demand)
    if ts.num_paths == 0 or not demand.any():
        split = normalise_split(ts, np.zeros(ts.num_paths))
        return FastSolution(0.0, split, time.perf_counter() - start, 0.0, 0)
    prob = _Problem.of(ts, demand)
    starts = [np.ones(ts.num_paths), shortest_split(ts)] if warm_split is None else [warm_split]
    x0 = min(
        (np.where(prob.valid, normalise_split(ts, np.asarray(s))[prob.idx], 0.0) for s in starts),
        key=lambda x: float(prob.util(x).max()),
    )
    state = _State(x=x0, best_x=x0, best=float(prob.util(x0).max()))
    it = 0
    deadline = start + time_budget_s
    while it < max_iterations and time.perf_counter() < deadline:
        rounds = min(RESTART_EVERY, max_iterations - it)
        before = state.best
        it += _fista_round(prob, state, rounds, tolerance=tolerance, deadline=deadline)
        if state.best <= state.lower * (1 + tolerance):
            break
        if before - state.best < STALL * before:  # progress stalled: sharpen the smoothing
            state.scale = min(state.scale * 1.5, 5000.0)
        state.x = state.best_x
    seconds = time.perf_counter() - start
    return FastSolution(state.best, prob.to_split(state.best_x), seconds, state.lower, it)


def _fista_round(
    prob: _Problem, state: _State, rounds: int, *, tolerance: float, deadline: float
) -> int:
    """Up to `rounds` accelerated steps at a fixed temperature; returns steps taken."""
    beta = state.scale * math.log(len(prob.inv_cap)) / max(state.best, 1e-300)
    x_prev = y = state.x
    t = 1.0
    for it in range(1, rounds + 1):
        uy = prob.util(y)
        weights = np.exp(beta * (uy - uy.max()))
        weights /= weights.sum()
        path_price = prob.ts.path_links @ (weights * prob.inv_cap)
        price = np.where(prob.valid, path_price[prob.idx], np.inf)
        state.lower = max(state.lower, float(prob.pair_demand @ price.min(axis=1)))
        grad = np.where(prob.valid, price, 0.0) * prob.pair_demand[:, None]
        if state.step <= 0:
            state.step = 2.0 / (float(np.abs(grad).max()) + 1e-300)
        x_new, u_new = _backtrack(prob, state, beta, y, uy=uy, grad=grad)
        if float(u_new.max()) < state.best:
            state.best, state.best_x = float(u_new.max()), x_new
        if state.best <= state.lower * (1 + tolerance) or time.perf_counter() > deadline:
            return it
        t_new = (1 + math.sqrt(1 + 4 * t * t)) / 2
        y = x_new + ((t - 1) / t_new) * (x_new - x_prev)
        x_prev, t = x_new, t_new
        state.step *= 1.5
    return rounds


def _backtrack(
    prob: _Problem,
    state: _State,
    beta: float,
    y: np.ndarray,
    *,
    uy: np.ndarray,
    grad: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    fy = _smooth_max(beta, uy)
    while True:
        x_new = project_rows(y - state.step * grad, prob.valid)
        u_new = prob.util(x_new)
        diff = x_new - y
        bound = fy + float((grad * diff).sum()) + float((diff**2).sum()) / (2 * state.step)
        if _smooth_max(beta, u_new) <= bound + 1e-15 or state.step < 1e-300:
            return x_new, u_new
        state.step *= 0.5
