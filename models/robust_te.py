"""Robust traffic engineering on forecasts: one split that is good for a set of plausible matrices.

Routing on one predicted matrix is fragile: when the forecast misses a burst, the split chosen
for it can load a link far above what the actual matrix needed. The robust split minimises the
worst *regret ratio* over a set of scenarios (forecast p50 and p90, the last matrix, the same
time one day earlier):

    minimise U  s.t.  MLU(split, scenario_k) <= U * OPT_k   for every scenario k

with OPT_k the scenario's own min-MLU. Dividing scenario k's demands by OPT_k turns this into
the worst-MLU LP of `models.hedge.hedge_split` (one LP, the split variables shared by K sets of
link rows; HiGHS). Without the division the largest scenario (the p90) would decide alone.
The set is chosen per horizon (`ScenarioSet`, `CHOSEN_SETS`): issue 18's first set was p50,
p90, the last matrix and the day-ago one (`FIRST_SET`); the sets now used were chosen on
GEANT steps 285-332 only, before every test block (docs/ML.md).
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


@dataclass(frozen=True)
class ScenarioSet:
    """Named forecasts (e.g. "blend", "blend_p90", "seasonal_naive") plus the `recent` latest
    matrices y[t], y[t - 1], ... as the robust split's scenarios."""

    forecasts: tuple[str, ...]
    recent: int = 0


FIRST_SET = ScenarioSet(("blend", "blend_p90", "last_value", "seasonal_naive"))
"""Issue 18's first set, fixed before any TE figure was seen (`--robust-set first`)."""
CHOSEN_SETS: dict[int, ScenarioSet] = {
    1: ScenarioSet((), 18),
    3: ScenarioSet((), 18),
    12: ScenarioSet((), 24),
}
"""Per horizon, the set with the lowest TE-ratio mean + p95 on GEANT steps 285-332 (the blend
fitted on 237-284), among 19 candidates at 5 minutes and 8 at 60: the last 18 and the last 24
matrices, no forecast. 15 minutes was not studied and takes the 5-minute set; other horizons
take it too."""


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
    sets: Mapping[int, ScenarioSet] = field(default_factory=lambda: dict(CHOSEN_SETS))
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
            for name, split in self.splits(forecasts, i, t, self.scenario_set(horizon)).items():
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

    def scenario_set(self, horizon: int) -> ScenarioSet:
        return self.sets.get(horizon, self.sets.get(1, FIRST_SET))

    def splits(
        self, forecasts: Forecasts, i: int, t: int, chosen: ScenarioSet
    ) -> dict[str, np.ndarray]:
        """The min-MLU split of each routed method's forecast i and the robust split over the
        set's forecasts and the matrices up to origin t."""
        out = {m: self.te.route(forecasts[m][i]) for m in self.routed if m in forecasts}
        rows = [forecasts[m][i] for m in chosen.forecasts if m in forecasts]
        rows += list(self.y[max(0, t - chosen.recent + 1) : t + 1][::-1]) if chosen.recent else []
        demands = np.stack([self.te.demand(r) for r in rows])
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
