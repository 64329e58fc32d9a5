"""Per telemetry round: each directed link's utilisation forecast and fault risk.

`LinkModels` is what `harness.simrun.SimRuntime` calls after every round. Two kinds:

- `TrainedLinkModels` keeps a window of each link's telemetry and asks a `models.hooks.Predictor`
  (the trained forecaster and fault model) for the p90 utilisation `horizon` steps ahead and the
  risk of failure. A link needs `MIN_TELEMETRY_SAMPLES` rounds before it gets a risk and the
  forecaster's `lags` rounds before it gets a forecast: until then it has none (nothing is made
  up). The fault model sees the link's own delay: the measured delay less the queueing delay its
  queues report, so congestion reaches the forecaster, not the fault model. When the predictor
  carries the per-link baseline detector (`models.baseline_detector.OnlineDetector`), each
  link's baseline is learned from its own first rounds and a link the detector flags gets a
  risk of at least `DETECTOR_RISK`: a link flagged by either the fault model or the detector is
  avoided.
- `BaselineLinkModels`: the Holt forecaster and precursor heuristic of `telemetry.baseline`,
  the default where no trained models are given (`netpilot sim run`, `telemetry top`).
- `PeriodLinkModels` wraps either and adds forecasts from each link's learned daily profile per
  class (`models.periods`): the engine pre-moves the elastic classes before a predictable busy
  period (issue 18, item 5; off by default).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np

from telemetry.baseline import HoltForecaster, PrecursorRisk
from telemetry.exporter import LinkForecast, LinkRisk
from telemetry.processor import LinkTelemetry

if TYPE_CHECKING:  # models (scikit-learn) load only when trained models are used
    from models.baseline_detector import LinkBaseline, OnlineDetector
    from models.hooks import LinkWindow, Predictor
    from models.periods import PeriodModel

LinkKey = tuple[str, str]  # (src router, link id)
DETECTOR_RISK = 0.9
"""Risk given to a link the baseline detector flags (above the engine's `risk_on`)."""


class LinkModels(Protocol):
    label: str
    """Names the models wherever their numbers are shown."""
    forecast_source: str
    """Names the forecast in an action's cause."""
    horizon_steps: int

    def update(
        self, links: list[LinkTelemetry], step_s: float
    ) -> tuple[list[LinkForecast], list[LinkRisk]]:
        """`record` then `infer`: one round, in one call (the lockstep runtime)."""
        ...

    def record(self, links: list[LinkTelemetry], step_s: float) -> None:
        """Add one round of telemetry to the models' history (cheap; every round)."""
        ...

    def infer(
        self, links: list[LinkTelemetry], step_s: float
    ) -> tuple[list[LinkForecast], list[LinkRisk]]:
        """Forecasts and risks from the history so far (the costly part; the live controller
        skips it for a round while the previous one still runs, never `record`)."""
        ...

    def detail(self, link: str) -> str:
        """A few words on the latest risk of `link` (e.g. its predicted time to failure)."""
        ...


@dataclass
class BaselineLinkModels:
    label: str = "Holt baseline and precursor heuristic"
    forecast_source: str = "Holt baseline"
    horizon_steps: int = 6
    forecaster: HoltForecaster = field(default_factory=HoltForecaster)
    risk: PrecursorRisk = field(default_factory=PrecursorRisk)

    def update(
        self, links: list[LinkTelemetry], step_s: float
    ) -> tuple[list[LinkForecast], list[LinkRisk]]:
        self.record(links, step_s)
        return self.infer(links, step_s)

    def record(self, links: list[LinkTelemetry], step_s: float) -> None:
        for lt in links:
            if lt.utilisation is not None:
                self.forecaster.update((lt.src, lt.link), lt.utilisation)

    def infer(
        self, links: list[LinkTelemetry], step_s: float
    ) -> tuple[list[LinkForecast], list[LinkRisk]]:
        forecasts, risks = [], []
        horizon = self.horizon_steps * step_s
        for lt in links:
            key = (lt.src, lt.link)
            f = self.forecaster.forecast(key, self.horizon_steps)
            if f is not None:
                forecasts.append(LinkForecast(lt.link, lt.src, lt.dst, f, horizon))
            pps = lt.out_bps / 8000.0 if lt.out_bps else None
            risks.append(LinkRisk(lt.link, lt.src, lt.dst, self.risk.risk(lt, pps)))
        return forecasts, risks

    def detail(self, link: str) -> str:
        return "precursor heuristic"


def own_delay_s(lt: LinkTelemetry) -> float:
    """Measured delay less the queueing delay of its queues, weighted by their traffic."""
    total = sum(lt.class_utilisation.values())
    queueing = 0.0
    if total > 0:
        queueing = sum(
            u / total * lt.class_delay_s.get(c, 0.0) for c, u in lt.class_utilisation.items()
        )
    return max((lt.delay_s or 0.0) - queueing, 0.0)


@dataclass
class _Window:
    rx: deque[float]
    bias: deque[float]
    crc: deque[float]
    """Cumulative CRC errors, rebuilt from the processor's rate (it also stands for in-errors)."""
    delay: deque[float]
    up: deque[bool]
    crc_total: float = 0.0

    @classmethod
    def empty(cls, size: int) -> _Window:
        return cls(
            deque(maxlen=size), deque(maxlen=size), deque(maxlen=size),
            deque(maxlen=size), deque(maxlen=size),
        )  # fmt: skip

    def add(self, lt: LinkTelemetry, step_s: float) -> None:
        self.crc_total += (lt.crc_per_s or 0.0) * step_s
        self.rx.append(lt.rx_power_dbm if lt.rx_power_dbm is not None else _last(self.rx, -40.0))
        self.bias.append(lt.tx_bias_ma if lt.tx_bias_ma is not None else _last(self.bias, 0.0))
        self.crc.append(self.crc_total)
        self.delay.append(own_delay_s(lt))
        self.up.append(lt.oper_up)

    def as_link_window(self, step_s: float) -> LinkWindow:
        from models.hooks import LinkWindow

        return LinkWindow(
            step_s=step_s,
            rx_power_dbm=np.array(self.rx),
            tx_bias_ma=np.array(self.bias),
            crc_errors=np.array(self.crc),
            in_errors=np.array(self.crc),
            delay_s=np.array(self.delay),
            oper_up=np.array(self.up, dtype=bool),
        )


def _last(values: deque[float], default: float) -> float:
    return values[-1] if values else default


@dataclass
class TrainedLinkModels:
    predictor: Predictor
    horizon_steps: int = 12
    window: int = 240
    """Rounds of history kept per link (2 h at 30 s)."""
    min_forecast_steps: int = 12
    label: str = "trained forecaster (p90) and fault model"
    forecast_source: str = "p90 of the trained forecaster"
    _windows: dict[LinkKey, _Window] = field(default_factory=dict)
    _loads: dict[LinkKey, deque[float]] = field(default_factory=dict)
    _details: dict[str, str] = field(default_factory=dict)
    _baselines: dict[LinkKey, LinkBaseline] = field(default_factory=dict)

    def update(
        self, links: list[LinkTelemetry], step_s: float
    ) -> tuple[list[LinkForecast], list[LinkRisk]]:
        self.record(links, step_s)
        return self.infer(links, step_s)

    @property
    def detector(self) -> OnlineDetector | None:
        return getattr(self.predictor, "detector", None)

    def record(self, links: list[LinkTelemetry], step_s: float) -> None:
        for lt in links:
            key = (lt.src, lt.link)
            self._windows.setdefault(key, _Window.empty(self.window)).add(lt, step_s)
            load = self._loads.setdefault(key, deque(maxlen=self.window))
            load.append(lt.utilisation or 0.0)

    def infer(
        self, links: list[LinkTelemetry], step_s: float
    ) -> tuple[list[LinkForecast], list[LinkRisk]]:
        links = [lt for lt in links if (lt.src, lt.link) in self._windows]
        return self._forecasts(links, step_s), self._risks(links, step_s)

    def _forecasts(self, links: list[LinkTelemetry], step_s: float) -> list[LinkForecast]:
        keys = [(lt.src, lt.link) for lt in links]
        ready = [k for k in keys if len(self._loads[k]) >= self.min_forecast_steps]
        if not ready:
            return []
        steps = min(len(self._loads[k]) for k in ready)
        history = np.column_stack([list(self._loads[k])[-steps:] for k in ready])
        names = [f"{src}>{link}" for src, link in ready]
        horizon = self._horizon()
        p90 = {
            f.name: f.p90 for f in self.predictor.forecast(names, history) if f.horizon == horizon
        }
        by_key = {(lt.src, lt.link): lt for lt in links}
        return [
            LinkForecast(lt.link, lt.src, lt.dst, p90[name], horizon * step_s)
            for name, lt in ((n, by_key[k]) for n, k in zip(names, ready, strict=True))
        ]

    def _horizon(self) -> int:
        horizons = getattr(getattr(self.predictor, "forecaster", None), "horizons", None)
        if not horizons:
            return self.horizon_steps
        return int(min(horizons, key=lambda h: abs(int(h) - self.horizon_steps)))

    def _risks(self, links: list[LinkTelemetry], step_s: float) -> list[LinkRisk]:
        from models.hooks import MIN_TELEMETRY_SAMPLES

        ready = {
            f"{lt.src}>{lt.link}": lt
            for lt in links
            if len(self._windows[(lt.src, lt.link)].rx) >= MIN_TELEMETRY_SAMPLES
        }
        if not ready:
            return []
        windows = {
            name: self._windows[(lt.src, lt.link)].as_link_window(step_s)
            for name, lt in ready.items()
        }
        out = []
        for r in self.predictor.latest_risk(windows):
            lt = ready[r.link]
            flagged = self._flagged((lt.src, lt.link), r.link, windows[r.link])
            risk = max(r.risk, DETECTOR_RISK) if flagged else r.risk
            out.append(LinkRisk(lt.link, lt.src, lt.dst, risk if lt.oper_up else 1.0))
            ttf = r.time_to_failure_s
            when = "" if ttf is None else f"; failure in ~{ttf / 60:.0f} min"
            self._details[lt.link] = f"fault model{when}"
            if flagged:
                self._details[lt.link] = f"baseline detector: {', '.join(flagged)}"
        return out

    def _flagged(self, key: LinkKey, name: str, window: LinkWindow) -> list[str]:
        """Detector columns alarming on this link now (none while its baseline is unlearned)."""
        detector = self.detector
        if detector is None:
            return []
        from models.hooks import link_series

        series = link_series(name, window, detector.time_scale)
        baseline = self._baselines.get(key)
        if baseline is None:
            learned = detector.learn(series)
            if learned is None:
                return []
            self._baselines[key] = baseline = learned
        return detector.flagged(baseline, series)

    def detail(self, link: str) -> str:
        return self._details.get(link, "fault model")


@dataclass
class PeriodLinkModels:
    """Another `LinkModels` plus each link's learned daily profile per class: a link with a
    predictable busy period starting within `lead_s` gets a forecast of that period's 10th
    percentile, so the engine moves the elastic classes (`bigdata`, `office`) off it before the
    period starts (its `forecast_on` hysteresis applies). Off unless the settings ask for it."""

    inner: LinkModels
    periods: PeriodModel
    lead_s: float = 900.0
    on: float = 0.85
    """The engine's `forecast_on`: a period at least this busy is worth moving for."""
    label: str = field(init=False)
    forecast_source: str = field(init=False)
    horizon_steps: int = field(init=False)
    _now: float = 0.0

    def __post_init__(self) -> None:
        self.label = f"{self.inner.label}; daily profiles per class"
        self.forecast_source = f"{self.inner.forecast_source} or the learned daily profile"
        self.horizon_steps = self.inner.horizon_steps

    def update(
        self, links: list[LinkTelemetry], step_s: float
    ) -> tuple[list[LinkForecast], list[LinkRisk]]:
        self.record(links, step_s)
        return self.infer(links, step_s)

    def record(self, links: list[LinkTelemetry], step_s: float) -> None:
        self.inner.record(links, step_s)
        for lt in links:
            if lt.class_utilisation:
                self.periods.add(f"{lt.src}>{lt.link}", lt.t, lt.class_utilisation)
            self._now = max(self._now, lt.t)

    def infer(
        self, links: list[LinkTelemetry], step_s: float
    ) -> tuple[list[LinkForecast], list[LinkRisk]]:
        forecasts, risks = self.inner.infer(links, step_s)
        for lt in links:
            busy = self.periods.busy_ahead(f"{lt.src}>{lt.link}", self._now, self.lead_s, self.on)
            if busy is not None:
                forecasts.append(
                    LinkForecast(lt.link, lt.src, lt.dst, busy.level, busy.starts_in_s)
                )
        return forecasts, risks

    def detail(self, link: str) -> str:
        return self.inner.detail(link)


def with_periods(
    models: LinkModels, period_s: float, lead_s: float = 900.0, on: float = 0.85
) -> PeriodLinkModels:
    """`models` plus per-class daily profiles learned online (`PeriodLinkModels`)."""
    from models.periods import PeriodModel

    return PeriodLinkModels(models, PeriodModel(period_s=period_s), lead_s, on)
