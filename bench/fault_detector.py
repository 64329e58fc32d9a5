"""The per-link baseline detector alone, leave-one-kind-out, at the evaluation's default size
(no supervised model: it needs none, so the full test part runs in about a minute).

    .venv/bin/python bench/fault_detector.py [--test-seeds 8] [--val-seeds 10] [--json]

Validation links: every link of seeds 10000 on (second half of their time); test links: the last
40% of the links of seeds 0 on (second half), as `netpilot model eval faults` splits them. Per
held-out kind the detector's rules are chosen on validation without that kind's failures
counted (`models.deviation_eval.choose`). Nothing here asserts: figures go to docs/ML.md.
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

from models.baseline_detector import COLUMNS, fit_baseline
from models.deviation_eval import Scored, choose, column_tallies
from models.fault_eval import FaultEvalConfig, Prepared, Tally
from models.faults import labels
from models.precursors import ALL_FAULT_KINDS, GeneratorConfig, LinkSeries, generate


def _scored(links: list[LinkSeries]) -> list[Scored]:
    out = []
    for link in links:
        y, ttf = labels(link)
        half = len(y) // 2
        p = Prepared(link, np.zeros((len(y), 0)), y, ttf, train=False)
        out.append(Scored(p, fit_baseline(link, half).scores(link)[half:], half))
    return out


def run(test_seeds: int, val_seeds: int, links: int, days: float) -> dict[str, Any]:
    gen = GeneratorConfig(links=links, days=days, fault_kinds=ALL_FAULT_KINDS)
    cfg = FaultEvalConfig(generator=gen)
    cut = round(cfg.train_link_share * links)
    start = time.perf_counter()
    val = [s for k in range(val_seeds) for s in _scored(generate(10_000 + k, gen))]
    test = [s for k in range(test_seeds) for s in _scored(generate(k, gen)[cut:])]
    scored_s = time.perf_counter() - start
    tallies = column_tallies(val, cfg)
    grid_s = time.perf_counter() - start - scored_s
    held: dict[str, Any] = {}
    test_days = len(test) * days / 2
    for kind in ALL_FAULT_KINDS:
        det = choose(tallies, kind, len(val) * days / 2, cfg)
        t = Tally()
        for s in test:
            z = np.vstack([np.full((s.half, len(COLUMNS)), -np.inf), s.z])
            t.add_alarms(s.p.link, det.alarms(z, s.p.link.oper_up), s.half)
        hit, total = t.by_kind.get(kind, [0, 0])
        held[kind] = {
            "recall": t.detected / max(t.failures, 1),
            "held_out_recall": hit / total if total else 0.0,
            "held_out_failures": total,
            "false_alarms_per_100_link_days": 100.0 * t.false / test_days,
            "median_lead_minutes": float(np.median(t.leads_s) / 60) if t.leads_s else 0.0,
        }
    keys = ("recall", "held_out_recall", "false_alarms_per_100_link_days", "median_lead_minutes")
    return {
        "held_out": held,
        "average": {k: float(np.mean([h[k] for h in held.values()])) for k in keys},
        "test_link_days": test_days,
        "validation_link_days": len(val) * days / 2,
        "seconds": {"baselines_and_scores": round(scored_s, 2), "calibration": round(grid_s, 2)},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--test-seeds", type=int, default=8)
    ap.add_argument("--val-seeds", type=int, default=10)
    ap.add_argument("--links", type=int, default=30)
    ap.add_argument("--days", type=float, default=4.0)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    if a.test_seeds < 1 or a.val_seeds < 1 or a.links < 5 or a.days < 2:
        ap.exit(2, "give --test-seeds and --val-seeds >= 1, --links >= 5, --days >= 2\n")
    out = run(a.test_seeds, a.val_seeds, a.links, a.days)
    if a.json:
        print(json.dumps(out, indent=2))
        return
    for kind, h in out["held_out"].items():
        print(f"{kind:18} " + "  ".join(f"{k} {v:.3g}" for k, v in h.items()))
    print("average  " + "  ".join(f"{k} {v:.3g}" for k, v in out["average"].items()))
    print(f"{out['test_link_days']:.0f} test link-days; seconds {out['seconds']}")


if __name__ == "__main__":
    main()
