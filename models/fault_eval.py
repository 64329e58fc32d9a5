"""Fault-prediction evaluation on generated telemetry, split by link and by time.

Each seed gives `links` links over `days` days. Training uses the first 60% of the links and the
first half of the time; testing the other links and the second half (features look back into a
link's own earlier history, which is causal). Fault kinds in `unseen` are left out of training
altogether, to see whether the deviation detector catches them.

A hit is an alarm raised from 24 h to 10 min before a failure. Recall counts failures with a hit;
precision counts alarms that are hits; a false alarm is one with no failure in the next 24 h (an
alarm under 10 min before a failure is late: neither hit nor false). Lead time: from the first hit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score

from models.alarms import Hysteresis, alarms
from models.fault_features import link_features
from models.faults import (
    FaultModel,
    HoltTrend,
    MadRule,
    StaticThreshold,
    hit_window,
    labels,
    mad_score,
    merge_alarms,
)
from models.precursors import GeneratorConfig, LinkSeries, generate

Progress = Callable[[str, int, int], None]
METHODS = ("model", "mad", "threshold", "holt")


TRAIN_FIRST_SEED = 10_000
"""Training seeds start here (the detector's validation seeds at 20,000, the closed loop's at
30,000): test seeds lie below it."""


@dataclass(frozen=True)
class FaultEvalConfig:
    seeds: int = 8
    """Seeds for testing; training uses `train_seeds` other seeds (first half of time only)."""
    first_seed: int = 0
    train_seeds: int = 10
    train_first_seed: int = TRAIN_FIRST_SEED
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    train_link_share: float = 0.6
    unseen: tuple[str, ...] = ("latency_creep",)
    model_rows: int = 150_000
    """Rows each fault-model fit samples (all precursor rows, then negatives up to this)."""
    model_iterations: int = 200
    detector_seeds: int = 10
    """Seeds of validation links (from `detector_first_seed`) the baseline detector's rules are
    chosen on (leave-one-kind-out only); neither a test nor a training seed."""
    detector_first_seed: int = 20_000


@dataclass
class Prepared:
    link: LinkSeries
    features: np.ndarray
    y: np.ndarray
    ttf: np.ndarray
    train: bool


@dataclass
class Outcome:
    """Alarms of one method on one test link (sample indices into the whole series)."""

    alarms: list[int]
    score: np.ndarray


def prepare(cfg: FaultEvalConfig, progress: Progress) -> list[Prepared]:
    """Training links (first half of their time used) from the training seeds plus the first
    `train_link_share` of each test seed's links; test links are the rest of each test seed."""
    out: list[Prepared] = []
    seeds = [(cfg.train_first_seed + k, True) for k in range(cfg.train_seeds)]
    seeds += [(cfg.first_seed + k, False) for k in range(cfg.seeds)]
    for n, (seed, train_only) in enumerate(seeds):
        progress("generating", n, len(seeds))
        links = generate(seed, cfg.generator)
        cut = len(links) if train_only else round(cfg.train_link_share * len(links))
        for i, link in enumerate(links):
            y, ttf = labels(link)
            out.append(Prepared(link, link_features(link), y, ttf, train=i < cut))
    return out


def training_rows(prepared: list[Prepared], cfg: FaultEvalConfig) -> tuple[np.ndarray, ...]:
    xs, ys, ts = [], [], []
    for p in prepared:
        if not p.train:
            continue
        half = len(p.y) // 2
        keep = p.link.oper_up.copy()
        keep[half:] = False
        for e in p.link.events:
            if e.kind in cfg.unseen:
                t = p.link.times
                hours = 3600 * p.link.time_scale
                keep &= ~((t >= e.onset_s - 6 * hours) & (t <= e.end_s + hours))
        xs.append(p.features[keep])
        ys.append(p.y[keep])
        ts.append(p.ttf[keep])
    return np.vstack(xs), np.concatenate(ys), np.concatenate(ts)


RISK_GRID = [(on, n) for on in (0.5, 0.7, 0.8, 0.9, 0.95, 0.98) for n in (5, 15, 30, 60)]
MAD_GRID = [(on, n) for on in (8.0, 12.0, 16.0, 24.0, 32.0, 1e9) for n in (30, 60, 120)]
TARGET_FA_PER_100 = 1.0


def train_and_calibrate(
    prepared: list[Prepared],
    cfg: FaultEvalConfig,
    progress: Progress,
    fa_target: float = TARGET_FA_PER_100,
) -> tuple[FaultModel, MadRule]:
    """Pick the alarm thresholds out of sample by cross-fitting (two folds of training links,
    each scored by a classifier trained on the other), then fit the final classifier on all
    training links. The thresholds give the most recall with at most `fa_target` (1) false
    alarms per 100 link-days on the training links' first half."""
    cal = [p for p in prepared if p.train]
    folds = [cal[0::2], cal[1::2]]
    risk_of: dict[int, np.ndarray] = {}
    for k, fold in enumerate(folds):
        progress("cross-fitting", k, 2)
        other = _new_model(cfg).fit(*training_rows(folds[1 - k], cfg))
        risk_of.update({id(p): other.risk(p.features) for p in fold})
    progress("training", 0, 1)
    model = _new_model(cfg).fit(*training_rows(cal, cfg))
    progress("calibrating", 0, 1)
    risks = [risk_of[id(p)] for p in cal]
    devs = [mad_score(p.features) for p in cal]
    days = len(cal) * cfg.generator.days / 2 / cfg.generator.time_scale
    per = cfg.generator.time_scale * 60.0 / cfg.generator.step_s  # grid is in 1-min samples

    def hyst(on: float, persist: int, off_share: float) -> Hysteresis:
        return Hysteresis(on, on * off_share, max(1, round(persist * per)), max(1, round(60 * per)))

    by_risk = {
        g: [alarms(r, p.link.oper_up, hyst(*g, 0.5)) for r, p in zip(risks, cal, strict=True)]
        for g in RISK_GRID
    }
    by_dev = {
        g: [alarms(d, p.link.oper_up, hyst(*g, 1 / 3)) for d, p in zip(devs, cal, strict=True)]
        for g in MAD_GRID
    }
    gap = max(1, round(60 * per))
    combos = [
        ((rg, mg), [merge_alarms(a, b, gap) for a, b in zip(by_risk[rg], by_dev[mg], strict=True)])
        for rg in RISK_GRID
        for mg in MAD_GRID
    ]
    rg, mg = _pick(combos, cal, days, fa_target)
    model.risk_alarm = hyst(rg[0], rg[1], 0.5)
    model.mad_alarm = hyst(mg[0], mg[1], 1 / 3)
    mad_only = _pick([(g, by_dev[g]) for g in MAD_GRID if g[0] < 1e9], cal, days, fa_target)
    return model, MadRule(alarm=hyst(mad_only[0], mad_only[1], 1 / 3))


def _new_model(cfg: FaultEvalConfig) -> FaultModel:
    return FaultModel(max_rows=cfg.model_rows, iterations=cfg.model_iterations)


def _pick(candidates: Any, cal: list[Prepared], days: float, target: float) -> Any:
    """The candidate with the most recall under the false-alarm target (ties: longer lead);
    if none meets the target, the one with the fewest false alarms."""
    best_key, best = None, None
    for key, per_link in candidates:
        tally = Tally()
        for p, raised in zip(cal, per_link, strict=True):
            tally.add_alarms(p.link, raised, 0, len(p.y) // 2)
        fa = 100.0 * tally.false / days
        recall = tally.detected / max(tally.failures, 1)
        lead = float(np.median(tally.leads_s)) if tally.leads_s else 0.0
        rank = (fa <= target, recall if fa <= target else -fa, lead)
        if best is None or rank > best:
            best_key, best = key, rank
    return best_key


def run_methods(p: Prepared, model: FaultModel, mad: MadRule) -> dict[str, Outcome]:
    up = p.link.oper_up
    thr, holt = StaticThreshold(), HoltTrend()
    return {
        "model": Outcome(model.alarms(p.features, up), model.score(p.features)),
        "mad": Outcome(mad.alarms(p.features, up), mad.score(p.features)),
        "threshold": Outcome(thr.alarms_link(p.link), thr.score_link(p.link)),
        "holt": Outcome(holt.alarms_link(p.link), holt.score_link(p.link)),
    }


@dataclass
class Tally:
    failures: int = 0
    detected: int = 0
    alarms: int = 0
    hits: int = 0
    false: int = 0
    leads_s: list[float] = field(default_factory=list)
    by_kind: dict[str, list[int]] = field(default_factory=dict)
    leads_by_kind: dict[str, list[float]] = field(default_factory=dict)
    scores: list[np.ndarray] = field(default_factory=list)
    truth: list[np.ndarray] = field(default_factory=list)

    def add_alarms(
        self, link: LinkSeries, alarms: list[int], start: int, stop: int | None = None
    ) -> None:
        """Count alarms raised in [start, stop) against failures in that span."""
        t = link.times
        stop = len(t) if stop is None else stop
        end_s = t[stop - 1] + link.step_s
        raised = [t[i] for i in alarms if start <= i < stop]
        lo, hi = hit_window(link)
        fails = [e for e in link.events if e.is_fault and t[start] + lo <= e.end_s < end_s]
        for e in fails:
            hits = [a for a in raised if lo <= e.end_s - a <= hi]
            self.failures += 1
            self.detected += bool(hits)
            self.by_kind.setdefault(e.kind, [0, 0])
            self.by_kind[e.kind][0] += bool(hits)
            self.by_kind[e.kind][1] += 1
            if hits:
                self.leads_s.append(e.end_s - min(hits))
                self.leads_by_kind.setdefault(e.kind, []).append(e.end_s - min(hits))
        for a in raised:
            self.alarms += 1
            ahead = [e.end_s - a for e in fails]
            if any(lo <= d <= hi for d in ahead):
                self.hits += 1
            elif not any(0 <= d <= hi for d in ahead):
                self.false += 1

    def add(self, p: Prepared, outcome: Outcome, start: int) -> None:
        self.add_alarms(p.link, outcome.alarms, start)
        mask = p.link.oper_up[start:]
        self.scores.append(outcome.score[start:][mask])
        self.truth.append(p.y[start:][mask])

    def summary(self, link_days: float) -> dict[str, Any]:
        truth, scores = np.concatenate(self.truth), np.concatenate(self.scores)
        return {
            "recall": self.detected / self.failures if self.failures else 0.0,
            "precision": self.hits / self.alarms if self.alarms else 0.0,
            "false_alarms_per_100_link_days": 100.0 * self.false / link_days,
            "median_lead_minutes": float(np.median(self.leads_s) / 60.0) if self.leads_s else 0.0,
            "pr_auc": float(average_precision_score(truth, scores)) if truth.any() else 0.0,
        }


def evaluate_faults(
    cfg: FaultEvalConfig, progress: Progress
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Per method the five figures, and details (counts, recall per fault kind, fit time)."""
    prepared = prepare(cfg, progress)
    model, mad = train_and_calibrate(prepared, cfg, progress)
    tallies = {m: Tally() for m in METHODS}
    tests = [p for p in prepared if not p.train]
    for k, p in enumerate(tests):
        progress("detecting", k, len(tests))
        for name, outcome in run_methods(p, model, mad).items():
            tallies[name].add(p, outcome, start=len(p.y) // 2)
    link_days = len(tests) * cfg.generator.days / 2 / cfg.generator.time_scale
    result = {m: tallies[m].summary(link_days) for m in METHODS}
    info = {
        "test_link_days": link_days,
        "test_failures": tallies["model"].failures,
        "alarms": {m: tallies[m].alarms for m in METHODS},
        "false_alarms": {m: tallies[m].false for m in METHODS},
        "recall_by_kind": {
            m: {k: f"{v[0]}/{v[1]}" for k, v in tallies[m].by_kind.items()} for m in METHODS
        },
        "fit_seconds": model.fit_seconds,
        "model_alarm": {"risk": model.risk_alarm.__dict__, "deviation": model.mad_alarm.__dict__},
        "mad_alarm": mad.alarm.__dict__,
        "unseen_in_training": list(cfg.unseen),
    }
    return result, info
