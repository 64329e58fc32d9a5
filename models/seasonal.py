"""Seasonal baselines: same time one day (or one week) earlier, and the mean daily profile.

All are causal: the forecast of y[t + h] made at origin t reads y[: t + 1] only. Every function
takes a history `y` (T, K) and origins (N,) and returns (N, K). Where the season does not reach
back far enough yet, a forecast falls back to the last value, and the count of such origins is
returned so tables can say so.

`half_width` smooths over neighbouring steps (a centred window of 2w + 1 steps one season back);
it stays causal as long as h + w <= season, which `_check` enforces.
"""

from __future__ import annotations

import numpy as np

DAY = 288  # 5-minute steps
WEEK_DAYS = 7


def _check(horizon: int, season: int, half_width: int) -> None:
    if horizon + half_width > season:
        raise ValueError(f"horizon {horizon} + smoothing {half_width} exceeds the season {season}")


def smoothed(y: np.ndarray, half_width: int) -> np.ndarray:
    """Centred moving mean over 2w + 1 steps (fewer at the ends); w = 0 returns y."""
    y = np.asarray(y, dtype=float)
    if half_width <= 0:
        return y
    c = np.cumsum(np.vstack([np.zeros((1, y.shape[1])), y]), axis=0)
    t = np.arange(len(y))
    lo = np.maximum(0, t - half_width)
    hi = np.minimum(len(y), t + half_width + 1)
    return (c[hi] - c[lo]) / (hi - lo)[:, None]


def seasonal_naive(
    y: np.ndarray, origins: np.ndarray, horizon: int, season: int, half_width: int = 0
) -> tuple[np.ndarray, int]:
    """y[t + h - season] (smoothed over 2w + 1 steps); last value before a season exists."""
    _check(horizon, season, half_width)
    back = origins + horizon - season
    ok = back - half_width >= 0
    pred = np.asarray(y[origins], dtype=float).copy()
    if ok.any():
        ys = smoothed(y[: int(origins.max()) + 1], half_width)
        pred[ok] = ys[back[ok]]
    return pred, int((~ok).sum())


def profile_sums(y: np.ndarray, season: int, half_width: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Running sums over the days: s[t] = ys[t] + ys[t - S] + ... and the count of terms."""
    ys = smoothed(y, half_width)
    sums = ys.copy()
    for start in range(season, len(ys), season):
        stop = min(start + season, len(ys))
        sums[start:stop] += sums[start - season : stop - season]
    counts = np.arange(len(ys)) // season + 1
    return sums, counts


def seasonal_profile(
    y: np.ndarray, origins: np.ndarray, horizon: int, season: int, half_width: int = 0
) -> tuple[np.ndarray, int]:
    """Mean of y at the same time of day over every earlier day the history holds."""
    _check(horizon, season, half_width)
    sums, counts = profile_sums(y[: int(origins.max()) + 1], season, half_width)
    back = origins + horizon - season
    ok = back - half_width >= 0
    pred = np.asarray(y[origins], dtype=float).copy()
    pred[ok] = sums[back[ok]] / counts[back[ok]][:, None]
    return pred, int((~ok).sum())


def profile_at(y: np.ndarray, season: int, half_width: int = 0) -> np.ndarray:
    """For each step t, the profile from the days before t (NaN on the first day)."""
    sums, counts = profile_sums(y, season, half_width)
    out = np.full_like(sums, np.nan)
    out[season:] = sums[:-season] / counts[:-season][:, None]
    return out
