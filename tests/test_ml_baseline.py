"""Issue 18's per-link baseline detector: thresholds chosen on validation links without the
held-out kind's failures counted, then it must catch that kind and stay quiet on healthy links."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from models.baseline_detector import COLUMNS, fit_baseline
from models.deviation_eval import Scored, choose, column_tallies
from models.fault_eval import FaultEvalConfig, Prepared, Tally
from models.faults import labels
from models.precursors import ALL_FAULT_KINDS, FAULT_KINDS, GeneratorConfig, LinkSeries, generate

ROOT = Path(__file__).resolve().parents[1]

DAYS = 2.0


def _scored(links: list[LinkSeries]) -> list[Scored]:
    out = []
    for link in links:
        y, ttf = labels(link)
        half = len(y) // 2
        p = Prepared(link, np.zeros((len(y), 0)), y, ttf, train=True)
        out.append(Scored(p, fit_baseline(link, half).scores(link)[half:], half))
    return out


def _alarms(det: object, s: Scored) -> list[int]:
    z = np.vstack([np.full((s.half, len(COLUMNS)), -np.inf), s.z])
    return det.alarms(z, s.p.link.oper_up)  # type: ignore[attr-defined,no-any-return]


def test_detector_catches_a_held_out_kind_and_stays_quiet_on_healthy_links() -> None:
    cfg = FaultEvalConfig(generator=GeneratorConfig(links=16, days=DAYS))
    # validation: the four original kinds and their decoys; loss_microbursts never appears
    val = _scored(generate(10_000, GeneratorConfig(links=16, days=DAYS, fault_kinds=FAULT_KINDS)))
    det = choose(column_tallies(val, cfg), "loss_microbursts", 16 * DAYS / 2, cfg)
    assert any(np.isfinite(r.on) for r in det.rules)

    held = GeneratorConfig(links=6, days=DAYS, fault_share=1.0, fault_kinds=("loss_microbursts",))
    tally = Tally()
    for s in _scored(generate(3, held)):
        tally.add_alarms(s.p.link, _alarms(det, s), s.half)
    assert tally.failures >= 4
    assert tally.detected / tally.failures >= 0.75 and tally.false == 0

    healthy = GeneratorConfig(links=6, days=DAYS, fault_share=0.0, decoy_share=0.0)
    for s in _scored(generate(4, healthy)):
        assert not s.p.link.events
        assert _alarms(det, s) == []


def test_detector_bench_runs_on_a_tiny_input() -> None:
    """bench/fault_detector.py (docs/ML.md's figures) on one seed of 10 links each way."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "fault_detector.py"), "--test-seeds", "1",
         "--val-seeds", "1", "--links", "10", "--days", "2", "--json"],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert set(out["held_out"]) == set(ALL_FAULT_KINDS)
    assert out["test_link_days"] == 4.0 and out["validation_link_days"] == 10.0
    for h in out["held_out"].values():
        assert 0.0 <= h["held_out_recall"] <= 1.0 and h["false_alarms_per_100_link_days"] >= 0.0


def test_the_held_out_kind_does_not_steer_the_choice() -> None:
    """The held-out kind's hits on validation (and their leads) must not move its own run's
    rules: poisoning them (every setting "catches" it a day ahead, the loosest the earliest)
    leaves the choice as it was. The lead tie-break once read every kind's leads."""
    cfg = FaultEvalConfig(generator=GeneratorConfig(links=16, days=DAYS))
    val = _scored(generate(10_000, GeneratorConfig(links=16, days=DAYS, fault_kinds=FAULT_KINDS)))
    tallies = column_tallies(val, cfg)
    days = 16 * DAYS / 2
    before = choose(tallies, "latency_creep", days, cfg)
    for (_, g), t in tallies.items():
        poison = [86_400.0 + g] * 5
        t.by_kind["latency_creep"] = [5, 5]
        t.leads_by_kind["latency_creep"] = poison
        t.leads_s = [x for k, v in t.leads_by_kind.items() for x in v]
    assert choose(tallies, "latency_creep", days, cfg) == before
    assert choose(tallies, "optical_drift", days, cfg) != before  # the poison does steer a run
