"""Model benchmarks: training time of the forecaster (GEANT) and the fault predictor, and the
cost of one engine round through the hook.

    .venv/bin/python bench/models.py [--json]

Figures go to docs/BENCHMARKS.md (## Models). Nothing here asserts: goals are reported.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from models.evaluate import off_diagonal
from models.fault_eval import FaultEvalConfig, prepare, train_and_calibrate
from models.forecast import ForecastModel
from models.hooks import LinkWindow, ModelPredictor
from models.precursors import GeneratorConfig, generate
from topologies.datasets import data_dir, read_tm_hist


def _timed(fn: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def bench() -> dict[str, Any]:
    y = off_diagonal(read_tm_hist(data_dir() / "geant" / "tm-5min.hist"))
    train_end = round(0.7 * len(y))
    forecaster, fit_s = _timed(lambda: ForecastModel().fit(y, train_end))
    refit_s = _timed(lambda: forecaster.refit_mean(y, train_end + 48))[1]
    cfg = FaultEvalConfig(seeds=0, train_seeds=10)
    prepared, gen_s = _timed(lambda: prepare(cfg, lambda *_: None))
    (faults, _), fault_s = _timed(lambda: train_and_calibrate(prepared, cfg, lambda *_: None))
    predictor = ModelPredictor(forecaster, faults)
    names = [str(i) for i in range(y.shape[1])]
    fc_s = min(_timed(lambda: predictor.forecast(names, y[-100:]))[1] for _ in range(3))
    links = generate(99, GeneratorConfig(links=72, days=2.0))
    windows = {
        lk.name: LinkWindow(
            lk.step_s,
            lk.rx_power_dbm[-720:],
            lk.tx_bias_ma[-720:],
            np.asarray(lk.crc_errors)[-720:],
            np.asarray(lk.in_errors)[-720:],
            lk.delay_s[-720:],
            lk.oper_up[-720:],
        )
        for lk in links
    }
    risk_s = min(_timed(lambda: predictor.link_risk(windows))[1] for _ in range(3))
    return {
        "forecast_fit_s": fit_s,
        "forecast_fit_rows": f"{train_end} steps x {y.shape[1]} OD pairs",
        "forecast_refit_mean_s": refit_s,
        "faults_generate_and_features_s": gen_s,
        "faults_fit_and_calibrate_s": fault_s,
        "faults_fit_only_s": faults.fit_seconds,
        "hook_forecast_462_series_s": fc_s,
        "hook_risk_72_links_12h_windows_s": risk_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    out = bench()
    if args.json:
        print(json.dumps(out, indent=2))
        return
    for key, value in out.items():
        print(f"{key:38s} {value:.2f}" if isinstance(value, float) else f"{key:38s} {value}")


if __name__ == "__main__":
    main()
