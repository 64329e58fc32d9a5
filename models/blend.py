"""The seasonal blend: a convex combination of simple causal forecasts, learned on validation.

For each horizon h the candidates are the last value, EWMAs at four smoothings, the same time
one day and one week earlier (smoothed over 5 steps), the mean daily profile, the profile
plus the current deviation from it (profile residual, decayed by an EWMA), and rolling medians
over 3 h and a day (added after a study on validation blocks only, see docs/ML.md). The weights are
non-negative and sum to one; they minimise the absolute error over a validation block (an LP:
NMAE is an L1 metric), so a candidate that does not help gets weight zero and the blend is
never far from the best single candidate on the validation block.

The p90 is the p50 plus a per-series quantile of the validation errors, scaled by the series'
level at the origin (`p90_offsets`); its coverage is measured on the test block.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linprog

from controller.errors import ValidationError
from models.baselines import ewma_levels
from models.seasonal import WEEK_DAYS, profile_at, seasonal_naive, seasonal_profile

EWMA_ALPHAS: tuple[float, ...] = (0.03, 0.1, 0.3, 0.6)
LEVEL_ALPHA = 0.05
MEDIAN_WINDOWS: tuple[int, ...] = (36, 288)


@dataclass(frozen=True)
class BlendConfig:
    season: int = 288
    half_width: int = 2
    residual_alpha: float = 0.3
    max_rows: int = 10_000
    quantile: float = 0.9
    seed: int = 0


def candidates(
    y: np.ndarray, origins: np.ndarray, horizon: int, cfg: BlendConfig
) -> dict[str, np.ndarray]:
    """Every candidate forecast of y[t + h] for the origins, each (N, K), causal."""
    hist = np.asarray(y[: int(origins.max()) + 1], dtype=float)
    w, season = cfg.half_width, cfg.season
    out = {"last": hist[origins]}
    for a in EWMA_ALPHAS:
        out[f"ewma{a:g}"] = ewma_levels(hist, a)[origins]
    day, _ = seasonal_naive(hist, origins, horizon, season, w)
    out["day"] = day
    week, fallbacks = seasonal_naive(hist, origins, horizon, season * WEEK_DAYS, w)
    out["week"] = week if fallbacks == 0 else day
    out["profile"] = seasonal_profile(hist, origins, horizon, season, w)[0]
    out["profile_resid"] = _profile_residual(hist, origins, horizon, cfg)
    for n in MEDIAN_WINDOWS:
        out[f"median{n}"] = rolling_median(hist, origins, n)
    return out


def rolling_median(y: np.ndarray, origins: np.ndarray, window: int, chunk: int = 128) -> np.ndarray:
    """Median of y[t - window + 1 : t + 1] at each origin (fewer steps early on): the L1-best
    level of a noisy series, where an EWMA (a mean) is pulled up by bursts."""
    out = np.empty((len(origins), y.shape[1]))
    full = origins >= window - 1
    if full.any():
        views = np.lib.stride_tricks.sliding_window_view(y, window, axis=0)
        idx = np.flatnonzero(full)
        for i in range(0, len(idx), chunk):
            part = idx[i : i + chunk]
            out[part] = np.median(views[origins[part] - window + 1], axis=-1)
    for j in np.flatnonzero(~full):
        out[j] = np.median(y[: origins[j] + 1], axis=0)
    return out


def _profile_residual(
    hist: np.ndarray, origins: np.ndarray, horizon: int, cfg: BlendConfig
) -> np.ndarray:
    """profile(t + h) + EWMA of (y - profile) at t; the last value before a day exists."""
    prof = profile_at(hist, cfg.season, cfg.half_width)
    resid = np.where(np.isnan(prof), 0.0, hist - np.nan_to_num(prof))
    level = ewma_levels(resid, cfg.residual_alpha)[origins]
    ahead, _ = seasonal_profile(hist, origins, horizon, cfg.season, cfg.half_width)
    started = origins >= cfg.season + cfg.half_width
    out = np.asarray(hist[origins], dtype=float).copy()
    out[started] = ahead[started] + level[started]
    return np.maximum(out, 0.0)


def level(y: np.ndarray, origins: np.ndarray) -> np.ndarray:
    """A slow EWMA of each series at the origins, floored: the scale of the p90 offsets."""
    hist = np.asarray(y[: int(origins.max()) + 1], dtype=float)
    lv = ewma_levels(hist, LEVEL_ALPHA)[origins]
    return np.maximum(lv, 1e-9 * max(1.0, float(np.abs(hist).mean())))


def fit_weights(
    stack: np.ndarray, actual: np.ndarray, max_rows: int, seed: int = 0
) -> tuple[np.ndarray, float]:
    """Simplex weights minimising sum |actual - stack @ w| (stack (R, C), actual (R,)), and the
    NMAE they reach. Solved as the LP's dual (R bounded variables, C rows), which HiGHS solves
    in a fraction of the primal's time: max b.u + v s.t. A'u + v <= 0, -1 <= u <= 1; the
    weights are the duals of the C rows."""
    rows, cols = stack.shape
    if rows > max_rows:
        pick = np.random.default_rng(seed).choice(rows, size=max_rows, replace=False)
        stack, actual, rows = stack[pick], actual[pick], max_rows
    scale = max(float(np.abs(actual).mean()), 1e-12)
    a, b = stack / scale, actual / scale
    res = linprog(
        np.r_[-b, -1.0],
        A_ub=np.hstack([a.T, np.ones((cols, 1))]),
        b_ub=np.zeros(cols),
        bounds=[(-1.0, 1.0)] * rows + [(None, None)],
        method="highs",
    )
    if res.status != 0:
        raise ValidationError("blend weights", [f"HiGHS did not reach an optimum: {res.message}"])
    weights = np.maximum(-np.asarray(res.ineqlin.marginals), 0.0)
    if weights.sum() <= 0:
        weights = np.ones(cols)
    weights /= weights.sum()
    return weights, float(np.abs(a @ weights - b).sum()) / max(float(np.abs(b).sum()), 1e-12)


@dataclass
class SeasonalBlend:
    """Per-horizon weights over `candidates` and per-series p90 offsets, fitted on validation."""

    cfg: BlendConfig = field(default_factory=BlendConfig)
    weights: dict[int, dict[str, float]] = field(default_factory=dict)
    p90_offsets: dict[int, np.ndarray] = field(default_factory=dict)
    val_nmae: dict[int, float] = field(default_factory=dict)

    def fit(
        self,
        y: np.ndarray,
        origins: np.ndarray,
        horizon: int,
        extra: dict[str, np.ndarray] | None = None,
    ) -> SeasonalBlend:
        """Fit on validation origins: every target y[t + h] must be observed (the caller passes
        origins whose targets precede the test block). `extra` adds candidates made elsewhere
        (e.g. a trained model's forecasts for the same origins, from a fit that ended before
        the validation block); `predict` then needs the same names."""
        cands = candidates(y, origins, horizon, self.cfg) | (extra or {})
        names = list(cands)
        actual = np.asarray(y[origins + horizon], dtype=float)
        stack = np.stack([cands[n].reshape(-1) for n in names], axis=1)
        w, self.val_nmae[horizon] = fit_weights(
            stack, actual.reshape(-1), self.cfg.max_rows, self.cfg.seed
        )
        self.weights[horizon] = dict(zip(names, (float(v) for v in w), strict=True))
        p50 = (stack @ w).reshape(actual.shape)
        rel = (actual - p50) / level(y, origins)
        self.p90_offsets[horizon] = np.quantile(rel, self.cfg.quantile, axis=0)
        return self

    def predict(
        self,
        y: np.ndarray,
        origins: np.ndarray,
        horizon: int,
        extra: dict[str, np.ndarray] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """p50 and p90 forecasts of y[t + h] for the origins, each (N, K)."""
        cands = candidates(y, origins, horizon, self.cfg) | (extra or {})
        p50 = sum(wt * cands[n] for n, wt in self.weights[horizon].items() if wt > 0)
        p50 = np.maximum(np.asarray(p50, dtype=float), 0.0)
        p90 = p50 + np.maximum(self.p90_offsets[horizon], 0.0) * level(y, origins)
        return p50, p90
