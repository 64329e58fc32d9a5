"""Benchmark: the closed loop on bank-wan, per scenario: time to detect, locate and rectify, in
simulated time (after the failure; negative = ahead of it) and the controller's wall time from
the signal to the new config committed and confirmed. Scenarios run with the southbound over
NETCONF to simulated routers (telemetry polled over NETCONF too), 30 s telemetry interval, and
the trained loop models (`models.loop_models`, trained once at the start, or `--models DIR`).

    .venv/bin/python bench/loop.py [--json] [--in-process] [--models DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import logging

from harness.loop import compliance_by_class
from harness.loopsession import ROOT, LoopSession, LoopSpec
from harness.surge import Surge
from models import loop_models
from models.loop_models import LoopModels
from topologies.datasets import data_dir

SCENARIOS = ROOT / "harness" / "scenarios"
RUNS: list[tuple[str, dict[str, Any]]] = [
    ("link-cut", {"until_s": 15 * 60}),
    ("node-failure", {"until_s": 15 * 60}),
    ("srlg", {"until_s": 15 * 60}),
    ("flap", {"until_s": 15 * 60, "hold_time_s": 600.0}),
    ("latency", {"until_s": 12 * 60}),
    ("degradation", {"until_s": 30 * 60}),
    ("surge", {"until_s": 20 * 60, "surges": (Surge("HQ", "DC2", 17e9, 300, 600, 1800),)}),
    ("demo", {"until_s": 60 * 60, "surges": (Surge("HQ", "DC2", 17e9, 2400, 600, 3300),)}),
]


def run(name: str, kw: dict[str, Any], netconf: bool, models: LoopModels) -> dict[str, Any]:
    path = SCENARIOS / f"bank-wan-{name}.yaml"
    spec = LoopSpec(scenario=path, netconf=netconf, models=models, **kw)
    t0 = time.perf_counter()
    with LoopSession(spec) as session:
        for _ in range(session.steps):
            session.runner.tick()
        rows = session.timeline()
        names = [i.name for i in session.intents]
        return {
            "scenario": name,
            "events": rows,
            "intents_lost": len(session.runner.intents_lost(names)),
            "sla_compliance": compliance_by_class(session.runner.sla, session.classes()),
            "wall_s": time.perf_counter() - t0,
            "simulated_s": session.sim.t,
        }


def _s(v: float | None) -> str:
    return "-" if v is None else f"{v:.0f}" if abs(v) >= 1 else f"{v:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--in-process", action="store_true", help="southbound in process")
    parser.add_argument("--models", type=Path, help="trained loop models (default: train now)")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    t0 = time.perf_counter()
    if args.models:
        models = loop_models.load(args.models)
    else:
        models = loop_models.train(data_dir() / "geant", loop_models.LoopTraining())
    train_s = time.perf_counter() - t0
    results = [run(name, kw, not args.in_process, models) for name, kw in RUNS]
    if args.json:
        print(json.dumps({"models_s": train_s, "runs": results}, indent=2))
        return
    print(f"models: {'loaded' if args.models else 'trained'} in {train_s:.1f} s")
    print(
        "scenario      event                              link        detect locate "
        "rectify(sim s)  wall(s)  moved  SLA misses"
    )
    for r in results:
        for e in r["events"]:
            wall = e.get("rectify_wall_s")
            walls = "-" if wall is None else f"{wall:.3f}"
            print(
                f"{r['scenario']:<13} {e['event'][:34]:<34} {e.get('link')!s:<11} "
                f"{_s(e['detect_s']):>6} {_s(e['locate_s']):>6} {_s(e['rectify_s']):>8}       "
                f"{walls:>7}  {len(e['moved']):>5}  {e['sla_violations']:>5}"
            )
        print(
            f"{'':13} intents lost {r['intents_lost']}, {r['simulated_s']:.0f} s simulated in "
            f"{r['wall_s']:.1f} s wall; SLA met: "
            + ", ".join(f"{c} {v:.1%}" for c, v in r["sla_compliance"].items())
        )


if __name__ == "__main__":
    main()
