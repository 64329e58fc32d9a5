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


def _prepend(x: np.ndarray, width: int, fill: float | np.ndarray = 0.0) -> np.ndarray:
    """`x` with `width` samples of `fill` in front, along the last (time) axis."""
    head = np.broadcast_to(np.asarray(fill, dtype=float), (*x.shape[:-1], width))
    return np.concatenate([head, x], axis=-1)


def trailing_mean(x: np.ndarray, w: int) -> np.ndarray:
    """Mean over the last w samples (fewer at the start), along the last axis: one link's
    series (T,) or many links' at once (N, T)."""
    x = np.asarray(x, dtype=float)
    c = _prepend(np.cumsum(x, axis=-1), 1)
    i = np.arange(1, x.shape[-1] + 1)
    lo = np.maximum(0, i - w)
    return np.asarray((c[..., i] - c[..., lo]) / (i - lo))


def trailing_slope(x: np.ndarray, w: int) -> np.ndarray:
    """Least-squares slope per sample over the last w samples (fewer at the start)."""
    x = np.asarray(x, dtype=float)
    n_all = x.shape[-1]
    idx = np.arange(n_all, dtype=float)
    cx = _prepend(np.cumsum(x, axis=-1), 1)
    cix = _prepend(np.cumsum(idx * x, axis=-1), 1)
    i = np.arange(1, n_all + 1)
    lo = np.maximum(0, i - w)
    n = (i - lo).astype(float)
    st = (lo + i - 1) * n / 2.0
    stt = ((i - 1) * i * (2 * i - 1) - (lo - 1) * lo * (2 * lo - 1)) / 6.0
    sx, sxy = cx[..., i] - cx[..., lo], cix[..., i] - cix[..., lo]
    den = np.broadcast_to(n * stt - st * st, sx.shape)
    out = np.zeros(sx.shape)
    return np.asarray(np.divide(n * sxy - st * sx, den, out=out, where=den > 0))


def lagged_baseline(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Median and MAD of block means over [t - 10 h, t - 2 h), per sample (causal)."""
    x = np.asarray(x, dtype=float)
    blocks = x.shape[-1] // BLOCK
    means = x[..., : blocks * BLOCK].reshape(*x.shape[:-1], blocks, BLOCK).mean(axis=-1)
    padded = _prepend(means, BASE_BLOCKS - 1, means[..., :1])
    win = sliding_window_view(padded, BASE_BLOCKS, axis=-1)  # window k ends at block k
    med = np.median(win, axis=-1)
    mad = np.median(np.abs(win - med[..., None]), axis=-1)
    # sample t may use blocks completed before t - LAG: block index (t // BLOCK) - LAG - 1
    k = np.clip(np.arange(x.shape[-1]) // BLOCK - LAG_BLOCKS - 1, 0, blocks - 1)
    return med[..., k], mad[..., k]


def crc_increments(counter: np.ndarray) -> np.ndarray:
    """Per-sample errors from a cumulative counter; a reset or wrap counts as zero."""
    c = np.asarray(counter, dtype=float)
    inc = np.diff(c, axis=-1, prepend=c[..., :1])
    return np.clip(inc, 0.0, None)


def link_features(s: LinkSeries) -> np.ndarray:
    """(T, len(FEATURES)) feature matrix of one link."""
    return _features(s.step_s, s.rx_power_dbm, s.tx_bias_ma, s.delay_s, s.crc_errors)


def latest_features(series: list[LinkSeries]) -> np.ndarray:
    """(N, len(FEATURES)): the last row of `link_features` of each link, computed for links of
    the same length and step together (one set of array operations, not one per link)."""
    out = np.empty((len(series), len(FEATURES)))
    groups: dict[tuple[int, float], list[int]] = {}
    for k, s in enumerate(series):
        groups.setdefault((len(s.rx_power_dbm), float(s.step_s)), []).append(k)
    for (_, step_s), members in groups.items():
        stack = [np.stack([np.asarray(getattr(series[k], a), dtype=float) for k in members])
                 for a in ("rx_power_dbm", "tx_bias_ma", "delay_s", "crc_errors")]  # fmt: skip
        out[members] = _features(step_s, *stack)[:, -1, :]
    return out


def _features(
    step_s: float, rx: np.ndarray, bias: np.ndarray, delay: np.ndarray, crc: np.ndarray
) -> np.ndarray:
    """(..., T, len(FEATURES)) from series shaped (..., T)."""
    cols: list[np.ndarray] = []
    per_h = 3600.0 / step_s
    rx = np.asarray(rx, dtype=float)
    for name, x in (("rx", rx), ("bias", bias), ("delay", delay)):
        cols += _signal(name, np.asarray(x, dtype=float), int(per_h))
    rx10 = trailing_mean(rx, 10)
    margin = rx10 - LOS_DBM
    fall = -trailing_slope(rx, int(6 * per_h)) * per_h
    cols.append(margin)
    cols.append(
        np.clip(np.divide(margin, fall, out=np.full_like(margin, 48.0), where=fall > 1e-3), 0, 48)
    )
    cols += _errors(crc_increments(crc), int(per_h))
    return np.stack(cols, axis=-1)


def _signal(name: str, x: np.ndarray, per_h: int) -> list[np.ndarray]:
    level = trailing_mean(x, 10)
    med, mad = lagged_baseline(x)
    relative = name != "rx"
    norm = np.maximum(np.abs(med), NORM_MIN[name]) if relative else np.ones_like(med)
    z = (level - med) / (1.4826 * mad + FLOORS[name] * norm)
    slope1 = trailing_slope(x, per_h) * per_h / norm
    slope6 = trailing_slope(x, 6 * per_h) * per_h / norm
    curv = slope1 - _prepend(slope1, per_h)[..., : slope1.shape[-1]]  # any length
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
