"""What the engine calls each telemetry round: forecasts per link and OD pair, risk per link.

The engine passes recent history as numpy arrays and gets frozen dataclasses back; it never sees
scikit-learn. `Predictor` is the interface (a Protocol, so a test double or another backend fits);
`ModelPredictor` is the backend built on the trained `ForecastModel` and `FaultModel`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from controller.errors import UsageError
from models.alarms import active_at_end
from models.baseline_detector import OnlineDetector
from models.fault_features import latest_features, link_features
from models.faults import FaultModel, mad_score
from models.forecast import ForecastModel
from models.precursors import LinkSeries

MIN_TELEMETRY_SAMPLES = 30


@dataclass(frozen=True)
class SeriesForecast:
    """Forecast of one series (an OD pair or a link load, bit/s) `horizon` steps ahead."""

    name: str
    horizon: int
    mean: float
    p90: float


@dataclass(frozen=True)
class LinkWindow:
    """Recent telemetry of one link, oldest first, sampled every `step_s` seconds, in the units
    of `controller.devicestate.InterfaceState` (counters cumulative)."""

    step_s: float
    rx_power_dbm: np.ndarray
    tx_bias_ma: np.ndarray
    crc_errors: np.ndarray
    in_errors: np.ndarray
    delay_s: np.ndarray
    oper_up: np.ndarray


@dataclass(frozen=True)
class LinkRisk:
    link: str
    risk: float
    """Probability-like score in [0, 1] that the link fails within 24 h."""
    time_to_failure_s: float | None
    """Predicted seconds to failure when the risk is high, else None."""
    deviation: float
    """Largest robust z in the harmful direction (unsupervised; works for unseen faults)."""
    alarm: bool
    """Alarm state after hysteresis over the window."""


class Predictor(Protocol):
    def forecast(self, names: Sequence[str], history: np.ndarray) -> list[SeriesForecast]:
        """history (steps, len(names)) in bit/s, oldest first; one forecast per name/horizon."""
        ...

    def link_risk(self, telemetry: Mapping[str, LinkWindow]) -> list[LinkRisk]: ...

    def latest_risk(self, telemetry: Mapping[str, LinkWindow]) -> list[LinkRisk]:
        """Like `link_risk`, for the last sample only (one batched model call per round); the
        alarm is the instantaneous threshold test, without the window's hysteresis."""
        ...


@dataclass
class ModelPredictor:
    forecaster: ForecastModel
    faults: FaultModel
    ttf_risk: float = 0.5
    detector: OnlineDetector | None = None
    """The per-link baseline detector's rules; whoever keeps each link's history (the loop's
    `telemetry.linkmodels.TrainedLinkModels`) learns and keeps the baselines."""

    def forecast(self, names: Sequence[str], history: np.ndarray) -> list[SeriesForecast]:
        history = np.asarray(history, dtype=float)
        if history.ndim != 2 or history.shape[1] != len(names):
            raise UsageError(f"history must be (steps, {len(names)}), got {history.shape}")
        out = []
        for h, (mean, p90) in self.forecaster.forecast_next(history).items():
            out += [
                SeriesForecast(name, h, float(m), float(q))
                for name, m, q in zip(names, mean, p90, strict=True)
            ]
        return out

    def link_risk(self, telemetry: Mapping[str, LinkWindow]) -> list[LinkRisk]:
        return [self._one(name, w) for name, w in telemetry.items()]

    def latest_risk(self, telemetry: Mapping[str, LinkWindow]) -> list[LinkRisk]:
        if not telemetry:
            return []
        names = list(telemetry)
        last = latest_features([_series(n, telemetry[n]) for n in names])
        risk, dev = self.faults.risk(last), mad_score(last)
        ttf = self.faults.time_to_failure_s(last)
        up = [bool(telemetry[n].oper_up[-1]) for n in names]
        out = []
        for k, name in enumerate(names):
            r, d = float(risk[k]), float(dev[k])
            alarm = r >= self.faults.risk_alarm.on or d >= self.faults.mad_alarm.on
            when = float(ttf[k]) if r >= self.ttf_risk else None
            out.append(LinkRisk(name, r, when, d, alarm and up[k]))
        return out

    def _one(self, name: str, w: LinkWindow) -> LinkRisk:
        series = _series(name, w)
        x = link_features(series)
        risk, dev = self.faults.risk(x), mad_score(x)
        up = series.oper_up
        alarm = active_at_end(risk, up, self.faults.risk_alarm) or active_at_end(
            dev, up, self.faults.mad_alarm
        )
        ttf = float(self.faults.time_to_failure_s(x[-1:])[0]) if risk[-1] >= self.ttf_risk else None
        return LinkRisk(name, float(risk[-1]), ttf, float(dev[-1]), bool(alarm and up[-1]))


def _series(name: str, w: LinkWindow) -> LinkSeries:
    if len(w.rx_power_dbm) < MIN_TELEMETRY_SAMPLES:
        raise UsageError(
            f"link {name}: {len(w.rx_power_dbm)} telemetry samples, need at least "
            f"{MIN_TELEMETRY_SAMPLES}"
        )
    return link_series(name, w)


def link_series(name: str, w: LinkWindow, time_scale: float = 1.0) -> LinkSeries:
    """The window as the generator's `LinkSeries` (what the detector and features read)."""
    return LinkSeries(
        name, w.step_s, np.asarray(w.rx_power_dbm, float), np.asarray(w.tx_bias_ma, float),
        np.asarray(w.crc_errors), np.asarray(w.in_errors), np.asarray(w.delay_s, float),
        np.asarray(w.oper_up, bool), time_scale=time_scale,
    )  # fmt: skip
