"""Robust traffic engineering on forecasts: one split that is good for a set of plausible matrices.

Routing on one predicted matrix is fragile: when the forecast misses a burst, the split chosen
for it can load a link far above what the actual matrix needed. The robust split minimises the
worst *regret ratio* over a set of scenarios (forecast p50 and p90, the last matrix, the same
time one day earlier):

    minimise U  s.t.  MLU(split, scenario_k) <= U * OPT_k   for every scenario k

with OPT_k the scenario's own min-MLU. Dividing scenario k's demands by OPT_k turns this into
the worst-MLU LP of `models.hedge.hedge_split` (one LP, the split variables shared by K sets of
link rows; HiGHS). Without the division the largest scenario (the p90) would decide alone.
`te_hook` scores every routing method's TE ratio inside the rolling-origin evaluation.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from controller.pathing.optimizer import TunnelSet, demand_vector, min_mlu_lp
from models.hedge import hedge_split
from models.rolling import Fold, Forecasts
from models.te_eval import TeContext, summarise

ROUTED = ("last_value", "ewma", "seasonal_naive", "blend", "blend_p90")
SCENARIOS = ("blend", "blend_p90", "last_value", "seasonal_naive")


@dataclass(frozen=True)
class RobustSplit:
    split: np.ndarray
    worst_ratio: float
    """The worst MLU / OPT over the scenarios (1.0: one split is optimal for all)."""
    optima: np.ndarray


def robust_split(ts: TunnelSet, demands: np.ndarray) -> RobustSplit:
    """The split minimising max_k MLU_k / OPT_k over demand vectors `demands` (K, D)."""
    demands = np.atleast_2d(np.asarray(demands, dtype=float))
    optima = np.array([min_mlu_lp(ts, d).mlu for d in demands])
    live = optima > 0
    if not live.any():
        return RobustSplit(min_mlu_lp(ts, demands[0]).split, 1.0, optima)
    split, worst = hedge_split(ts, demands[live] / optima[live, None])
    return RobustSplit(split, worst, optima)


@dataclass
class TeScorer:
    """TE ratios of routing on each method's forecast, collected per (fold, horizon)."""

    te: TeContext
    y: np.ndarray
    stride: int = 1
    routed: tuple[str, ...] = ROUTED
    scenarios: tuple[str, ...] = SCENARIOS
    seconds: float = 0.0
    all_ratios: dict[tuple[int, str], list[float]] = field(default_factory=dict)

    def __call__(
        self, fold: Fold, horizon: int, origins: np.ndarray, forecasts: Forecasts
    ) -> dict[str, dict[str, float]]:
        start = time.perf_counter()
        ratios: dict[str, list[float]] = {}
        for i in range(0, len(origins), max(1, self.stride)):
            t = int(origins[i])
            actual = self.y[t + horizon]
            rows = {m: forecasts[m][i] for m in {*self.routed, *self.scenarios} if m in forecasts}
            for name, split in self.splits(rows).items():
                ratios.setdefault(name, []).append(self.te.ratio(split, t + horizon, actual))
        self.seconds += time.perf_counter() - start
        for name, values in ratios.items():
            self.all_ratios.setdefault((horizon, name), []).extend(values)
        return {name: summarise(values) for name, values in ratios.items()}

    def pooled(self) -> dict[str, dict[str, dict[str, float]]]:
        """TE ratio mean and p95 per horizon and method over the origins of every fold."""
        out: dict[str, dict[str, dict[str, float]]] = {}
        for (h, name), values in sorted(self.all_ratios.items()):
            out.setdefault(str(h), {})[name] = {**summarise(values), "origins": len(values)}
        return out

    def splits(self, rows: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The min-MLU split of each routed method and the robust split over the scenarios."""
        out = {m: self.te.route(rows[m]) for m in self.routed if m in rows}
        demands = np.stack([self.te.demand(rows[m]) for m in self.scenarios if m in rows])
        out["robust"] = robust_split(self.te.ts, demands).split
        return out


def robust_over_history(
    ts: TunnelSet,
    matrices: np.ndarray,
    index: int,
    node_index: Mapping[str, int],
    *,
    window: int,
    season: int = 288,
) -> tuple[RobustSplit, list[int]]:
    """The robust split for the interval after matrix `index` of a series (T, n, n): over the
    last `window` matrices up to `index` and, where the series reaches, the one a day before
    the next interval. Returns it and the matrix indices used."""
    used = list(range(max(0, index - window + 1), index + 1))
    if index + 1 - season >= 0:
        used.append(index + 1 - season)
    demands = np.stack([demand_vector(ts, matrices[i], node_index) for i in used])
    return robust_split(ts, demands), used
