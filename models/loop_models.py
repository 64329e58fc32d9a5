"""The two trained models the closed loop runs with, trained in seconds and saved as a pair.

- Forecaster: the issue-7 pooled `ForecastModel`, trained on GEANT's measured traffic turned
  into link loads (every pair on its shortest tunnel), without calendar features (the loop's
  30 s steps have no day to learn from). Scale-free, so it forecasts any link's utilisation.
- Fault model: the issue-7 `FaultModel`, trained on generated per-link telemetry at the loop's
  sample interval and time compression (`GeneratorConfig.time_scale`): the demo compresses a
  fibre's hours-long decay into minutes, so the model learns precursors of that length.
- Baseline detector (issue 18): the per-link deviation detector of `models.baseline_detector`,
  each link's baseline learned from its own first `detector_reference` rounds; its rules are
  chosen on generated validation links at the loop's profile (seeds of their own, never the
  fault model's), for a false-alarm budget (`models.deviation_eval.choose`). A link flagged by
  the fault model or by the detector is avoided.

`netpilot model train loop --out DIR` writes `DIR/forecast.model`, `DIR/faults.model` and
`DIR/detector.model` (each
checked by hash and feature schema on load, see `models.persist`); `netpilot demo` trains them
in process when not given `--models DIR`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from controller.errors import UsageError
from models.baseline_detector import COLUMNS, OnlineDetector, fit_baseline
from models.deviation_eval import Scored, choose, column_tallies
from models.fault_eval import FaultEvalConfig, Prepared, prepare
from models.faults import FaultModel, labels
from models.features import FeatureConfig
from models.forecast import ForecastModel
from models.hooks import ModelPredictor
from models.precursors import GeneratorConfig, generate
from models.saved import (
    load_detector,
    load_faults,
    load_forecast,
    save_detector,
    save_faults,
    save_forecast,
)

Progress = Callable[[str, int, int], None]
FORECAST_FILE = "forecast.model"
FAULTS_FILE = "faults.model"
DETECTOR_FILE = "detector.model"


@dataclass(frozen=True)
class LoopTraining:
    step_s: float = 30.0
    """The loop's telemetry interval: the fault model's samples are this far apart."""
    time_scale: float = 0.125
    """Time compression of the generated precursors (15-90 min instead of 2-12 h)."""
    fault_seeds: int = 20
    fault_links: int = 60
    fault_hours: float = 6.0
    forecast_rows: int = 20_000
    seed: int = 0
    detector_seeds: int = 4
    """Validation seeds (60 links of 6 h each) the detector's rules are chosen on."""
    detector_reference: int = 120
    """Rounds of each link's own history its baseline is learned from."""

    def generator(self) -> GeneratorConfig:
        return GeneratorConfig(
            links=self.fault_links,
            days=self.fault_hours / 24,
            step_s=self.step_s,
            time_scale=self.time_scale,
        )


@dataclass
class LoopModels:
    predictor: ModelPredictor
    step_s: float
    info: dict[str, Any]


def _quiet(stage: str, done: int, total: int) -> None:
    return None


def train_forecaster(geant_dir: Path, spec: LoopTraining) -> tuple[ForecastModel, dict[str, Any]]:
    from models.cli_support import load_te_inputs

    pairs, te = load_te_inputs(
        geant_dir / "tm-5min.hist", geant_dir / "topology.json", geant_dir / "tunnels.txt", None
    )
    loads = te.link_series(pairs)
    loads = loads[:, loads.sum(axis=0) > 0]
    model = ForecastModel(
        cfg=FeatureConfig(calendar=False), max_rows=spec.forecast_rows, seed=spec.seed
    )
    model.fit(loads, len(loads))
    info = {"source": str(geant_dir / "tm-5min.hist"), "series": "GEANT link loads"}
    return model, {**info, "links": int(loads.shape[1]), "steps": int(loads.shape[0])}


def train_fault_model(spec: LoopTraining, progress: Progress = _quiet) -> FaultModel:
    """Every generated sample is used (no test part: `netpilot model eval faults` measures)."""
    cfg = FaultEvalConfig(
        seeds=0,
        train_seeds=spec.fault_seeds,
        train_first_seed=spec.seed + 10_000,
        generator=spec.generator(),
        unseen=(),
    )
    prepared = prepare(cfg, progress)
    keep = [p.link.oper_up for p in prepared]
    x = np.vstack([p.features[k] for p, k in zip(prepared, keep, strict=True)])
    y = np.concatenate([p.y[k] for p, k in zip(prepared, keep, strict=True)])
    ttf = np.concatenate([p.ttf[k] for p, k in zip(prepared, keep, strict=True)])
    return FaultModel(seed=spec.seed).fit(x, y, ttf)


def train_detector(spec: LoopTraining) -> OnlineDetector:
    """Rules chosen on validation links of seeds 30,000 on (the fault model trains on 10,000
    on): each link's baseline from its first `detector_reference` samples, scored after."""
    gen = spec.generator()
    cfg = FaultEvalConfig(generator=gen)
    ref = spec.detector_reference
    val = []
    for k in range(spec.detector_seeds):
        for link in generate(spec.seed + 30_000 + k, gen):
            y, ttf = labels(link)
            p = Prepared(link, np.zeros((len(y), 0)), y, ttf, train=False)
            val.append(Scored(p, fit_baseline(link, ref).scores(link)[ref:], ref))
    days = sum(len(s.z) for s in val) * gen.step_s / 86_400 / gen.time_scale
    rules = choose(column_tallies(val, cfg), "", days, cfg)
    return OnlineDetector(rules, ref, gen.time_scale)


def train(geant_dir: Path, spec: LoopTraining, progress: Progress = _quiet) -> LoopModels:
    start = time.perf_counter()
    progress("training the traffic forecaster", 0, 3)
    forecaster, finfo = train_forecaster(geant_dir, spec)
    progress("training the fault model", 1, 3)
    faults = train_fault_model(spec)
    progress("choosing the baseline detector's rules", 2, 3)
    detector = train_detector(spec)
    info = {
        "step_s": spec.step_s,
        "time_scale": spec.time_scale,
        "forecast": finfo,
        "faults": {
            "generated_links": spec.fault_seeds * spec.fault_links,
            "hours_each": spec.fault_hours,
        },
        "detector": {
            "validation_links": spec.detector_seeds * spec.fault_links,
            "reference_rounds": spec.detector_reference,
            "columns_on": detector_columns(detector),
        },
        "train_seconds": round(time.perf_counter() - start, 2),
    }
    return LoopModels(ModelPredictor(forecaster, faults, detector=detector), spec.step_s, info)


def detector_columns(detector: OnlineDetector) -> dict[str, str]:
    """The detector's live columns and their rule, for people: `rx_level: z>=48 for 4`."""
    return {
        name: f"z>={rule.on:g} for {rule.persist}"
        for name, rule in zip(COLUMNS, detector.detector.rules, strict=True)
        if np.isfinite(rule.on)
    }


def save(directory: Path, models: LoopModels) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    info = {"loop": models.info}
    save_forecast(directory / FORECAST_FILE, models.predictor.forecaster, info)
    save_faults(directory / FAULTS_FILE, models.predictor.faults, info)
    if models.predictor.detector is not None:
        save_detector(directory / DETECTOR_FILE, models.predictor.detector, info)


def load(directory: Path) -> LoopModels:
    if not directory.is_dir():
        raise UsageError(
            f"--models {directory}: not a directory; write one with "
            "`netpilot model train loop --out DIR`"
        )
    fheader, forecaster = load_forecast(directory / FORECAST_FILE)
    _, faults = load_faults(directory / FAULTS_FILE)
    if not (directory / DETECTOR_FILE).is_file():
        raise UsageError(
            f"--models {directory}: no {DETECTOR_FILE} (trained before the baseline detector); "
            "retrain with `netpilot model train loop --out DIR`"
        )
    _, detector = load_detector(directory / DETECTOR_FILE)
    info = fheader.info.get("loop")
    if not isinstance(info, dict) or "step_s" not in info:
        raise UsageError(
            f"{directory / FORECAST_FILE}: not trained for the closed loop; retrain with "
            "`netpilot model train loop --out DIR`"
        )
    predictor = ModelPredictor(forecaster, faults, detector=detector)
    return LoopModels(predictor, float(info["step_s"]), info)
