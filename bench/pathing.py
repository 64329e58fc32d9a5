"""Pathing benchmarks on real data: LP vs published optimum, fast vs LP, CSPF and placement speed.

    .venv/bin/python bench/pathing.py [--json] [--quick]

Figures go to docs/BENCHMARKS.md (## Pathing). Nothing here asserts: goals are reported.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from controller.errors import PathError
from controller.pathing.cspf import cspf_links
from controller.pathing.fast import fast_min_mlu
from controller.pathing.graph import PathGraph
from controller.pathing.optimizer import (
    build_tunnel_set,
    demand_vector,
    k_shortest_tunnels,
    min_mlu_lp,
    mlu_of_split,
    shortest_split,
)
from controller.pathing.placement import place
from controller.pathing.rounding import round_split, round_split_for_mlu
from controller.pathing.traffic import gravity_demand, sample_pairs, scale_to_shortest_path_mlu
from controller.pathing.types import PathRequest
from controller.topology import Topology
from topologies.datasets import data_dir, read_opt, read_tm_hist, read_tunnels
from topologies.loader import load


def _p95(values: list[float]) -> float:
    return float(np.percentile(values, 95))


def _dataset(name: str) -> tuple[Any, list[tuple[np.ndarray, np.ndarray]], dict[str, int]]:
    if name == "geant":
        folder = data_dir() / "geant"
        topo = load("geant")
        weeks = [(read_tm_hist(folder / "tm-5min.hist"), read_opt(folder / "tm-5min.opt"))]
    else:
        folder = data_dir() / "facebook-dc" / name
        topo = load(f"facebook:{name}")
        weeks = [
            (read_tm_hist(folder / f"week{w}.hist"), read_opt(folder / f"week{w}.opt"))
            for w in range(1, 6)
        ]
    tunnels = read_tunnels(folder / "tunnels.txt")
    named = {
        (str(s), str(d)): [[str(n) for n in p] for p in paths] for (s, d), paths in tunnels.items()
    }
    return build_tunnel_set(topo, named), weeks, {n: int(n) for n in topo.nodes}


def bench_opt(name: str, fast_sample: int) -> dict[str, Any]:
    """LP on every matrix vs .opt; fast method on an evenly spaced sample."""
    ts, weeks, index = _dataset(name)
    errors, lp_ms, demands, opts = [], [], [], []
    for tms, opt in weeks:
        for tm, value in zip(tms, opt, strict=True):
            demand = demand_vector(ts, tm, index)
            sol = min_mlu_lp(ts, demand)
            lp_ms.append(sol.seconds * 1e3)
            errors.append(abs(sol.mlu - value) / value)
            demands.append(demand)
            opts.append(value)
    picks = np.linspace(0, len(demands) - 1, min(fast_sample, len(demands))).astype(int)
    ratios, fast_ms, rounded, searched = [], [], [], []
    for i in picks:
        fast = fast_min_mlu(ts, demands[i], time_budget_s=5.0, tolerance=0.005)
        ratios.append(fast.mlu / opts[i])
        fast_ms.append(fast.seconds * 1e3)
        rounded.append(mlu_of_split(ts, demands[i], round_split(ts, fast.split, 16)) / opts[i])
        searched.append(
            mlu_of_split(ts, demands[i], round_split_for_mlu(ts, demands[i], fast.split, 16))
            / opts[i]
        )
    return {
        "matrices": len(demands),
        "lp_ms_mean": statistics.mean(lp_ms),
        "lp_ms_p95": _p95(lp_ms),
        "lp_max_rel_error": float(max(errors)),
        "lp_within_1e-6": int(sum(e <= 1e-6 for e in errors)),
        "fast_sample": len(picks),
        "fast_ratio_mean": float(statistics.mean(ratios)),
        "fast_ratio_p95": _p95(ratios),
        "fast_ratio_max": float(max(ratios)),
        "fast_ms_mean": statistics.mean(fast_ms),
        "fast_rounded16_ratio_mean": float(statistics.mean(rounded)),
        "fast_rounded16_search_ratio_mean": float(statistics.mean(searched)),
    }


def bench_gravity(spec: str, pairs_limit: int, k: int = 4) -> dict[str, Any]:
    topo = load(spec)
    pairs = sample_pairs(topo, pairs_limit, seed=1)
    start = time.perf_counter()
    ts = k_shortest_tunnels(topo, pairs, k=k)
    ksp_s = time.perf_counter() - start
    demand = scale_to_shortest_path_mlu(ts, gravity_demand(topo, list(ts.pairs)))
    start = time.perf_counter()
    lp = min_mlu_lp(ts, demand)  # includes building the HiGHS model
    lp_s = time.perf_counter() - start
    tenth = fast_min_mlu(ts, demand, time_budget_s=lp_s / 10, tolerance=0.001)
    full = fast_min_mlu(ts, demand, time_budget_s=max(5.0, lp_s), tolerance=0.01)
    return {
        "topology": topo.name,
        "nodes": len(topo.nodes),
        "pairs": len(ts.pairs),
        "paths": ts.num_paths,
        "k_shortest_s": ksp_s,
        "shortest_path_mlu": mlu_of_split(ts, demand, shortest_split(ts)),
        "lp_mlu": lp.mlu,
        "lp_s": lp_s,
        "fast_at_tenth_ratio": tenth.mlu / lp.mlu,
        "fast_at_tenth_s": tenth.seconds,
        "fast_to_1pct_ratio": full.mlu / lp.mlu,
        "fast_to_1pct_s": full.seconds,
        "fast_to_1pct_iterations": full.iterations,
    }


def _requests(topo: Topology, count: int, seed: int, bandwidth: float) -> list[PathRequest]:
    rng = random.Random(seed)
    names = sorted(topo.nodes)
    out = []
    for i in range(count):
        src, dst = rng.sample(names, 2)
        prio = rng.randint(0, 7)
        out.append(
            PathRequest(
                f"r{i}",
                src,
                dst,
                bandwidth_bps=bandwidth * rng.choice([0.5, 1, 2]),
                max_latency_s=rng.choice([None, None, 0.05]),
                setup_priority=prio,
                hold_priority=prio,
                disjoint=rng.choice([None] * 9 + ["link"]),  # type: ignore[arg-type]
            )
        )
    return out


def bench_cspf(spec: str, count: int, repeats: int = 3) -> dict[str, Any]:
    """Requests per second, best and median of `repeats` runs, each on a fresh PathGraph (the
    memoised shortest-path trees are built inside the timed loop)."""
    topo = load(spec)
    reqs = [
        PathRequest(r.name, r.src, r.dst, r.bandwidth_bps, r.max_latency_s)
        for r in _requests(topo, count, 2, 0.0)
    ]
    rates, infeasible = [], 0
    for _ in range(repeats):
        graph = PathGraph.of(topo)
        start = time.perf_counter()
        infeasible = 0
        for req in reqs:
            try:
                cspf_links(graph, req)
            except PathError:
                infeasible += 1
        rates.append(count / (time.perf_counter() - start))
    return {
        "topology": topo.name,
        "intents": count,
        "intents_per_s_best": max(rates),
        "intents_per_s_median": statistics.median(rates),
        "infeasible": infeasible,
    }


def bench_place(spec: str, count: int) -> dict[str, Any]:
    topo = load(spec)
    median_cap = float(np.median([lk.capacity_bps for lk in topo.links]))
    reqs = _requests(topo, count, 3, median_cap / 200)
    start = time.perf_counter()
    result = place(topo, reqs)
    seconds = time.perf_counter() - start
    urgent = [
        PathRequest(f"u{i}", r.src, r.dst, r.bandwidth_bps * 20, setup_priority=0, hold_priority=0)
        for i, r in enumerate(_requests(topo, count // 20, 4, median_cap / 200))
    ]
    start = time.perf_counter()
    again = place(topo, [*reqs, *urgent], existing=result.placed)
    re_seconds = time.perf_counter() - start
    return {
        "topology": topo.name,
        "intents": count,
        "seconds": seconds,
        "placed": len(result.placed),
        "unplaced": len(result.unplaced),
        "with_backup": sum(p.backup is not None for p in result.placed.values()),
        "urgent_added": len(urgent),
        "replace_seconds": re_seconds,
        "urgent_placed": sum(u.name in again.placed for u in urgent),
        "preempted": len(again.preempted),
        "preempted_then_replaced": sum(n in again.placed for n in again.preempted),
        "kept_unchanged": sum(again.placed.get(n) is p for n, p in result.placed.items()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--quick", action="store_true", help="smaller samples (a smoke run)")
    parser.add_argument("--only", choices=["opt", "gravity", "cspf", "place"], help="one part")
    args = parser.parse_args()
    quick = args.quick
    report: dict[str, Any] = {"opt": {}, "gravity": [], "cspf": [], "place": {}}
    parts = {args.only} if args.only else {"opt", "gravity", "cspf", "place"}
    for name in ("geant", "pod_a", "pod_b") if "opt" in parts else ():
        report["opt"][name] = bench_opt(name, 10 if quick else 100)
        _say(args, f"{name}: {report['opt'][name]}")
    runs = [
        ("teal:UsCarrier", 1000),
        ("zoo:Cogentco", 1000),
        ("teal:Kdl", 1000),
        ("teal:Kdl", 4000),
    ]
    for spec, pairs in (runs[:3] if quick else runs) if "gravity" in parts else ():
        report["gravity"].append(bench_gravity(spec, 100 if quick else pairs))
        _say(args, f"gravity {spec}: {report['gravity'][-1]}")
    for spec in ("zoo:Cogentco", "teal:Kdl") if "cspf" in parts else ():
        report["cspf"].append(bench_cspf(spec, 200 if quick else 2000))
        _say(args, f"cspf {spec}: {report['cspf'][-1]}")
    if "place" in parts:
        report["place"] = bench_place("teal:Kdl", 1000 if quick else 10_000)
        _say(args, f"place: {report['place']}")
    if args.json:
        print(json.dumps(report, indent=2))


def _say(args: argparse.Namespace, line: str) -> None:
    print(line, file=sys.stderr if args.json else sys.stdout, flush=True)


if __name__ == "__main__":
    main()
