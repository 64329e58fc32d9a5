"""Forecast evaluation on measured traffic matrices: error per horizon and the TE ratio.

Split by time (`TimeSplit`), fit on the training part only, then roll the origin over the test
part: at each origin t every method forecasts t + h from y[: t + 1]. The model is updated online
(its mean models refit every `refit_every` steps on everything observed so far).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from models.baselines import predict_ewma, predict_last_value, predict_seasonal_naive, tune_ewma
from models.forecast import ForecastModel
from models.metrics import coverage, nmae, rmse
from models.seasonal import WEEK_DAYS, seasonal_naive, seasonal_profile
from models.split import HORIZONS, TimeSplit
from models.te_eval import TeContext, summarise

Progress = Callable[[str, int, int], None]
FORECAST_METHODS = (
    "model", "model_p90", "ewma", "last_value",
    "seasonal_naive", "seasonal_week", "seasonal_profile",
)  # fmt: skip


@dataclass(frozen=True)
class EvalConfig:
    train_fraction: float = 0.7
    horizons: tuple[int, ...] = HORIZONS
    season: int = 288
    refit_every: int = 48
    te_stride: int = 1
    hedge_window: int = 12


@dataclass
class EvalResult:
    horizons: dict[str, dict[str, dict[str, float]]]
    info: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"horizons": self.horizons}


def off_diagonal(tm: np.ndarray) -> np.ndarray:
    """(T, n, n) matrices -> (T, n(n-1)) series of the OD pairs, row-major."""
    n = tm.shape[1]
    return np.asarray(tm[:, ~np.eye(n, dtype=bool)], dtype=float)


def _nothing(stage: str, done: int, total: int) -> None:
    return None


def model_forecasts(
    model: ForecastModel, y: np.ndarray, origins: np.ndarray, refit_every: int
) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Rolling forecasts with online refits: origins in blocks; before each block after the
    first, refit the mean models on every step observed up to the block's first origin."""
    out: dict[int, tuple[list[np.ndarray], list[np.ndarray]]] = {
        h: ([], []) for h in model.horizons
    }
    for start in range(0, len(origins), max(1, refit_every)):
        block = origins[start : start + refit_every]
        if start > 0:
            model.refit_mean(y, cutoff=int(block[0]) + 1)
        ctx = model.context(y[: int(block[-1]) + 1])
        for h in model.horizons:
            mean, p90 = model.predict(ctx, block, h)
            out[h][0].append(mean)
            out[h][1].append(p90)
    return {h: (np.vstack(m), np.vstack(q)) for h, (m, q) in out.items()}


def evaluate_forecast(
    y: np.ndarray,
    te: TeContext | None,
    cfg: EvalConfig,
    model: ForecastModel | None = None,
    progress: Progress = _nothing,
) -> EvalResult:
    y = np.asarray(y, dtype=float)
    split = TimeSplit.by_fraction(len(y), cfg.train_fraction, max(cfg.horizons))
    origins = split.origins(max(cfg.horizons))
    model = model or ForecastModel(horizons=cfg.horizons)
    model.cfg = replace(model.cfg, season=cfg.season)
    progress("training", 0, 1)
    model.fit(y, split.train_end)
    fit_seconds = model.fit_seconds
    progress("forecasting", 0, 1)
    forecasts = _all_forecasts(model, y, split, origins, cfg)
    result: dict[str, dict[str, dict[str, float]]] = {}
    for h in cfg.horizons:
        actual = y[origins + h]
        result[str(h)] = {
            name: {"nmae": nmae(actual, pred), "rmse": rmse(actual, pred)}
            for name, pred in forecasts[h].items()
        }
    info = _info(
        model,
        y=y,
        split=split,
        origins=origins,
        forecasts=forecasts,
        fit_seconds=fit_seconds,
        cfg=cfg,
    )
    if te is not None:
        links = te.link_series(y)
        used = links[:, links.sum(axis=0) > 0]
        per_link = evaluate_forecast(used, None, cfg, model=ForecastModel(horizons=cfg.horizons))
        info["links"] = {
            h: {name: round(m["nmae"], 4) for name, m in methods.items()}
            for h, methods in per_link.horizons.items()
        }
        start = time.perf_counter()
        _add_te(
            result, te=te, y=y, origins=origins, forecasts=forecasts, cfg=cfg, progress=progress
        )
        info["te_seconds"] = time.perf_counter() - start
    return EvalResult(horizons=result, info=info)


def _all_forecasts(
    model: ForecastModel, y: np.ndarray, split: TimeSplit, origins: np.ndarray, cfg: EvalConfig
) -> dict[int, dict[str, np.ndarray]]:
    modelled = model_forecasts(model, y, origins, cfg.refit_every)
    out: dict[int, dict[str, np.ndarray]] = {}
    for h in cfg.horizons:
        alpha = tune_ewma(y[: split.train_end], h).alpha
        out[h] = {
            "model": modelled[h][0],
            "model_p90": modelled[h][1],
            "ewma": predict_ewma(y, origins, alpha),
            "last_value": predict_last_value(y, origins),
            "seasonal_naive": predict_seasonal_naive(y, origins, h, cfg.season)[0],
            "seasonal_profile": seasonal_profile(y, origins, h, cfg.season)[0],
        }
        week, fallbacks = seasonal_naive(y, origins, h, cfg.season * WEEK_DAYS)
        if fallbacks == 0:  # only where the data reaches a week back for every origin
            out[h]["seasonal_week"] = week
    return out


def _info(
    model: ForecastModel,
    *,
    y: np.ndarray,
    split: TimeSplit,
    origins: np.ndarray,
    forecasts: dict[int, dict[str, np.ndarray]],
    fit_seconds: float,
    cfg: EvalConfig,
) -> dict[str, Any]:
    return {
        "steps": len(y),
        "series": y.shape[1],
        "train_steps": split.train_end,
        "origins": len(origins),
        "fit_seconds": fit_seconds,
        "ewma_alpha": {str(h): tune_ewma(y[: split.train_end], h).alpha for h in cfg.horizons},
        "p90_coverage": {
            str(h): coverage(y[origins + h], forecasts[h]["model_p90"]) for h in cfg.horizons
        },
        "seasonal_fallbacks": {
            str(h): predict_seasonal_naive(y, origins, h, cfg.season)[1] for h in cfg.horizons
        },
    }


def _add_te(
    result: dict[str, dict[str, dict[str, float]]],
    *,
    te: TeContext,
    y: np.ndarray,
    origins: np.ndarray,
    forecasts: dict[int, dict[str, np.ndarray]],
    cfg: EvalConfig,
    progress: Progress,
) -> None:
    picks = np.arange(0, len(origins), max(1, cfg.te_stride))
    methods = [m for m in FORECAST_METHODS if m != "last_value" and m in forecasts[cfg.horizons[0]]]
    ratios: dict[tuple[int, str], list[float]] = {}
    for done, i in enumerate(picks):
        t = int(origins[i])
        progress("routing", done, len(picks))
        fixed = {
            "last_value": te.route(y[t]),
            "hedge": te.hedge(y[max(0, t - cfg.hedge_window + 1) : t + 1]),
        }
        for h in cfg.horizons:
            actual = y[t + h]
            splits = {m: te.route(forecasts[h][m][i]) for m in methods} | fixed
            for name, split in splits.items():
                ratios.setdefault((h, name), []).append(te.ratio(split, t + h, actual))
    progress("routing", len(picks), len(picks))
    for (h, name), values in ratios.items():
        result[str(h)].setdefault(name, {}).update(summarise(values))
