"""Robust traffic engineering on forecasts: one split that is good for a set of plausible matrices.

Routing on one predicted matrix is fragile: when the forecast misses a burst, the split chosen
for it can load a link far above what the actual matrix needed. The robust split minimises the
worst *regret ratio* over a set of scenarios (forecast p50 and p90, the last matrix, the same
time one day earlier):

    minimise U  s.t.  MLU(split, scenario_k) <= U * OPT_k   for every scenario k

with OPT_k the scenario's own min-MLU. Dividing scenario k's demands by OPT_k turns this into
the worst-MLU LP of `models.hedge.hedge_split` (one LP, the split variables shared by K sets of
link rows; HiGHS). Without the division the largest scenario (the p90) would decide alone.
The set (`ScenarioSet`): issue 18's first set was p50, p90, the last matrix and the day-ago one
(`FIRST_SET`); the second pass chose one set per horizon once, on GEANT steps 285-332
(`CHOSEN_SETS`). The default now chooses per fold and horizon among `CANDIDATE_SETS`, on that
fold's own validation block (`TeScorer.select`), and routes the test block with the winner.
`TeScorer` scores every routing method's TE ratio inside the rolling-origin evaluation.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from controller.errors import UsageError
from controller.pathing.optimizer import TunnelSet, demand_vector, min_mlu_lp
from models.blend import SeasonalBlend
from models.hedge import hedge_split
from models.rolling import Fold, Forecasts, RollingConfig
from models.seasonal import seasonal_naive
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

_P50_P90 = ("blend", "blend_p90")
CANDIDATE_SETS: dict[str, ScenarioSet] = {
    "first": FIRST_SET,
    "last 6": ScenarioSet((), 6),
    "last 12": ScenarioSet((), 12),
    "last 18": ScenarioSet((), 18),
    "last 24": ScenarioSet((), 24),
    "p50+p90+last": ScenarioSet(_P50_P90, 1),
    "p50+p90+last 12": ScenarioSet(_P50_P90, 12),
    "p50+p90+last 18": ScenarioSet(_P50_P90, 18),
    "p50+p90+last 24": ScenarioSet(_P50_P90, 24),
}
"""The sets `--robust-set per-fold` chooses among, per fold and horizon, on the fold's validation
block (lowest TE-ratio mean + p95; a tie goes to the earlier entry). Fixed before any test
figure of the per-fold mode was seen: the sets of docs/ML.md's second-pass table."""


def set_name(chosen: ScenarioSet) -> str:
    """The candidate name of a set (e.g. "last 18"), or a description of it."""
    names = [k for k, v in CANDIDATE_SETS.items() if v == chosen]
    return names[0] if names else f"{'+'.join(chosen.forecasts)}+last {chosen.recent}"


def validation_forecasts(
    y: np.ndarray, fold: Fold, horizon: int, cfg: RollingConfig
) -> tuple[np.ndarray, Forecasts, dict[str, np.ndarray]]:
    """Origins of the fold's validation block (targets [val_start, test_start) - horizon) and
    the forecasts the candidate sets read there, each causal (from y up to its origin) and
    fitted on nothing from the validation block: the blend's p50 and p90 fitted on the block
    of the same length just before it (as the test block's blend is fitted on the validation
    block; without the trained model, which is fitted up to the validation block), the last
    value and the day-ago matrix. Also the steps whose matrices the last value and the
    day-ago forecast are (their optima are known)."""
    length = fold.test_start - fold.val_start
    inner_start = max(fold.val_start - length, horizon)
    if fold.val_start - inner_start < 2:
        raise UsageError(
            f"fold {fold.label}: --robust-set per-fold fits the blend on the steps before the "
            "validation block and there are too few; give more history or --robust-set chosen"
        )
    inner = np.arange(inner_start, fold.val_start) - horizon
    val = np.arange(fold.val_start, fold.test_start) - horizon
    blend = SeasonalBlend(cfg.blend).fit(y, inner, horizon)
    p50, p90 = blend.predict(y, val, horizon)
    day, _ = seasonal_naive(y, val, horizon, cfg.season)
    back = val + horizon - cfg.season
    steps = {"last_value": val, "seasonal_naive": np.where(back >= 0, back, val)}
    forecasts = {"last_value": np.asarray(y[val], dtype=float), "seasonal_naive": day}
    return val, forecasts | {"blend": p50, "blend_p90": p90}, steps


@dataclass(frozen=True)
class RobustSplit:
    split: np.ndarray
    worst_ratio: float
    """The worst MLU / OPT over the scenarios (1.0: one split is optimal for all)."""
    optima: np.ndarray


def robust_split(
    ts: TunnelSet, demands: np.ndarray, optima: np.ndarray | None = None
) -> RobustSplit:
    """The split minimising max_k MLU_k / OPT_k over demand vectors `demands` (K, D); `optima`
    (K,), when known (e.g. from a `.opt` file), spares the K min-MLU LPs."""
    demands = np.atleast_2d(np.asarray(demands, dtype=float))
    if optima is None:
        optima = np.array([min_mlu_lp(ts, d).mlu for d in demands])
    optima = np.asarray(optima, dtype=float)
    live = optima > 0
    if not live.any():
        return RobustSplit(min_mlu_lp(ts, demands[0]).split, 1.0, optima)
    split, worst = hedge_split(ts, demands[live] / optima[live, None])
    return RobustSplit(split, worst, optima)


@dataclass
class TeScorer:
    """TE ratios of routing on each method's forecast, collected per (fold, horizon).

    The robust split's set is `sets[horizon]`, or, with `per_fold` (the rolling configuration,
    for the validation forecasts), the one `select` chooses on the fold's validation block.
    Optima of past matrices come from the `.opt` values (`TeContext.optimal`) or one LP per
    step; splits over recent matrices only are kept per (set, origin), for every horizon."""

    te: TeContext
    y: np.ndarray
    stride: int = 1
    routed: tuple[str, ...] = ROUTED
    sets: Mapping[int, ScenarioSet] = field(default_factory=lambda: dict(CHOSEN_SETS))
    per_fold: RollingConfig | None = None
    candidates: Mapping[str, ScenarioSet] = field(default_factory=lambda: dict(CANDIDATE_SETS))
    seconds: float = 0.0
    validation_seconds: float = 0.0
    all_ratios: dict[tuple[int, str], list[float]] = field(default_factory=dict)
    choices: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    _demands: dict[int, np.ndarray] = field(default_factory=dict)
    _recent: dict[tuple[int, int], np.ndarray] = field(default_factory=dict)

    def __call__(
        self, fold: Fold, horizon: int, origins: np.ndarray, forecasts: Forecasts
    ) -> dict[str, dict[str, float]]:
        start = time.perf_counter()
        if self.per_fold is not None:
            chosen = self.candidates[self.select(fold, horizon)["chosen"]]
        else:
            chosen = self.scenario_set(horizon)
            self.choices[(fold.label, horizon)] = {"chosen": set_name(chosen)}
        ratios: dict[str, list[float]] = {}
        for i in range(0, len(origins), max(1, self.stride)):
            t = int(origins[i])
            actual = self.y[t + horizon]
            for name, split in self.splits(forecasts, i, t, chosen).items():
                ratios.setdefault(name, []).append(self.te.ratio(split, t + horizon, actual))
        self.seconds += time.perf_counter() - start
        for name, values in ratios.items():
            self.all_ratios.setdefault((horizon, name), []).extend(values)
        return {name: summarise(values) for name, values in ratios.items()}

    def select(self, fold: Fold, horizon: int) -> dict[str, Any]:
        """Route every candidate set over the fold's validation origins (forecasts from data
        before the validation block: `validation_forecasts`) and choose the lowest TE-ratio
        mean + p95. Reads no step at or after `fold.test_start`."""
        assert self.per_fold is not None
        start = time.perf_counter()
        origins, forecasts, steps = validation_forecasts(self.y, fold, horizon, self.per_fold)
        ratios: dict[str, list[float]] = {name: [] for name in self.candidates}
        for i in range(0, len(origins), max(1, self.stride)):
            t = int(origins[i])
            known: dict[str, float] = {m: self.step_optimum(int(s[i])) for m, s in steps.items()}
            for name, chosen in self.candidates.items():
                split = self.robust(forecasts, i, t, chosen, known)
                ratios[name].append(self.te.ratio(split, t + horizon, self.y[t + horizon]))
        scores = {name: summarise(values) for name, values in ratios.items()}
        best = min(
            scores, key=lambda n: scores[n]["te_ratio_mean"] + scores[n]["te_ratio_p95"]
        )  # min keeps the first of equal scores: the candidates' order breaks ties
        choice = {
            "chosen": best,
            "validation": {
                name: {"mean": s["te_ratio_mean"], "p95": s["te_ratio_p95"]}
                for name, s in scores.items()
            },
            "validation_origins": len(ratios[best]),
        }
        self.choices[(fold.label, horizon)] = choice
        self.validation_seconds += time.perf_counter() - start
        return choice

    def annotate(self, result: dict[str, Any]) -> None:
        """Write each fold's choice into `folds[i].horizons[h].robust_set`."""
        for fold in result["folds"]:
            for h, d in fold["horizons"].items():
                if (fold["fold"], int(h)) in self.choices:
                    d["robust_set"] = self.choices[(fold["fold"], int(h))]

    def pooled(self) -> dict[str, dict[str, dict[str, float]]]:
        """TE ratio mean and p95 per horizon and method over the origins of every fold."""
        out: dict[str, dict[str, dict[str, float]]] = {}
        for (h, name), values in sorted(self.all_ratios.items()):
            out.setdefault(str(h), {})[name] = {**summarise(values), "origins": len(values)}
        return out

    def scenario_set(self, horizon: int) -> ScenarioSet:
        return self.sets.get(horizon, self.sets.get(1, FIRST_SET))

    def step_demand(self, step: int) -> np.ndarray:
        if step not in self._demands:
            self._demands[step] = self.te.demand(self.y[step])
        return self._demands[step]

    def step_optimum(self, step: int) -> float:
        """The min MLU of matrix `step`: its `.opt` value, else one LP per run (cached)."""
        return self.te.optimal(step, self.y[step])

    def splits(
        self, forecasts: Forecasts, i: int, t: int, chosen: ScenarioSet
    ) -> dict[str, np.ndarray]:
        """The min-MLU split of each routed method's forecast i and the robust split over the
        set's forecasts and the matrices up to origin t."""
        out: dict[str, np.ndarray] = {}
        known: dict[str, float] = {}
        for m in self.routed:
            if m in forecasts:
                # cold: the split must not depend on the LPs solved before (te_eval.route)
                solution = min_mlu_lp(self.te.ts, self.te.demand(forecasts[m][i]), cold=True)
                out[m], known[m] = solution.split, solution.mlu
        out["robust"] = self.robust(forecasts, i, t, chosen, known)
        return out

    def robust(
        self,
        forecasts: Forecasts,
        i: int,
        t: int,
        chosen: ScenarioSet,
        known: Mapping[str, float],
    ) -> np.ndarray:
        """The robust split at origin t over the set's forecasts (row i; their optima from
        `known` or one LP each) and the matrices y[t], y[t - 1], ... (optima per step)."""
        names = [m for m in chosen.forecasts if m in forecasts]
        key = (chosen.recent, t)
        if not names and key in self._recent:
            return self._recent[key]
        demands = [self.te.demand(forecasts[m][i]) for m in names]
        optima = [
            known[m] if m in known else min_mlu_lp(self.te.ts, d).mlu
            for m, d in zip(names, demands, strict=True)
        ]
        for step in range(t, max(-1, t - chosen.recent), -1):
            demands.append(self.step_demand(step))
            optima.append(self.step_optimum(step))
        split = robust_split(self.te.ts, np.stack(demands), np.array(optima)).split
        if not names:
            self._recent[key] = split
        return split


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
