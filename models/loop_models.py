"""The two trained models the closed loop runs with, trained in seconds and saved as a pair.

- Forecaster: the issue-7 pooled `ForecastModel`, trained on GEANT's measured traffic turned
  into link loads (every pair on its shortest tunnel), without calendar features (the loop's
  30 s steps have no day to learn from). Scale-free, so it forecasts any link's utilisation.
- Fault model: the issue-7 `FaultModel`, trained on generated per-link telemetry at the loop's
  sample interval and time compression (`GeneratorConfig.time_scale`): the demo compresses a
  fibre's hours-long decay into minutes, so the model learns precursors of that length.

`netpilot model train loop --out DIR` writes `DIR/forecast.model` and `DIR/faults.model` (each
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
from models.fault_eval import FaultEvalConfig, prepare
from models.faults import FaultModel
from models.features import FeatureConfig
from models.forecast import ForecastModel
from models.hooks import ModelPredictor
from models.precursors import GeneratorConfig
from models.saved import load_faults, load_forecast, save_faults, save_forecast

Progress = Callable[[str, int, int], None]
FORECAST_FILE = "forecast.model"
FAULTS_FILE = "faults.model"


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


def train(geant_dir: Path, spec: LoopTraining, progress: Progress = _quiet) -> LoopModels:
    start = time.perf_counter()
    progress("training the traffic forecaster", 0, 2)
    forecaster, finfo = train_forecaster(geant_dir, spec)
    progress("training the fault model", 1, 2)
    faults = train_fault_model(spec)
    info = {
        "step_s": spec.step_s,
        "time_scale": spec.time_scale,
        "forecast": finfo,
        "faults": {
            "generated_links": spec.fault_seeds * spec.fault_links,
            "hours_each": spec.fault_hours,
        },
        "train_seconds": round(time.perf_counter() - start, 2),
    }
    return LoopModels(ModelPredictor(forecaster, faults), spec.step_s, info)


def save(directory: Path, models: LoopModels) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    info = {"loop": models.info}
    save_forecast(directory / FORECAST_FILE, models.predictor.forecaster, info)
    save_faults(directory / FAULTS_FILE, models.predictor.faults, info)


def load(directory: Path) -> LoopModels:
    if not directory.is_dir():
        raise UsageError(
            f"--models {directory}: not a directory; write one with "
            "`netpilot model train loop --out DIR`"
        )
    fheader, forecaster = load_forecast(directory / FORECAST_FILE)
    _, faults = load_faults(directory / FAULTS_FILE)
    info = fheader.info.get("loop")
    if not isinstance(info, dict) or "step_s" not in info:
        raise UsageError(
            f"{directory / FORECAST_FILE}: not trained for the closed loop; retrain with "
            "`netpilot model train loop --out DIR`"
        )
    return LoopModels(ModelPredictor(forecaster, faults), float(info["step_s"]), info)
