"""Window features of per-link telemetry for fault prediction, all causal (trailing windows).

Per signal (rx power, tx bias, delay): level over 10 samples, its robust z-score against a lagged
baseline (median and MAD of 15-sample block means from 10 h to 2 h back), deviation, slope over
1 h and 6 h, curvature (change of the 1 h slope over the last hour), spread over 1 h. Errors: CRC
rates over 10 min, 1 h and 6 h, their growth, the share of minutes with errors, and a robust z.
Optics: margin to loss of signal and the hours until the 6 h trend reaches it.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from models.precursors import LOS_DBM, LinkSeries

BLOCK = 15
BASE_BLOCKS = 40
LAG_BLOCKS = 8
SIGNALS = ("rx", "bias", "delay")
PER_SIGNAL = ("z", "dev", "slope1h", "slope6h", "curv", "spread")
FEATURES: tuple[str, ...] = (
    *(f"{s}_{f}" for s in SIGNALS for f in PER_SIGNAL),
    "rx_margin_db",
    "rx_hours_to_los",
    "crc_rate10",
    "crc_rate60",
    "crc_rate360",
    "crc_growth",
    "crc_active60",
    "crc_z",
)
FLOORS = {"rx": 0.05, "bias": 0.02, "delay": 0.01, "crc": 0.1}
"""Noise floors for the robust scale (dB; relative for bias and delay; log rate for errors)."""
NORM_MIN = {"bias": 1e-12, "delay": 1e-3}
"""Smallest level bias and delay are taken relative to (mA; s): a delay moves relative to at
least 1 ms, so a few microseconds of queueing on a 100 us data-center link is not a deviation."""


def trailing_mean(x: np.ndarray, w: int) -> np.ndarray:
    c = np.concatenate([[0.0], np.cumsum(x)])
    i = np.arange(1, len(x) + 1)
    lo = np.maximum(0, i - w)
    return np.asarray((c[i] - c[lo]) / (i - lo))


def trailing_slope(x: np.ndarray, w: int) -> np.ndarray:
    """Least-squares slope per sample over the last w samples (fewer at the start)."""
    n_all = len(x)
    idx = np.arange(n_all, dtype=float)
    cx = np.concatenate([[0.0], np.cumsum(x)])
    cix = np.concatenate([[0.0], np.cumsum(idx * x)])
    i = np.arange(1, n_all + 1)
    lo = np.maximum(0, i - w)
    n = (i - lo).astype(float)
    st = (lo + i - 1) * n / 2.0
    stt = ((i - 1) * i * (2 * i - 1) - (lo - 1) * lo * (2 * lo - 1)) / 6.0
    sx, sxy = cx[i] - cx[lo], cix[i] - cix[lo]
    den = n * stt - st * st
    return np.asarray(np.divide(n * sxy - st * sx, den, out=np.zeros(n_all), where=den > 0))


def lagged_baseline(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Median and MAD of block means over [t - 10 h, t - 2 h), per sample (causal)."""
    blocks = len(x) // BLOCK
    means = x[: blocks * BLOCK].reshape(blocks, BLOCK).mean(axis=1)
    padded = np.concatenate([np.full(BASE_BLOCKS - 1, means[0]), means])
    win = sliding_window_view(padded, BASE_BLOCKS)  # window k ends at block k
    med = np.median(win, axis=1)
    mad = np.median(np.abs(win - med[:, None]), axis=1)
    # sample t may use blocks completed before t - LAG: block index (t // BLOCK) - LAG - 1
    k = np.clip(np.arange(len(x)) // BLOCK - LAG_BLOCKS - 1, 0, blocks - 1)
    return med[k], mad[k]


def crc_increments(counter: np.ndarray) -> np.ndarray:
    """Per-sample errors from a cumulative counter; a reset or wrap counts as zero."""
    inc = np.diff(np.asarray(counter, dtype=float), prepend=float(counter[0]))
    return np.clip(inc, 0.0, None)


def link_features(s: LinkSeries) -> np.ndarray:
    """(T, len(FEATURES)) feature matrix of one link."""
    cols: list[np.ndarray] = []
    per_h = 3600.0 / s.step_s
    for name, x in (("rx", s.rx_power_dbm), ("bias", s.tx_bias_ma), ("delay", s.delay_s)):
        cols += _signal(name, np.asarray(x, dtype=float), int(per_h))
    rx10 = trailing_mean(np.asarray(s.rx_power_dbm, dtype=float), 10)
    margin = rx10 - LOS_DBM
    fall = -trailing_slope(np.asarray(s.rx_power_dbm, dtype=float), int(6 * per_h)) * per_h
    cols.append(margin)
    cols.append(
        np.clip(np.divide(margin, fall, out=np.full_like(margin, 48.0), where=fall > 1e-3), 0, 48)
    )
    cols += _errors(crc_increments(s.crc_errors), int(per_h))
    return np.column_stack(cols)


def _signal(name: str, x: np.ndarray, per_h: int) -> list[np.ndarray]:
    level = trailing_mean(x, 10)
    med, mad = lagged_baseline(x)
    relative = name != "rx"
    norm = np.maximum(np.abs(med), NORM_MIN[name]) if relative else np.ones_like(med)
    z = (level - med) / (1.4826 * mad + FLOORS[name] * norm)
    slope1 = trailing_slope(x, per_h) * per_h / norm
    slope6 = trailing_slope(x, 6 * per_h) * per_h / norm
    curv = slope1 - np.concatenate([np.zeros(per_h), slope1])[: len(slope1)]  # any length
    spread = np.sqrt(np.maximum(trailing_mean(x * x, per_h) - trailing_mean(x, per_h) ** 2, 0.0))
    return [z, (level - med) / norm, slope1, slope6, curv, spread / norm]


def _errors(inc: np.ndarray, per_h: int) -> list[np.ndarray]:
    rate10 = trailing_mean(inc, 10)
    rate60 = trailing_mean(inc, per_h)
    rate360 = trailing_mean(inc, 6 * per_h)
    log60 = np.log1p(rate60)
    med, mad = lagged_baseline(log60)
    return [
        np.log1p(rate10),
        log60,
        np.log1p(rate360),
        log60 - np.log1p(rate360),
        trailing_mean((inc > 0).astype(float), per_h),
        (log60 - med) / (1.4826 * mad + FLOORS["crc"]),
    ]
