"""Deviation of each link from its own learned baseline, per signal (issue 18, item 4).

Nothing here learns from fault examples: per link and per signal, a baseline is fitted on a
reference span of that link's own history (robust: median/MAD, outliers dropped before the
fit), seasonal where the signal has a season (a daily sine and cosine, fitted only when the
reference covers at least a day), and every later sample is scored as a robust z of its level
against that baseline and of its 1 h slope against the slopes seen in the reference. Signals,
each oriented so that harm is up: rx power (dB, negated), log tx bias, log delay, log CRC rate,
log rate of input drops that are not CRC errors (`in_errors - crc_errors`).

A column (signal x {level, slope}) alarms with its own hysteresis; the thresholds are chosen
elsewhere (`models.deviation_eval`) on validation links only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from models.alarms import Hysteresis, active_at_end, alarms
from models.fault_features import crc_increments, trailing_mean, trailing_slope
from models.faults import merge_alarms
from models.precursors import DAY_S, LinkSeries

SIGNALS = ("rx", "bias", "delay", "crc", "drops")
SEASONAL = (True, True, True, False, False)
COLUMNS: tuple[str, ...] = (*(f"{s}_level" for s in SIGNALS), *(f"{s}_slope" for s in SIGNALS))
FLOORS = np.array([0.05, 0.005, 0.01, 0.02, 0.02])
"""Smallest robust scale per signal (dB; log units), so a flat reference does not make every
wobble a deviation."""
LEVEL_SAMPLES = 10
RATE_MINUTES = 30.0
OFF = Hysteresis(on=np.inf, off=np.inf, persist=1, clear=1)


def signals(s: LinkSeries) -> np.ndarray:
    """(len(SIGNALS), T) smoothed signals of one link, harm upwards."""
    rate_w = max(2, round(RATE_MINUTES * 60 * s.time_scale / s.step_s))
    crc = crc_increments(s.crc_errors)
    drops = np.clip(crc_increments(s.in_errors) - crc, 0.0, None)
    return np.stack(
        [
            -trailing_mean(np.asarray(s.rx_power_dbm, float), LEVEL_SAMPLES),
            np.log(np.maximum(trailing_mean(np.asarray(s.tx_bias_ma, float), LEVEL_SAMPLES), 1e-9)),
            np.log(np.maximum(trailing_mean(np.asarray(s.delay_s, float), LEVEL_SAMPLES), 1e-6)),
            np.log1p(trailing_mean(crc, rate_w)),
            np.log1p(trailing_mean(drops, rate_w)),
        ]
    )


def _design(t: np.ndarray, seasonal: bool) -> np.ndarray:
    if not seasonal:
        return np.ones((len(t), 1))
    w = 2 * np.pi * t / DAY_S
    return np.column_stack([np.ones(len(t)), np.sin(w), np.cos(w)])


def _robust_fit(x: np.ndarray, design: np.ndarray) -> tuple[np.ndarray, float]:
    """Least squares on the samples within 4 MAD of the median (twice), and the residuals' MAD
    scale: a fault or decoy inside the reference span barely moves the baseline."""
    keep = np.ones(len(x), dtype=bool)
    coef = np.zeros(design.shape[1])
    for _ in range(2):
        coef = np.linalg.lstsq(design[keep], x[keep], rcond=None)[0]
        res = x - design @ coef
        mad = float(np.median(np.abs(res[keep] - np.median(res[keep]))))
        keep = np.abs(res - np.median(res[keep])) <= 4 * 1.4826 * mad + 1e-12
    res = x[keep] - design[keep] @ coef
    return coef, 1.4826 * float(np.median(np.abs(res - np.median(res))))


@dataclass
class LinkBaseline:
    """One link's learned baseline: per signal the (seasonal) level fit and its scale, and the
    scale of the 1 h slope."""

    coef: list[np.ndarray]
    seasonal: list[bool]
    level_scale: np.ndarray
    slope_scale: np.ndarray

    def scores(self, s: LinkSeries) -> np.ndarray:
        """(T, len(COLUMNS)) robust z of level and slope, every sample of `s`."""
        x = signals(s)
        t = s.times
        per_h = max(2, round(3600 * s.time_scale / s.step_s))
        level = np.stack(
            [
                (x[k] - _design(t, self.seasonal[k]) @ self.coef[k]) / self.level_scale[k]
                for k in range(len(SIGNALS))
            ]
        )
        slope = trailing_slope(level * self.level_scale[:, None], per_h) * per_h
        return np.vstack([level, slope / self.slope_scale[:, None]]).T


def fit_baseline(s: LinkSeries, stop: int) -> LinkBaseline:
    """Learn the link's baseline from samples [0, stop) while the link was up."""
    x = signals(s)[:, :stop]
    up = np.asarray(s.oper_up[:stop], dtype=bool)
    t = s.times[:stop][up]
    per_h = max(2, round(3600 * s.time_scale / s.step_s))
    long_enough = (t[-1] - t[0]) >= DAY_S if len(t) else False
    coefs, seasonal, scales, slopes = [], [], [], []
    for k in range(len(SIGNALS)):
        use_season = SEASONAL[k] and bool(long_enough)
        design = _design(t, use_season)
        coef, scale = _robust_fit(x[k][up], design)
        scale = max(scale, float(FLOORS[k]))
        res = x[k] - _design(s.times[:stop], use_season) @ coef
        sl = (trailing_slope(res, per_h) * per_h)[up]
        slope_scale = 1.4826 * float(np.median(np.abs(sl - np.median(sl)))) if sl.size else 0.0
        coefs.append(coef)
        seasonal.append(use_season)
        scales.append(scale)
        slopes.append(max(slope_scale, float(FLOORS[k])))
    return LinkBaseline(coefs, seasonal, np.array(scales), np.array(slopes))


@dataclass
class BaselineDetector:
    """Per column an alarm rule on the robust z (`OFF` for a column no setting kept quiet
    enough on the validation links); an alarm from any column raises the link's alarm."""

    rules: list[Hysteresis] = field(default_factory=lambda: [OFF] * len(COLUMNS))

    def alarms(self, z: np.ndarray, up: np.ndarray) -> list[int]:
        merged: list[int] = []
        for k, rule in enumerate(self.rules):
            if np.isfinite(rule.on):
                merged = merge_alarms(merged, alarms(z[:, k], up, rule), rule.clear)
        return merged

    def score(self, z: np.ndarray) -> np.ndarray:
        """One number per sample for ranking: the largest z relative to its column's threshold."""
        on = np.array([r.on for r in self.rules])
        live = np.isfinite(on)
        if not live.any():
            return np.zeros(len(z))
        return np.asarray((z[:, live] / on[live]).max(axis=1))


@dataclass(frozen=True)
class OnlineDetector:
    """The detector as the closed loop runs it: each link's baseline is learned from its first
    `reference` telemetry rounds, then the rules score the latest window every round."""

    detector: BaselineDetector
    reference: int = 120
    """Rounds of a link's own history its baseline is learned from (1 h at 30 s)."""
    time_scale: float = 1.0
    """Time compression the rules were chosen at (`GeneratorConfig.time_scale`)."""

    def learn(self, s: LinkSeries) -> LinkBaseline | None:
        """The baseline from the first `reference` samples of `s`, or None while too few."""
        if len(s.rx_power_dbm) < self.reference:
            return None
        return fit_baseline(s, self.reference)

    def flagged(self, baseline: LinkBaseline, s: LinkSeries) -> list[str]:
        """Columns whose alarm is active after the last sample of `s` (the latest window)."""
        z = baseline.scores(s)
        up = np.asarray(s.oper_up, dtype=bool)
        return [
            name
            for name, k, rule in zip(COLUMNS, range(len(COLUMNS)), self.detector.rules, strict=True)
            if np.isfinite(rule.on) and active_at_end(z[:, k], up, rule)
        ]
