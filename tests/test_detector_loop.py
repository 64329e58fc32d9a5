"""Issue 18: the closed loop runs the per-link baseline detector beside the supervised fault
model. Each link's baseline comes from its own first rounds; a link the detector flags is handed
to the engine with a risk above its `risk_on`, whatever the fault model says."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from controller.avoid import AvoidConfig
from models.baseline_detector import OnlineDetector
from models.hooks import LinkRisk, LinkWindow, SeriesForecast
from models.loop_models import LoopModels
from telemetry.linkmodels import DETECTOR_RISK, TrainedLinkModels
from telemetry.processor import LinkTelemetry


@dataclass
class QuietModel:
    """A fault model that never sees anything, with the loop's trained detector beside it."""

    detector: OnlineDetector

    def forecast(self, names: Sequence[str], history: np.ndarray) -> list[SeriesForecast]:
        last = history[-1]
        return [SeriesForecast(n, 12, float(v), float(v)) for n, v in zip(names, last, strict=True)]

    def link_risk(self, telemetry: Mapping[str, LinkWindow]) -> list[LinkRisk]:
        raise AssertionError("the loop asks for the latest risk only")

    def latest_risk(self, telemetry: Mapping[str, LinkWindow]) -> list[LinkRisk]:
        return [LinkRisk(n, 0.1, None, 0.0, False) for n in telemetry]


def _row(name: str, bias: float, rng: np.random.Generator) -> LinkTelemetry:
    return LinkTelemetry(
        name, "A", "B", utilisation=0.3, rx_power_dbm=-3.0 + rng.normal(0, 0.03),
        tx_bias_ma=bias * (1 + rng.normal(0, 0.002)), delay_s=2e-3 * (1 + rng.normal(0, 0.01)),
    )  # fmt: skip


def test_a_link_only_the_detector_sees_is_avoided_and_a_healthy_one_is_not(
    loop_models: LoopModels,
) -> None:
    detector = loop_models.predictor.detector
    assert detector is not None and any(np.isfinite(r.on) for r in detector.detector.rules)
    models = TrainedLinkModels(QuietModel(detector))
    rng = np.random.default_rng(5)
    risk: dict[str, list[tuple[int, float]]] = {"aging": [], "healthy": []}
    rounds = detector.reference + 90
    climb_from = detector.reference + 10
    for k in range(rounds):  # the laser's bias climbs 60 % over 40 rounds after the reference
        climb = 0.6 * min(max(k - climb_from, 0) / 40, 1.0)
        rows = [_row("aging", 35.0 * (1 + climb), rng), _row("healthy", 35.0, rng)]
        for r in models.update(rows, loop_models.step_s)[1]:  # none in the first rounds
            risk[r.link].append((k, r.risk))
    assert max(v for _, v in risk["healthy"]) == 0.1  # never flagged
    assert max(v for k, v in risk["aging"] if k <= climb_from) == 0.1  # nothing before the climb
    assert risk["aging"][-1][1] == DETECTOR_RISK >= AvoidConfig().risk_on
    assert models.detail("aging").startswith("baseline detector: bias")
