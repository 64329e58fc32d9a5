"""Fault prediction per link: a supervised risk model, an unsupervised deviation detector, and
the baselines they are measured against (static thresholds, the MAD rule alone, Holt trend).

Every detector maps one link's telemetry (`LinkSeries`) to a score per sample and a list of alarm
raise points (sample indices), so evaluation treats them alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from threadpoolctl import threadpool_limits

from controller.errors import UsageError
from models.alarms import Hysteresis, alarms
from models.fault_features import FEATURES, crc_increments, lagged_baseline, trailing_mean
from models.precursors import LOS_DBM, LinkSeries

HIT_MIN_S = 600.0
HIT_MAX_S = 86_400.0
EARLIEST_SHARE = 0.15
"""Label a precursor positive once 15% of it has passed: before that it is indistinguishable."""
Z_COLUMNS = tuple(FEATURES.index(c) for c in ("rx_z", "bias_z", "delay_z", "crc_z"))


def labels(s: LinkSeries) -> tuple[np.ndarray, np.ndarray]:
    """Per sample: 1 inside a fault's precursor at least 10 min before the failure (and at most
    24 h), and the seconds to that failure (inf elsewhere). Ground truth from the generator."""
    t = s.times
    y = np.zeros(len(t), dtype=bool)
    ttf = np.full(len(t), np.inf)
    lo, hi = hit_window(s)
    for e in s.events:
        if not e.is_fault:
            continue
        begun = e.onset_s + EARLIEST_SHARE * (e.end_s - e.onset_s)
        inside = (t >= begun) & (e.end_s - t >= lo) & (e.end_s - t <= hi)
        y |= inside
        ttf = np.where(inside, e.end_s - t, ttf)
    return y, ttf


def hit_window(s: LinkSeries) -> tuple[float, float]:
    """Seconds before a failure an alarm must come to count: 10 min to 24 h, scaled with the
    series' time scale (75 s to 3 h in the closed loop's compressed profile)."""
    return HIT_MIN_S * s.time_scale, HIT_MAX_S * s.time_scale


Z_SIGN = np.array([-1.0, 1.0, 1.0, 1.0])
"""The harmful direction of each z: rx power falling; bias, delay and error rate rising."""


def mad_score(x: np.ndarray) -> np.ndarray:
    """Largest robust z in the harmful direction over the signals (`Z_COLUMNS`)."""
    return np.asarray((x[:, Z_COLUMNS] * Z_SIGN).max(axis=1))


@dataclass
class FaultModel:
    """Gradient-boosted risk and time to failure, plus a MAD detector for unseen fault kinds."""

    risk_alarm: Hysteresis = field(
        default_factory=lambda: Hysteresis(on=0.7, off=0.3, persist=5, clear=30)
    )
    mad_alarm: Hysteresis = field(
        default_factory=lambda: Hysteresis(on=12.0, off=4.0, persist=30, clear=60)
    )
    max_rows: int = 150_000
    iterations: int = 200
    """Boosting iterations of the risk classifier (the time-to-failure regressor gets 3/4)."""
    seed: int = 0
    classifier: Any = None
    ttf: Any = None
    fit_seconds: float = 0.0
    trained_kinds: tuple[str, ...] = ()

    def fit(self, features: np.ndarray, y: np.ndarray, ttf_s: np.ndarray) -> FaultModel:
        import time

        start = time.perf_counter()
        rng = np.random.default_rng(self.seed)
        pos, neg = np.flatnonzero(y), np.flatnonzero(~y)
        if not pos.size or not neg.size:
            raise UsageError(
                "the training links hold no failure precursor (or nothing else): "
                "give more --links, --days or --train-seeds"
            )
        take = min(len(neg), max(self.max_rows - len(pos), 4 * len(pos)))
        rows = np.concatenate([pos, rng.choice(neg, size=take, replace=False)])
        with threadpool_limits(1):
            self.classifier = HistGradientBoostingClassifier(
                max_iter=self.iterations, learning_rate=0.1, random_state=self.seed
            ).fit(features[rows], y[rows])
            ttf_iter = max(1, self.iterations * 3 // 4)
            self.ttf = HistGradientBoostingRegressor(max_iter=ttf_iter, random_state=self.seed).fit(
                features[pos], np.log(ttf_s[pos] / 60.0)
            )
        self.fit_seconds = time.perf_counter() - start
        return self

    def risk(self, features: np.ndarray) -> np.ndarray:
        with threadpool_limits(1):
            return np.asarray(self.classifier.predict_proba(features)[:, 1])

    def time_to_failure_s(self, features: np.ndarray) -> np.ndarray:
        with threadpool_limits(1):
            return np.asarray(np.exp(self.ttf.predict(features)) * 60.0)

    def alarms(self, features: np.ndarray, up: np.ndarray) -> list[int]:
        """Raised by the classifier or, for kinds it never saw, by a strong lasting deviation."""
        return self.alarms_from(self.risk(features), mad_score(features), up)

    def alarms_from(self, risk: np.ndarray, dev: np.ndarray, up: np.ndarray) -> list[int]:
        first = alarms(risk, up, self.risk_alarm)
        second = alarms(dev, up, self.mad_alarm)
        return merge_alarms(first, second, min_gap=self.mad_alarm.clear)

    def score(self, features: np.ndarray) -> np.ndarray:
        """One number per sample for ranking (PR-AUC): the risk, lifted by a large deviation."""
        dev = mad_score(features)
        return np.maximum(self.risk(features), np.clip(dev / (2 * self.mad_alarm.on), 0, 1))


def merge_alarms(a: Sequence[int], b: Sequence[int], min_gap: int) -> list[int]:
    """One alarm where two detectors fire within `min_gap` samples of each other."""
    merged: list[int] = []
    for i in sorted([*a, *b]):
        if not merged or i - merged[-1] > min_gap:
            merged.append(i)
    return merged


# -- baselines -------------------------------------------------------------------------------


@dataclass(frozen=True)
class MadRule:
    """Median + k·MAD on each signal with persistence, nothing learned."""

    alarm: Hysteresis = field(
        default_factory=lambda: Hysteresis(on=8.0, off=3.0, persist=15, clear=60)
    )

    def score(self, features: np.ndarray) -> np.ndarray:
        return mad_score(features)

    def alarms(self, features: np.ndarray, up: np.ndarray) -> list[int]:
        return alarms(self.score(features), up, self.alarm)


@dataclass(frozen=True)
class StaticThreshold:
    """Fixed limits: rx within 3 dB of loss of signal, bias 30% over nominal, delay 50% over
    nominal (nominal = the link's first 6 hours), more than 10 CRC errors a minute over 10 min."""

    alarm: Hysteresis = field(
        default_factory=lambda: Hysteresis(on=1.0, off=0.9, persist=3, clear=30)
    )

    def score_link(self, s: LinkSeries) -> np.ndarray:
        first = int(6 * 3600 * s.time_scale / s.step_s)
        rx = trailing_mean(np.asarray(s.rx_power_dbm, float), 10)
        parts = [(LOS_DBM + 6.0 - rx) / 3.0]  # 1.0 at LOS + 3 dB
        for x, limit in ((s.tx_bias_ma, 0.3), (s.delay_s, 0.5)):
            level = trailing_mean(np.asarray(x, float), 10)
            nominal = float(np.median(x[:first]))
            parts.append((level / nominal - 1.0) / limit)
        parts.append(trailing_mean(crc_increments(s.crc_errors), 10) / 10.0)
        return np.asarray(np.max(np.column_stack(parts), axis=1))

    def alarms_link(self, s: LinkSeries) -> list[int]:
        return alarms(self.score_link(s), s.oper_up, self.alarm)


@dataclass(frozen=True)
class HoltTrend:
    """Holt's linear trend per signal, extrapolated to its limit (rx: loss of signal; bias +50%,
    delay +100% over the lagged baseline; 100 CRC errors a minute): alarm when the crossing is
    predicted within `horizon_h` hours."""

    level: float = 0.05
    trend: float = 0.01
    horizon_h: float = 6.0
    alarm: Hysteresis = field(
        default_factory=lambda: Hysteresis(on=1.0, off=0.5, persist=10, clear=60)
    )

    def score_link(self, s: LinkSeries) -> np.ndarray:
        per_h = 3600.0 * s.time_scale / s.step_s
        rx = np.asarray(s.rx_power_dbm, float)
        signals = [(-rx, -LOS_DBM * np.ones_like(rx))]
        for x, factor in ((s.tx_bias_ma, 1.5), (s.delay_s, 2.0)):
            arr = np.asarray(x, float)
            signals.append((arr, factor * lagged_baseline(arr)[0]))
        crc = np.log1p(trailing_mean(crc_increments(s.crc_errors), 10))
        signals.append((crc, np.full_like(crc, np.log1p(100.0))))
        scores = [self._one(x, limit, per_h) for x, limit in signals]
        return np.asarray(np.max(np.column_stack(scores), axis=1))

    def _one(self, x: np.ndarray, limit: np.ndarray, per_h: float) -> np.ndarray:
        """horizon / hours to cross (>= 1 means within the horizon), 0 without an upward trend."""
        lvl, tr = holt(x, self.level, self.trend)
        gap = limit - lvl
        hours = np.divide(gap, tr * per_h, out=np.full_like(gap, np.inf), where=tr > 0)
        hours = np.where(gap <= 0, 0.0, hours)
        return np.asarray(self.horizon_h / np.maximum(hours, 1e-6))

    def alarms_link(self, s: LinkSeries) -> list[int]:
        return alarms(self.score_link(s), s.oper_up, self.alarm)


def holt(x: np.ndarray, a: float, b: float) -> tuple[np.ndarray, np.ndarray]:
    """Holt's double exponential smoothing: level and trend (per sample) after each sample."""
    lvl, tr = np.empty_like(x), np.empty_like(x)
    level, trend = float(x[0]), 0.0
    for i, v in enumerate(x):
        prev = level
        level = a * v + (1 - a) * (level + trend)
        trend = b * (level - prev) + (1 - b) * trend
        lvl[i], tr[i] = level, trend
    return lvl, tr
