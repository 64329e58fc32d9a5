"""Benchmark: the closed loop's fault model judged by the rule the loop uses (risk >= 0.6 raises
an avoidance, below 0.3 clears it), on generated test links it never saw (seeds 0..7; it trains
on seeds 10000+), at the loop's profile: 30 s samples, episodes compressed 8x. Also the loop's
baseline detector (each link's baseline from its first `detector_reference` rounds; rules chosen
on seeds 30000+) alone and joined to the model, counted after the reference rounds, and the
forecast model's lead on a linear ramp. Prints figures, or JSON with --json.

    .venv/bin/python bench/loop_models.py [--json] [--seeds 8]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from controller.avoid import AvoidConfig
from models import loop_models
from models.alarms import Hysteresis, alarms
from models.fault_eval import Tally
from models.fault_features import link_features
from models.faults import merge_alarms
from models.precursors import generate
from topologies.datasets import data_dir


def fault_figures(
    trained: loop_models.LoopModels, spec: loop_models.LoopTraining, seeds: int
) -> dict[str, Any]:
    cfg = AvoidConfig()  # the engine's thresholds
    rule = Hysteresis(on=cfg.risk_on, off=cfg.risk_off, persist=1, clear=10)
    tally, days = Tally(), 0.0
    after = {name: Tally() for name in ("model", "detector", "model_or_detector")}
    det = trained.predictor.detector
    assert det is not None
    ref = det.reference
    for seed in range(seeds):
        for link in generate(seed, spec.generator()):
            risk = trained.predictor.faults.risk(link_features(link))
            raised = alarms(risk, link.oper_up, rule)
            tally.add_alarms(link, raised, start=0)
            days += len(link.times) * link.step_s / 86_400 / link.time_scale
            z = det.learn(link).scores(link)  # type: ignore[union-attr]
            z[:ref] = -np.inf
            flagged = det.detector.alarms(z, link.oper_up)
            both = merge_alarms(raised, flagged, rule.clear)
            for name, got in zip(after, (raised, flagged, both), strict=True):
                after[name].add_alarms(link, got, start=ref)
    later = days * (1 - ref / len(link.times))
    return {
        "after_reference": {n: _figures(t, later) for n, t in after.items()},
        **_figures(tally, days),
        "equivalent_link_days": days,
    }


def _figures(tally: Tally, days: float) -> dict[str, Any]:
    return {
        "failures": tally.failures,
        "recall": tally.detected / max(tally.failures, 1),
        "precision": tally.hits / max(tally.alarms, 1),
        "false_alarms_per_100_link_days": 100.0 * tally.false / days,
        "median_lead_minutes": float(np.median(tally.leads_s) / 60) if tally.leads_s else 0.0,
        "recall_by_kind": {k: f"{v[0]}/{v[1]}" for k, v in tally.by_kind.items()},
    }


def ramp_lead(trained: loop_models.LoopModels) -> dict[str, Any]:
    """Rounds before a linear ramp (0 -> 0.85 over 20 rounds, after 40 flat) reaches 0.85 at
    which the p90 forecast 12 rounds ahead first says >= 0.85."""
    flat = np.full(40, 0.05)
    ramp = np.linspace(0.05, 0.85, 21)[1:]
    series = np.concatenate([flat, ramp])
    rng = np.random.default_rng(0)
    noisy = np.maximum(series + rng.normal(0, 0.005, len(series)), 0)
    for k in range(12, len(series)):
        out = trained.predictor.forecast(["l"], noisy[: k + 1, None])
        p90 = next(f.p90 for f in out if f.horizon == 12)
        if p90 >= 0.85:
            return {"rounds_ahead": len(series) - 1 - k, "utilisation_then": float(series[k])}
    return {"rounds_ahead": 0, "utilisation_then": None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--seeds", type=int, default=8)
    args = parser.parse_args()
    spec = loop_models.LoopTraining()
    t0 = time.perf_counter()
    trained = loop_models.train(data_dir() / "geant", spec)
    out: dict[str, Any] = {
        "train_s": time.perf_counter() - t0,
        "faults": fault_figures(trained, spec, args.seeds),
        "ramp": ramp_lead(trained),
    }
    if args.json:
        print(json.dumps(out, indent=2))
        return
    f = out["faults"]
    print(f"models trained in {out['train_s']:.1f} s")
    print(
        f"fault model, loop rule (risk >= 0.6): recall {f['recall']:.2f} of {f['failures']} "
        f"failures, precision {f['precision']:.2f}, {f['false_alarms_per_100_link_days']:.1f} "
        f"false alarms per 100 link-days (uncompressed), median lead "
        f"{f['median_lead_minutes']:.1f} min (compressed); by kind {f['recall_by_kind']}"
    )
    for name, g in f["after_reference"].items():
        print(
            f"  after the reference rounds, {name}: recall {g['recall']:.2f} of {g['failures']}, "
            f"{g['false_alarms_per_100_link_days']:.1f} false alarms per 100 link-days"
        )
    r = out["ramp"]
    print(f"forecast p90 on a linear ramp: says 85 % {r['rounds_ahead']} rounds before it")


if __name__ == "__main__":
    main()
