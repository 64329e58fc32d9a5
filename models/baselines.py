"""Baseline forecasters: last value, EWMA (smoothing tuned on training data), seasonal naive.

All work on a history `y` of shape (T, K): T steps of K series. `predict_*` give, for each origin
t in `origins`, the forecast of y[t + h] from y[: t + 1] only (shape (len(origins), K)).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.metrics import nmae

ALPHA_GRID: tuple[float, ...] = (
    0.02, 0.05, 0.08, 0.12, 0.16, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0,
)  # fmt: skip


def ewma_levels(y: np.ndarray, alpha: float) -> np.ndarray:
    """level[t] = alpha * y[t] + (1 - alpha) * level[t-1], level[0] = y[0]; shape of y."""
    levels = np.empty_like(y, dtype=float)
    levels[0] = y[0]
    for t in range(1, len(y)):
        levels[t] = alpha * y[t] + (1.0 - alpha) * levels[t - 1]
    return levels


def predict_last_value(y: np.ndarray, origins: np.ndarray) -> np.ndarray:
    return np.asarray(y[origins], dtype=float)


def predict_ewma(y: np.ndarray, origins: np.ndarray, alpha: float) -> np.ndarray:
    return ewma_levels(y[: int(origins.max()) + 1], alpha)[origins]


def predict_seasonal_naive(
    y: np.ndarray, origins: np.ndarray, horizon: int, season: int
) -> tuple[np.ndarray, int]:
    """y[t + h - season]; where that step does not exist yet (a season longer than the history),
    fall back to the last value. Returns the forecasts and how many origins fell back."""
    back = origins + horizon - season
    ok = back >= 0
    pred = np.asarray(y[origins], dtype=float).copy()
    pred[ok] = y[back[ok]]
    return pred, int((~ok).sum())


@dataclass(frozen=True)
class EwmaFit:
    alpha: float
    train_nmae: float


def tune_ewma(y_train: np.ndarray, horizon: int, grid: tuple[float, ...] = ALPHA_GRID) -> EwmaFit:
    """The smoothing with the lowest NMAE at `horizon` over the training part only."""
    origins = np.arange(0, len(y_train) - horizon)
    actual = y_train[origins + horizon]
    best = EwmaFit(alpha=1.0, train_nmae=float("inf"))
    for alpha in grid:
        score = nmae(actual, ewma_levels(y_train, alpha)[origins])
        if score < best.train_nmae:
            best = EwmaFit(alpha=alpha, train_nmae=score)
    return best
