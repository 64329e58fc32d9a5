"""Leave-one-kind-out with the per-link baseline detector joined to the supervised model.

Per link, the detector's baseline is learned on the first half of its time (the part training
may use) and it scores the second half. Its thresholds are chosen on validation links only:
every link of `cfg.detector_seeds` seeds of their own (`cfg.detector_first_seed` on), never a
test seed's nor a training seed's (the detector needs no training links, so its false-alarm
estimate does not shrink with `--train-seeds`). Per column (signal x level/slope) the
admissible settings are those with at most its share of `DETECTOR_FA_PER_100` false alarms per
100 link-days on the validation links; among them, the one with the most recall on the
validation failures of the kinds in training (the held-out kind is not counted), then the
longest median lead on those failures (the held-out kind's leads are not counted either).
The combined method raises when the model or the detector does, so the goal's
budget of 1 false alarm per 100 link-days is split in two: the model's alarm thresholds are
calibrated for `MODEL_FA_PER_100`, the detector's for `DETECTOR_FA_PER_100`. Before = the
model alone, after = combined, on the same test links.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from controller.errors import UsageError
from models.alarms import Hysteresis, alarms
from models.baseline_detector import COLUMNS, OFF, BaselineDetector, fit_baseline
from models.fault_eval import (
    FaultEvalConfig,
    Outcome,
    Prepared,
    Progress,
    Tally,
    prepare,
    train_and_calibrate,
)
from models.faults import labels, merge_alarms
from models.precursors import generate

ZS = tuple(round(6.0 * 2 ** (k / 6), 1) for k in range(34))
"""Robust z thresholds from 6 to 271.5 in steps of 2^(1/6) (12 %). The first grid (6, 8, 12, ...,
256: steps of 33-50 %) left a threshold up to a step above the largest decoy on the validation
links; the finer one was chosen on validation seeds only (docs/ML.md, "A finer z grid")."""
DEV_GRID = [(k, n) for k in ZS for n in (15, 30, 60)]
"""(robust z threshold, minutes it must hold)."""
DETECTOR_FA_PER_100 = 0.5
"""False alarms per 100 link-days the detector may add on the validation links (all columns
together): half the goal's budget."""
MODEL_FA_PER_100 = 0.5
"""The other half: the supervised model's calibration target when it runs with the detector."""
METHODS = ("model", "mad", "deviation", "combined")


@dataclass
class Scored:
    p: Prepared
    z: np.ndarray
    """(T - half, len(COLUMNS)) robust z of the second half, baseline learned on the first."""
    half: int


def score_links(prepared: list[Prepared]) -> list[Scored]:
    out = []
    for p in prepared:
        half = len(p.y) // 2
        out.append(Scored(p, fit_baseline(p.link, half).scores(p.link)[half:], half))
    return out


def validation_links(cfg: FaultEvalConfig) -> list[Scored]:
    """The detector's validation links: every link of its own seeds, scored on the second half
    of their time (baseline from the first)."""
    out = []
    for k in range(cfg.detector_seeds):
        for link in generate(cfg.detector_first_seed + k, cfg.generator):
            y, ttf = labels(link)
            out += score_links([Prepared(link, np.zeros((len(y), 0)), y, ttf, train=False)])
    return out


def _rule(k: float, minutes: int, cfg: FaultEvalConfig) -> Hysteresis:
    per = cfg.generator.time_scale * 60.0 / cfg.generator.step_s
    return Hysteresis(k, k / 2, max(1, round(minutes * per)), max(1, round(60 * per)))


def _raised(s: Scored, column: int, rule: Hysteresis) -> list[int]:
    up = s.p.link.oper_up[s.half :]
    return [s.half + i for i in alarms(s.z[:, column], up, rule)]


def column_tallies(val: list[Scored], cfg: FaultEvalConfig) -> dict[tuple[int, int], Tally]:
    """Per (column, grid index) the tally over the validation links' second halves."""
    out = {}
    for c in range(len(COLUMNS)):
        for g, (k, n) in enumerate(DEV_GRID):
            tally = Tally()
            rule = _rule(k, n, cfg)
            for s in val:
                tally.add_alarms(s.p.link, _raised(s, c, rule), s.half)
            out[(c, g)] = tally
    return out


def choose(
    tallies: dict[tuple[int, int], Tally], held_out: str, val_days: float, cfg: FaultEvalConfig
) -> BaselineDetector:
    allowance = DETECTOR_FA_PER_100 * val_days / 100.0 / len(COLUMNS)
    rules = []
    for c in range(len(COLUMNS)):
        best: tuple[float, float, float] | None = None
        rule = OFF
        for g, (k, n) in enumerate(DEV_GRID):
            t = tallies[(c, g)]
            if t.false > allowance:
                continue
            seen = [v for kind, v in t.by_kind.items() if kind != held_out]
            recall = sum(v[0] for v in seen) / max(sum(v[1] for v in seen), 1)
            leads = [x for kind, v in t.leads_by_kind.items() if kind != held_out for x in v]
            lead = float(np.median(leads)) if leads else 0.0
            rank = (recall, lead, -k)
            if best is None or rank > best:
                best, rule = rank, _rule(k, n, cfg)
        rules.append(rule)
    return BaselineDetector(rules)


def evaluate_combined(cfg: FaultEvalConfig, progress: Progress) -> dict[str, Any]:
    """Leave-one-kind-out: per held-out kind the figures of the model (before), the MAD rule,
    the baseline detector alone and model-or-detector (after); averages; timings."""
    kinds = cfg.generator.fault_kinds
    if len(kinds) < 2:
        raise UsageError("leave-one-kind-out needs at least two fault kinds to train on")
    prepared = prepare(cfg, progress)
    start = time.perf_counter()
    progress("learning each link's baseline", 0, 1)
    tests = score_links([p for p in prepared if not p.train])
    val = validation_links(cfg)
    baseline_s = time.perf_counter() - start
    if not val:
        raise UsageError("no validation links: give --detector-seeds >= 1")
    days = cfg.generator.days / 2 / cfg.generator.time_scale
    start = time.perf_counter()
    tallies = column_tallies(val, cfg)
    grid_s = time.perf_counter() - start
    held: dict[str, Any] = {}
    detectors: dict[str, Any] = {}
    fit_s = 0.0
    for kind in kinds:
        start = time.perf_counter()
        model, mad = train_and_calibrate(
            prepared, replace(cfg, unseen=(kind,)), progress, MODEL_FA_PER_100
        )
        fit_s += time.perf_counter() - start
        det = choose(tallies, kind, len(val) * days, cfg)
        detectors[kind] = {c: r.__dict__ for c, r in zip(COLUMNS, det.rules, strict=True)}
        result = {m: Tally() for m in METHODS}
        for k, s in enumerate(tests):
            progress(f"detecting ({kind} held out)", k, len(tests))
            for name, outcome in _outcomes(s, model, mad, det).items():
                result[name].add(s.p, outcome, start=s.half)
        held[kind] = {
            name: {
                **t.summary(len(tests) * days),
                "held_out_recall": _share(t.by_kind.get(kind, [0, 0])),
                "held_out_failures": t.by_kind.get(kind, [0, 0])[1],
            }
            for name, t in result.items()
        }
    return {
        "held_out": held,
        "average": _averages(held),
        "test_link_days": len(tests) * days,
        "validation_link_days": len(val) * days,
        "fa_budget_per_100": {"model": MODEL_FA_PER_100, "detector": DETECTOR_FA_PER_100},
        "detector_rules": detectors,
        "seconds": {
            "baselines_and_scores_all_links": round(baseline_s, 2),
            "detector_calibration_grid": round(grid_s, 2),
            "supervised_training_all_kinds": round(fit_s, 2),
        },
    }


def _outcomes(s: Scored, model: Any, mad: Any, det: BaselineDetector) -> dict[str, Outcome]:
    p = s.p
    up = p.link.oper_up
    z = np.vstack([np.zeros((s.half, len(COLUMNS))), s.z])
    z[: s.half] = -np.inf  # the reference half is never scored
    m_alarms = model.alarms(p.features, up)
    d_alarms = det.alarms(z, up)
    gap = model.mad_alarm.clear
    m_score = model.score(p.features)
    d_score = np.clip(det.score(z) / 2, 0, 1)
    return {
        "model": Outcome(m_alarms, m_score),
        "mad": Outcome(mad.alarms(p.features, up), mad.score(p.features)),
        "deviation": Outcome(d_alarms, d_score),
        "combined": Outcome(merge_alarms(m_alarms, d_alarms, gap), np.maximum(m_score, d_score)),
    }


def _share(hit_total: list[int]) -> float:
    return hit_total[0] / hit_total[1] if hit_total[1] else 0.0


def _averages(held: dict[str, Any]) -> dict[str, dict[str, float]]:
    keys = ("recall", "false_alarms_per_100_link_days", "median_lead_minutes", "held_out_recall")
    out: dict[str, dict[str, float]] = {}
    for name in METHODS:
        rows = [h[name] for h in held.values()]
        out[name] = {k: float(np.mean([r[k] for r in rows])) for k in keys}
        out[name]["worst_held_out_recall"] = float(min(r["held_out_recall"] for r in rows))
    return out
