"""Forecast error metrics over all series and origins at once."""

from __future__ import annotations

import numpy as np


def nmae(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Normalised mean absolute error: sum |a - p| / sum |a| (0 is perfect; 0 if both are 0)."""
    denom = float(np.abs(actual).sum())
    err = float(np.abs(actual - predicted).sum())
    if denom == 0.0:
        return 0.0 if err == 0.0 else float("inf")
    return err / denom


def rmse(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Root mean squared error, in the units of the series (bit/s for traffic)."""
    return float(np.sqrt(np.mean((actual - predicted) ** 2)))


def coverage(actual: np.ndarray, upper: np.ndarray) -> float:
    """Share of actual values at or below an upper forecast (0.9 is ideal for a p90)."""
    return float(np.mean(actual <= upper))
