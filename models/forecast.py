"""Traffic forecaster: one pooled model per horizon over all series (OD pairs or links).

`ForecastModel.fit(y, cutoff)` learns, for each horizon h, the change from a tuned EWMA level to
y[t + h] from scale-free features (`models.features`), with every training target before `cutoff`
(checked by `assert_no_leak`). The mean is a ridge regression (refit in well under a second, so it
follows new matrices online); the p90 is a HistGradientBoosting model with quantile loss. Both
predict for any number of series, including ones never seen in training.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import Ridge
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from controller.errors import UsageError
from models.baselines import tune_ewma
from models.features import FeatureConfig, SeriesContext, build_features, targets
from models.split import HORIZONS, TimeSplit, assert_no_leak

MeanKind = Literal["ridge", "hgb"]


@dataclass
class HorizonModel:
    horizon: int
    ref_alpha: float
    mean: Any
    p90: Any | None


@dataclass
class ForecastModel:
    cfg: FeatureConfig = field(default_factory=FeatureConfig)
    horizons: tuple[int, ...] = HORIZONS
    mean_kind: MeanKind = "hgb"
    ridge_alpha: float = 10.0
    quantile: float = 0.9
    max_rows: int = 50_000
    hgb_iter: int = 100
    hgb_lr: float = 0.1
    hgb_loss: str = "absolute_error"
    seed: int = 0
    threads: int = 1
    per_horizon: dict[int, HorizonModel] = field(default_factory=dict)
    trained_until: int = 0
    fit_seconds: float = 0.0

    # -- training ---------------------------------------------------------------------------
    def fit(
        self,
        y: np.ndarray,
        cutoff: int,
        with_p90: bool = True,
        alphas: dict[int, float] | None = None,
    ) -> ForecastModel:
        """Fit on y[:cutoff] (T, K). Rows from `cutoff` on are never used. The reference EWMA
        smoothing per horizon is tuned on the same rows unless `alphas` fixes it."""
        with threadpool_limits(self.threads):
            return self._fit(y, cutoff, with_p90, alphas)

    def _fit(
        self, y: np.ndarray, cutoff: int, with_p90: bool, fixed: dict[int, float] | None
    ) -> ForecastModel:
        start = time.perf_counter()
        y = np.asarray(y, dtype=float)[:cutoff]
        need = self.cfg.lags + max(self.horizons) + 2
        if cutoff < need:
            raise UsageError(f"need at least {need} steps to train, got {cutoff}")
        split = TimeSplit(steps=cutoff, train_end=cutoff)
        alphas = fixed or {h: tune_ewma(y, h).alpha for h in self.horizons}
        ctx = SeriesContext.build(y, self.cfg, tuple(alphas.values()))
        for h in self.horizons:
            origins = split.train_origins(h, self.cfg.lags)
            assert_no_leak(split, origins + h, f"forecast model h={h}")
            x, ref, s = build_features(ctx, origins, h, alphas[h])
            target, weight = targets(ctx, origins, h, ref, s), _weights(s)
            self.per_horizon[h] = HorizonModel(
                horizon=h,
                ref_alpha=alphas[h],
                mean=self._fit_mean(x, target, weight),
                p90=self._fit_p90(x, target, weight) if with_p90 else None,
            )
        self.trained_until = cutoff
        self.fit_seconds = time.perf_counter() - start
        return self

    def refit_mean(self, y: np.ndarray, cutoff: int) -> None:
        """Online update: refit the mean models on everything before `cutoff`, keep the p90."""
        kept = {h: m.p90 for h, m in self.per_horizon.items()}
        alphas = {h: m.ref_alpha for h, m in self.per_horizon.items()}
        spent = self.fit_seconds
        self.fit(y, cutoff, with_p90=False, alphas=alphas)
        self.fit_seconds = spent
        for h, p90 in kept.items():
            self.per_horizon[h].p90 = p90

    def _fit_mean(self, x: np.ndarray, target: np.ndarray, weight: np.ndarray) -> Any:
        if self.mean_kind == "ridge":
            model: Pipeline = make_pipeline(StandardScaler(), Ridge(alpha=self.ridge_alpha))
            model.fit(x, target, ridge__sample_weight=weight)
            return model
        return self._hgb(self.hgb_loss, None).fit(*self._resample(x, target, weight))

    def _fit_p90(self, x: np.ndarray, target: np.ndarray, weight: np.ndarray) -> Any:
        return self._hgb("quantile", self.quantile).fit(*self._resample(x, target, weight))

    def _hgb(self, loss: str, quantile: float | None) -> HistGradientBoostingRegressor:
        return HistGradientBoostingRegressor(
            loss=loss,
            quantile=quantile,
            max_iter=self.hgb_iter,
            learning_rate=self.hgb_lr,
            random_state=self.seed,
        )

    def _resample(
        self, x: np.ndarray, target: np.ndarray, weight: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """`max_rows` rows drawn with probability proportional to their weight: an unweighted
        fit on them matches the weighted loss in expectation, and is far faster than passing
        sample weights (sklearn's weighted binning is slow)."""
        n = min(self.max_rows, len(target))
        rng = np.random.default_rng(self.seed)
        rows = rng.choice(len(target), size=n, replace=True, p=weight / weight.sum())
        return x[rows], target[rows]

    # -- prediction -------------------------------------------------------------------------
    def predict(
        self, ctx: SeriesContext, origins: np.ndarray, horizon: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Mean and p90 forecasts of y[t + horizon] for each origin t: two (len(origins), K)."""
        hm = self.per_horizon.get(horizon)
        if hm is None:
            raise UsageError(f"no model for horizon {horizon}; trained: {sorted(self.per_horizon)}")
        x, ref, s = build_features(ctx, origins, horizon, hm.ref_alpha)
        with threadpool_limits(self.threads):
            mean = np.maximum(ref + s * hm.mean.predict(x).reshape(ref.shape), 0.0)
            if hm.p90 is None:
                return mean, mean
            p90 = np.maximum(ref + s * hm.p90.predict(x).reshape(ref.shape), mean)
        return mean, p90

    def context(self, y: np.ndarray) -> SeriesContext:
        alphas = tuple(m.ref_alpha for m in self.per_horizon.values())
        return SeriesContext.build(y, self.cfg, alphas)

    def forecast_next(self, y: np.ndarray) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """Forecasts from the last row of a history y (T, K): horizon -> (mean (K,), p90 (K,))."""
        y = np.asarray(y, dtype=float)
        if y.ndim != 2 or len(y) < self.cfg.lags:
            raise UsageError(f"need a (steps, series) history with at least {self.cfg.lags} steps")
        ctx = self.context(y)
        last = np.array([len(y) - 1])
        out = {}
        for h in sorted(self.per_horizon):
            mean, p90 = self.predict(ctx, last, h)
            out[h] = (mean[0], p90[0])
        return out


def _weights(s: np.ndarray) -> np.ndarray:
    """Weight each row by its series' scale, so big flows count like they do in NMAE."""
    w = s.reshape(-1)
    total = w.sum()
    return w * (len(w) / total) if total > 0 else np.ones_like(w)
