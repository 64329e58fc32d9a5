"""Benchmark: what `controller run --robust-forecast` changes in the engine's forecast avoidances,
replayed on GEANT's measured traffic (issue 18, item 3's loop flag; open loop).

GEANT's 477 matrices (5 minutes apart) routed with every pair on its first tunnel give each
link's load. Each link is taken as provisioned for its own training part: its capacity is set so
that its busiest training step runs at `--peak` (0.95). (At GEANT's listed capacities the loads
overload one link several times over and leave the others under half of it.) The loop's
forecaster (`models.loop_models`' model and features, calendar off) is fitted on the steps
before `--replay-from` only. Every later step is a round: each link's signal is the forecaster's
p90 twelve rounds ahead (the loop without the flag) or the worst of the robust set
(`models.robust_forecast`: that p90, the latest utilisation, the day-ago one and the peak of the
last 18 rounds; history from step 0), and the engine's rule (`controller.avoid.AvoidConfig`:
avoid at >= 0.85, lift below 0.70 after the hold) decides when the elastic classes leave a link.
Counted per mode: avoidances started (each a move of the elastic classes, one transaction),
link-rounds avoided, and of the link-rounds measured at or above 0.85 ("hot"), the share whose
link was avoided from an earlier round, before it ran hot.

Open loop: the moves do not lower the replayed utilisation (the same traffic either way), so
this measures how often and how early each mode acts, not the MLU the loop would reach.

    .venv/bin/python bench/robust_forecast_replay.py [--peak 0.95] [--replay-from 333] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from controller.avoid import AvoidConfig
from models.cli_support import load_te_inputs
from models.features import FeatureConfig
from models.forecast import ForecastModel
from models.robust_forecast import LinkFutures, worst_future
from topologies.datasets import data_dir

STEP_S = 300.0
HORIZON = 12
"""Rounds ahead the loop's forecast looks (its p90 at 12)."""
HOLD_ROUNDS = 1
"""The engine's hold time (300 s) in 5-minute rounds."""


@dataclass
class ModeCounts:
    """One mode's replay: avoidances started (by the member that decided), link-rounds avoided,
    hot link-rounds, and those whose link was avoided from an earlier round."""

    by_member: dict[str, int] = field(default_factory=dict)
    avoided_rounds: int = 0
    hot: int = 0
    hot_covered: int = 0

    @property
    def started(self) -> int:
        return sum(self.by_member.values())


def utilisation(geant: Path, peak: float, train_end: int) -> np.ndarray:
    """(T, E) utilisation of every link with traffic, every pair on its first tunnel, each link's
    capacity set so that its busiest step in [0, train_end) runs at `peak`."""
    pairs, te = load_te_inputs(
        geant / "tm-5min.hist", geant / "topology.json", geant / "tunnels.txt", None
    )
    loads = te.link_series(pairs)
    loads = loads[:, loads[:train_end].max(axis=0) > 0]
    return np.asarray(loads * (peak / loads[:train_end].max(axis=0)), dtype=float)


def p90_ahead(util: np.ndarray, replay_from: int, seed: int) -> np.ndarray:
    """(T, E) p90 of step t + HORIZON forecast at t, for t >= replay_from (NaN before)."""
    model = ForecastModel(cfg=FeatureConfig(calendar=False), seed=seed)
    model.fit(util, replay_from)
    origins = np.arange(replay_from, len(util))
    out = np.full(util.shape, np.nan)
    out[origins] = model.predict(model.context(util), origins, HORIZON)[1]
    return out


def replay(util: np.ndarray, p90: np.ndarray, replay_from: int, robust: bool) -> ModeCounts:
    cfg = AvoidConfig()
    futures = LinkFutures(period_s=86_400.0)
    tally = ModeCounts()
    links = util.shape[1]
    avoided = np.zeros(links, dtype=bool)
    held = np.zeros(links, dtype=int)
    for t in range(len(util)):
        for e in range(links):
            futures.add(str(e), t * STEP_S, float(util[t, e]))
        if t < replay_from:
            continue
        hot = util[t] >= cfg.forecast_on
        tally.hot += int(hot.sum())
        tally.hot_covered += int((hot & avoided).sum())  # decided at an earlier round
        for e in range(links):
            signal, member = float(p90[t, e]), "forecast"
            if robust:
                sets = futures.futures(str(e), signal, HORIZON * STEP_S)
                worst = worst_future(sets)
                assert worst is not None
                signal, member = worst.utilisation, worst.name
            if not avoided[e] and signal >= cfg.forecast_on:
                avoided[e], held[e] = True, 0
                tally.by_member[member] = tally.by_member.get(member, 0) + 1
            elif avoided[e] and signal < cfg.forecast_off and held[e] >= HOLD_ROUNDS:
                avoided[e] = False
        held[avoided] += 1
        tally.avoided_rounds += int(avoided.sum())
    return tally


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peak", type=float, default=0.95, help="busiest link's training peak")
    parser.add_argument("--replay-from", type=int, default=333, help="first replayed step")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not 0 < args.peak <= 2 or args.replay_from < 60:
        parser.error("--peak must be in (0, 2] and --replay-from at least 60 (history to learn)")
    t0 = time.perf_counter()
    util = utilisation(data_dir() / "geant", args.peak, args.replay_from)
    if args.replay_from >= len(util) - 1:
        parser.error(f"--replay-from must be below {len(util) - 1} (GEANT has {len(util)} steps)")
    p90 = p90_ahead(util, args.replay_from, args.seed)
    fit_s = time.perf_counter() - t0
    runs = {
        mode: replay(util, p90, args.replay_from, robust=mode == "robust")
        for mode in ("forecast", "robust")
    }
    rounds = len(util) - args.replay_from
    out: dict[str, Any] = {
        "links": util.shape[1],
        "rounds": rounds,
        "peak": args.peak,
        "replay_max_utilisation": round(float(util[args.replay_from :].max()), 3),
        "modes": {
            m: {
                "avoidances_started": r.started,
                "link_rounds_avoided": r.avoided_rounds,
                "hot_link_rounds": r.hot,
                "hot_avoided_before": r.hot_covered,
                "hot_share_avoided_before": round(r.hot_covered / r.hot, 3) if r.hot else None,
                "started_by_member": r.by_member,
            }
            for m, r in runs.items()
        },
        "seconds": round(time.perf_counter() - t0, 1),
        "fit_seconds": round(fit_s, 1),
    }
    if args.json:
        print(json.dumps(out, indent=2))
        return
    print(f"{out['links']} links, {rounds} rounds of 5 min, each link's training peak {args.peak}")
    for m, r in out["modes"].items():
        print(
            f"{m:<9} avoidances {r['avoidances_started']:>4}  link-rounds avoided "
            f"{r['link_rounds_avoided']:>5}  hot link-rounds avoided before "
            f"{r['hot_avoided_before']}/{r['hot_link_rounds']}  by member {r['started_by_member']}"
        )
    print(f"{out['seconds']} s")


if __name__ == "__main__":
    main()
