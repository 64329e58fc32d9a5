"""telemetry.linkmodels: what the loop hands the trained models each round, and what it gets."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pytest

from models.hooks import MIN_TELEMETRY_SAMPLES, LinkRisk, LinkWindow, SeriesForecast
from models.loop_models import LoopModels
from telemetry.linkmodels import TrainedLinkModels, own_delay_s
from telemetry.processor import LinkTelemetry


@dataclass
class RecordingPredictor:
    """A test double of `models.hooks.Predictor` that records what it is given."""

    histories: list[np.ndarray] = field(default_factory=list)
    windows: list[Mapping[str, LinkWindow]] = field(default_factory=list)

    def forecast(self, names: Sequence[str], history: np.ndarray) -> list[SeriesForecast]:
        self.histories.append(history)
        last = history[-1]
        return [
            SeriesForecast(n, h, float(v), float(v) + 0.1 * h)
            for h in (1, 3, 12)
            for n, v in zip(names, last, strict=True)
        ]

    def link_risk(self, telemetry: Mapping[str, LinkWindow]) -> list[LinkRisk]:
        raise AssertionError("the loop asks for the latest risk only")

    def latest_risk(self, telemetry: Mapping[str, LinkWindow]) -> list[LinkRisk]:
        self.windows.append(telemetry)
        return [LinkRisk(n, 0.25, None, 0.0, False) for n in telemetry]


def link(util: float, rx: float = -3.0, up: bool = True, crc: float = 0.0) -> LinkTelemetry:
    return LinkTelemetry(
        "A-B", "A", "B", oper_up=up, utilisation=util, rx_power_dbm=rx, tx_bias_ma=35.0,
        delay_s=2e-3, crc_per_s=crc,
    )  # fmt: skip


def test_queueing_is_taken_out_of_the_delay_the_fault_model_sees() -> None:
    lt = link(0.5)
    lt.delay_s = 3e-3
    lt.class_utilisation = {"voice": 0.1, "bigdata": 0.3}
    lt.class_delay_s = {"voice": 0.0, "bigdata": 1e-3}
    assert own_delay_s(lt) == 3e-3 - 0.75e-3
    assert own_delay_s(link(0.0)) == 2e-3  # no traffic, no queueing


def test_nothing_is_made_up_before_a_link_has_enough_history() -> None:
    predictor = RecordingPredictor()
    models = TrainedLinkModels(predictor)
    for k in range(MIN_TELEMETRY_SAMPLES):
        forecasts, risks = models.update([link(0.01 * k, crc=2.0)], 30.0)
        assert bool(forecasts) == (k + 1 >= models.min_forecast_steps)
        assert bool(risks) == (k + 1 >= MIN_TELEMETRY_SAMPLES)
    f = forecasts[0]
    assert f.horizon_s == 12 * 30.0 and f.utilisation == pytest.approx(
        0.29 + 1.2
    )  # p90 at 12 steps
    assert predictor.histories[-1].shape == (MIN_TELEMETRY_SAMPLES, 1)
    window = predictor.windows[-1]["A>A-B"]
    assert len(window.rx_power_dbm) == MIN_TELEMETRY_SAMPLES and window.step_s == 30.0
    np.testing.assert_allclose(np.diff(window.crc_errors), 60.0)  # a counter from the rate
    assert risks[0].risk == 0.25 and models.detail("A-B") == "fault model"


def test_a_down_link_is_certain_and_the_window_is_bounded() -> None:
    models = TrainedLinkModels(RecordingPredictor(), window=40)
    for _ in range(50):
        models.update([link(0.2)], 30.0)
    _, risks = models.update([link(0.0, rx=-40.0, up=False)], 30.0)
    assert risks[0].risk == 1.0
    assert len(models._windows[("A", "A-B")].rx) == 40


def test_the_trained_models_see_a_fading_fibre_and_not_a_healthy_one(
    loop_models: LoopModels,
) -> None:
    rng = np.random.default_rng(3)
    models = TrainedLinkModels(loop_models.predictor)
    risks: dict[str, list[float]] = {"fading": [], "healthy": []}
    for k in range(50):  # 25 min at 30 s; the fibre loses 9 dB from minute 10 on
        fade = 9.0 * min(max(k - 20, 0) / 24, 1.0)
        rows = [
            LinkTelemetry("fading", "A", "B", utilisation=0.3, rx_power_dbm=-3 - fade
                          + rng.normal(0, 0.05), tx_bias_ma=35.0, delay_s=2e-3),
            LinkTelemetry("healthy", "A", "C", utilisation=0.3, rx_power_dbm=-3
                          + rng.normal(0, 0.05), tx_bias_ma=35.0, delay_s=2e-3),
        ]  # fmt: skip
        for r in models.update(rows, 30.0)[1]:
            risks[r.link].append(r.risk)
    assert max(risks["fading"]) >= 0.6 > max(risks["healthy"])
