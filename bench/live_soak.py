"""Benchmark: the controller process over time (issue 12): `netpilot controller run` on bank-wan
with the trained loop models, telemetry every 10 s, against `netpilot network run` at speed 1
(the live demo's scenario: a fibre starts to degrade at minute 5). Every `--sample` seconds it
reads the controller's CPU time and memory from /proc/<pid>/stat and /proc/<pid>/status; at the
end the telemetry rounds (`GET /v1/telemetry`) and the engine's round errors (`GET /metrics`).

    .venv/bin/python bench/live_soak.py [--json] [--minutes 10] [--models DIR] [--interval 10]
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.live_common import (
    ProcSample,
    cpu_percent,
    machine,
    machine_line,
    read_proc,
    scrape,
)
from commands.livedemo import LIVE_SCENARIO, LiveDemo, LiveSpec

DEFAULTS = ("--tick", "60", "--drift-interval", "300")
"""The controller's own defaults (LiveDemo scales these to the network's speed for the demo)."""


def train_models(out: Path) -> float:
    """`netpilot model train loop --out DIR`; its wall time."""
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "cli", "model", "train", "loop", "--out", str(out)],
        cwd=Path(__file__).resolve().parent.parent,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - t0


def summarise(samples: list[ProcSample]) -> dict[str, Any]:
    first, last = samples[0], samples[-1]
    windows = [cpu_percent(a, b) for a, b in itertools.pairwise(samples)]
    return {
        "samples": len(samples),
        "seconds": last.wall - first.wall,
        "cpu_s": last.cpu_s - first.cpu_s,
        "cpu_s_before_first_sample": first.cpu_s,
        "cpu_percent_mean": cpu_percent(first, last),
        "cpu_percent_max_window": max(windows, default=0.0),
        "cpu_percent_windows": [round(w, 1) for w in windows],
        "rss_mib_start": first.rss_kib / 1024,
        "rss_mib_end": last.rss_kib / 1024,
        "rss_mib_max_sampled": max(s.rss_kib for s in samples) / 1024,
        "rss_mib_peak_vmhwm": last.hwm_kib / 1024,
        "rss_mib_series": [round(s.rss_kib / 1024, 1) for s in samples],
        "threads_end": last.threads,
        "fds_end": last.fds,
    }


def soak(args: argparse.Namespace, work: Path, models: Path) -> dict[str, Any]:
    spec = LiveSpec(
        work=work,
        models=models,
        speed=args.speed,
        sample_s=args.interval * args.speed,
        scenario=args.scenario,
        controller_args=DEFAULTS,
    )
    t_start = time.perf_counter()
    with LiveDemo(spec) as live:
        startup_s = time.perf_counter() - t_start
        pids = {name: proc.pid for name, proc in live.procs.items()}
        samples: dict[str, list[ProcSample]] = {name: [] for name in pids}
        end = time.monotonic() + args.minutes * 60
        while True:
            for name, pid in pids.items():
                if live.procs[name].poll() is not None:
                    raise SystemExit(f"the {name} process exited; {live.tail(name)}")
                samples[name].append(read_proc(pid))
            if time.monotonic() >= end:
                break
            time.sleep(min(args.sample, max(0.0, end - time.monotonic())))
        telemetry = live.get("/v1/telemetry")
        metrics = scrape(live.base)
        events = live.controller_events()
        states = Counter(r["state"] for r in live.get("/v1/intents"))
    controller = summarise(samples["controller"])
    rounds_count = metrics.get("netpilot_telemetry_round_seconds_count", 0.0)
    rounds_sum = metrics.get("netpilot_telemetry_round_seconds_sum", 0.0)
    return {
        "machine": machine(),
        "minutes": args.minutes,
        "interval_s": args.interval,
        "speed": args.speed,
        "scenario": str(args.scenario),
        "startup_s": startup_s,
        "controller": controller,
        "network": summarise(samples["network"]),
        "telemetry": {
            "rounds": telemetry.get("rounds"),
            "rounds_expected": controller["seconds"] / args.interval,
            "round_mean_s": rounds_sum / rounds_count if rounds_count else None,
            "last_round_s": telemetry.get("last_round_s"),
            "stale_devices": telemetry.get("stale", {}),
            "models": telemetry.get("models"),
            "round_errors": metrics.get("netpilot_telemetry_round_errors_total"),
        },
        "engine": {
            "rounds": metrics.get("netpilot_engine_rounds_total"),
            "round_errors": metrics.get("netpilot_engine_round_errors_total"),
            "ready": metrics.get("netpilot_engine_ready"),
        },
        "events": dict(Counter(e["kind"] for e in events)),
        "intent_states": dict(states),
    }


def report(r: dict[str, Any]) -> None:
    c, t, e, n = r["controller"], r["telemetry"], r["engine"], r["network"]
    print(machine_line(r["machine"]))
    print(
        f"controller over {c['seconds'] / 60:.1f} min (interval {r['interval_s']:g} s, speed "
        f"{r['speed']:g}, started in {r['startup_s']:.1f} s):"
    )
    print(
        f"  CPU {c['cpu_percent_mean']:.1f} % of one core on average, "
        f"max {c['cpu_percent_max_window']:.1f} % over {len(c['cpu_percent_windows'])} windows "
        f"({c['cpu_s']:.1f} s CPU; {c['cpu_s_before_first_sample']:.1f} s before the first "
        f"sample: start, models, first install)"
    )
    print(
        f"  RSS {c['rss_mib_start']:.0f} MiB at start, {c['rss_mib_end']:.0f} MiB at the end, "
        f"max {c['rss_mib_max_sampled']:.0f} MiB sampled (VmHWM {c['rss_mib_peak_vmhwm']:.0f} "
        f"MiB); {c['threads_end']} threads, {c['fds_end']} fds"
    )
    mean = "-" if t["round_mean_s"] is None else f"{t['round_mean_s']:.3f}"
    print(
        f"  telemetry rounds {t['rounds']} (expected about {t['rounds_expected']:.0f}), mean "
        f"{mean} s; telemetry round errors {t['round_errors']}; engine rounds {e['rounds']}, "
        f"round errors {e['round_errors']}"
    )
    print(f"  events {r['events']}; intents {r['intent_states']}")
    print(f"network process: CPU {n['cpu_percent_mean']:.1f} %, RSS {n['rss_mib_end']:.0f} MiB")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--minutes", type=float, default=10.0, help="how long to watch (default 10)")
    ap.add_argument("--models", type=Path, help="trained loop models (default: train them now)")
    ap.add_argument("--interval", type=float, default=10.0, help="telemetry interval, wall s")
    ap.add_argument("--speed", type=float, default=1.0, help="network speed (x real time)")
    ap.add_argument("--sample", type=float, default=10.0, help="seconds between /proc reads")
    ap.add_argument("--scenario", type=Path, default=LIVE_SCENARIO)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="np-soak-") as tmp:
        work = Path(tmp)
        train_s = None
        models = args.models
        if models is None:
            models = work / "loop-models"
            train_s = train_models(models)
        result = soak(args, work, models)
        result["models_trained_s"] = train_s
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        report(result)
    return result


if __name__ == "__main__":
    main()
