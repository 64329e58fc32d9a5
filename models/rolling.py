"""Rolling-origin evaluation over test blocks, each with the validation block just before it.

A fold is (validation block, test block). Every choice that is fitted (the EWMA smoothing, the
blend's weights and p90 offsets) is made on the validation block's targets only; the test block
is forecast once with those choices. Forecasts are causal (made at t = target - h from y[: t + 1]),
so history before the validation block needs no fitting: it is only the past the methods read.

GEANT is cut by time into equal blocks at its end; the Facebook pods by week (one file a week:
test on week w, validate on the day before it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from controller.errors import UsageError
from models.baselines import ALPHA_GRID, ewma_levels, predict_ewma
from models.blend import BlendConfig, SeasonalBlend
from models.features import FeatureConfig
from models.forecast import ForecastModel
from models.metrics import coverage, nmae, rmse
from models.seasonal import WEEK_DAYS, seasonal_naive, seasonal_profile
from models.split import HORIZONS

BASELINES = ("last_value", "ewma", "seasonal_naive", "seasonal_week", "seasonal_profile")
Forecasts = dict[str, np.ndarray]
FoldHook = Callable[["Fold", int, np.ndarray, Forecasts], dict[str, dict[str, float]]]


@dataclass(frozen=True)
class Fold:
    """Validation targets [val_start, test_start), test targets [test_start, test_end)."""

    label: str
    val_start: int
    test_start: int
    test_end: int


@dataclass(frozen=True)
class RollingConfig:
    horizons: tuple[int, ...] = HORIZONS
    season: int = 288
    blend: BlendConfig = field(default_factory=BlendConfig)
    model: bool = False
    """Also train the pooled HGB forecaster (models/forecast.py) on the steps before each
    validation block and offer its forecasts to the blend as one more candidate."""
    model_rows: int = 50_000


def folds_by_blocks(steps: int, blocks: int, block_steps: int, val_steps: int) -> list[Fold]:
    """The last `blocks` blocks of `block_steps` are test blocks, each after `val_steps`."""
    first = steps - blocks * block_steps
    if blocks < 1 or block_steps < 1 or val_steps < 1 or first - val_steps < max(HORIZONS):
        raise UsageError(
            f"{blocks} test blocks of {block_steps} steps after {val_steps} validation steps do "
            f"not fit in {steps} steps; give fewer or shorter --blocks/--block-steps/--val-steps"
        )
    return [
        Fold(f"steps {a}-{a + block_steps - 1}", a - val_steps, a, a + block_steps)
        for a in range(first, steps, block_steps)
    ]


def folds_by_files(lengths: Sequence[int], val_steps: int, names: Sequence[str]) -> list[Fold]:
    """Test on each file after the first, validate on the last `val_steps` steps before it."""
    starts = np.cumsum([0, *lengths])
    if len(lengths) < 2 or val_steps < 1 or val_steps + max(HORIZONS) > lengths[0]:
        raise UsageError("give at least two --tm files, and --val-steps shorter than the first")
    return [
        Fold(str(names[i]), int(starts[i]) - val_steps, int(starts[i]), int(starts[i + 1]))
        for i in range(1, len(lengths))
    ]


def tune_alpha(y: np.ndarray, origins: np.ndarray, horizon: int) -> float:
    """The EWMA smoothing with the lowest NMAE on the validation targets."""
    hist, actual = y[: int(origins.max()) + 1], y[origins + horizon]
    scores = [nmae(actual, ewma_levels(hist, a)[origins]) for a in ALPHA_GRID]
    return ALPHA_GRID[int(np.argmin(scores))]


def fold_forecasts(
    y: np.ndarray,
    fold: Fold,
    horizon: int,
    cfg: RollingConfig,
    model: ForecastModel | None = None,
) -> tuple[np.ndarray, Forecasts, dict[str, Any]]:
    """Test origins and every method's forecasts for them; choices made on validation only."""
    val = np.arange(fold.val_start, fold.test_start) - horizon
    test = np.arange(fold.test_start, fold.test_end) - horizon
    alpha = tune_alpha(y, val, horizon)
    extra_val, extra_test = _model_candidates(y, model, horizon, (val, test))
    blend = SeasonalBlend(cfg.blend).fit(y, val, horizon, extra_val)
    p50, p90 = blend.predict(y, test, horizon, extra_test)
    day, day_fb = seasonal_naive(y, test, horizon, cfg.season)
    week, week_fb = seasonal_naive(y, test, horizon, cfg.season * WEEK_DAYS)
    profile, _ = seasonal_profile(y, test, horizon, cfg.season)
    out: Forecasts = {
        "last_value": np.asarray(y[test], dtype=float),
        "ewma": predict_ewma(y, test, alpha),
        "seasonal_naive": day,
        "seasonal_profile": profile,
        "blend": p50,
        "blend_p90": p90,
    }
    if week_fb == 0:
        out["seasonal_week"] = week
    if extra_test:
        out["model"] = extra_test["model"]
    chosen = {
        "ewma_alpha": alpha,
        "blend_weights": {k: round(v, 3) for k, v in blend.weights[horizon].items() if v > 0},
        "blend_val_nmae": blend.val_nmae[horizon],
        "day_fallbacks": day_fb,
        "week_reached": week_fb == 0,
    }
    return test, out, chosen


def fold_model(y: np.ndarray, fold: Fold, cfg: RollingConfig) -> ForecastModel | None:
    """The pooled HGB forecaster trained on targets before the fold's validation block (mean
    only), when `cfg.model` asks for it."""
    if not cfg.model:
        return None
    model = ForecastModel(
        cfg=FeatureConfig(season=cfg.season), horizons=cfg.horizons, max_rows=cfg.model_rows
    )
    return model.fit(y, fold.val_start, with_p90=False)


def _model_candidates(
    y: np.ndarray, model: ForecastModel | None, horizon: int, origins: tuple[np.ndarray, ...]
) -> tuple[Forecasts, ...]:
    """The model's mean forecasts for each set of origins (nothing without a model)."""
    if model is None:
        return tuple({} for _ in origins)
    ctx = model.context(y[: max(int(o.max()) for o in origins) + 1])
    return tuple({"model": model.predict(ctx, o, horizon)[0]} for o in origins)


def score(actual: np.ndarray, forecasts: Forecasts) -> dict[str, dict[str, float]]:
    out = {n: {"nmae": nmae(actual, p), "rmse": rmse(actual, p)} for n, p in forecasts.items()}
    out["blend"]["p50_coverage"] = coverage(actual, forecasts["blend"])
    out["blend_p90"]["p90_coverage"] = coverage(actual, forecasts["blend_p90"])
    return out


def oracle_nmae(actual: np.ndarray) -> float:
    """NMAE of each series' own median over the block: a non-causal bound (it knows every
    target of the block), not a forecaster. Where even it is not 5% better than the best
    baseline, what is left is noise around a level, and no forecaster of the level gets there."""
    return nmae(actual, np.broadcast_to(np.median(actual, axis=0), actual.shape))


def best_baseline(methods: dict[str, dict[str, float]]) -> tuple[str, float]:
    name = min((n for n in BASELINES if n in methods), key=lambda n: methods[n]["nmae"])
    return name, methods[name]["nmae"]


def evaluate_rolling(
    y: np.ndarray, folds: Sequence[Fold], cfg: RollingConfig, hook: FoldHook | None = None
) -> dict[str, Any]:
    """Per fold and horizon: every method's NMAE/RMSE (and what `hook` adds, e.g. TE ratios),
    the best baseline and the blend's ratio to it."""
    y = np.asarray(y, dtype=float)
    out: list[dict[str, Any]] = []
    for fold in folds:
        horizons: dict[str, Any] = {}
        model = fold_model(y, fold, cfg)
        for h in cfg.horizons:
            test, forecasts, chosen = fold_forecasts(y, fold, h, cfg, model)
            methods = score(y[test + h], forecasts)
            if hook is not None:
                for name, extra in hook(fold, h, test, forecasts).items():
                    methods.setdefault(name, {}).update(extra)
            best, best_nmae = best_baseline(methods)
            horizons[str(h)] = {
                "methods": methods,
                "best_baseline": best,
                "blend_vs_best": methods["blend"]["nmae"] / best_nmae if best_nmae else 1.0,
                "oracle_vs_best": oracle_nmae(y[test + h]) / best_nmae if best_nmae else 1.0,
                "chosen_on_validation": chosen,
            }
        out.append(
            {"fold": fold.label, "validation": [fold.val_start, fold.test_start],
             "test": [fold.test_start, fold.test_end], "horizons": horizons}
        )  # fmt: skip
    return {"folds": out, "summary": summary(out, cfg.horizons)}


def summary(folds: list[dict[str, Any]], horizons: Sequence[int]) -> dict[str, Any]:
    """Per horizon: mean NMAE of each method over folds, and the worst blend/best-baseline."""
    out: dict[str, Any] = {}
    for h in map(str, horizons):
        names = set.intersection(*(set(f["horizons"][h]["methods"]) for f in folds))
        ratios = [f["horizons"][h]["blend_vs_best"] for f in folds]
        out[h] = {
            "mean_nmae": {
                n: float(np.mean([f["horizons"][h]["methods"][n]["nmae"] for f in folds]))
                for n in sorted(names)
                if "nmae" in folds[0]["horizons"][h]["methods"][n]
            },
            "blend_vs_best_worst": float(max(ratios)),
            "blend_vs_best_mean": float(np.mean(ratios)),
            "folds_at_goal": int(sum(r <= 0.95 for r in ratios)),
            "oracle_vs_best_mean": float(
                np.mean([f["horizons"][h]["oracle_vs_best"] for f in folds])
            ),
        }
    return out
