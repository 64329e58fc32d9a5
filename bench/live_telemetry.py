"""Benchmark: telemetry rounds over a live network of N simulated routers (issue 12): `netpilot
network run` on a generated grid as its own process, and from this process the controller's
collector (`NetconfCollector(load_inventory(inv)).collect(deadline_s)`, the live controller's
session options): one warm-up round that opens the SSH sessions, then timed rounds; per size
and per collector worker count (the controller uses 64).

    .venv/bin/python bench/live_telemetry.py [--json] [--routers 120,500] [--workers 16,64,128]
        [--tick 0.1]   (the sessions' idle wake-up; the controller's is 1 s, the libraries' 0.1 s)
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.live_common import cpu_percent, machine, machine_line, percentile, read_proc
from controller.southbound.inventory import load_inventory
from controller.southbound.session import IDLE_TICK_S, SessionOptions, set_reader_tick
from telemetry.netconf_collector import NetconfCollector

ROOT = Path(__file__).resolve().parent.parent
RUNTIME_WORKERS = 64
"""`controller.runtime.assemble` gives the live collector 64 workers."""


def grid_for(routers: int) -> str:
    """`grid:R,C` with R x C == routers and R the largest divisor not above the square root."""
    rows = max(d for d in range(1, math.isqrt(routers) + 1) if routers % d == 0)
    return f"grid:{rows},{routers // rows}"


def raise_fd_limit() -> None:
    """Each session holds about 4 descriptors: 500 routers need more than the default 1,024."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class Network:
    """`netpilot network run` as a child process, stopped with SIGTERM."""

    def __init__(self, topology: str, work: Path, timeout_s: float) -> None:
        self.inventory = work / "inventory.yaml"
        self.log_path = work / "network.log"
        self.out_path = work / "network.json"
        self.log = self.log_path.open("wb")
        self.out = self.out_path.open("wb")
        args = [
            sys.executable, "-m", "cli", "network", "run", "--topology", topology,
            "--inventory", str(self.inventory), "--speed", "1", "--events",
            str(work / "events.jsonl"), "--json",
        ]  # fmt: skip
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            args, cwd=ROOT, stdout=self.out, stderr=self.log, stdin=subprocess.DEVNULL
        )
        deadline = time.monotonic() + timeout_s
        while not self.inventory.is_file():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                tail = self.log_path.read_text(errors="replace").strip().splitlines()[-3:]
                raise SystemExit(f"network run {topology} did not come up: {' | '.join(tail)}")
            time.sleep(0.1)
        self.startup_s = time.perf_counter() - t0

    def stop(self) -> dict[str, Any]:
        """SIGTERM, wait, and the final summary it printed with --json (lag, skipped ticks)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.log.close()
        self.out.close()
        try:
            summary: dict[str, Any] = json.loads(self.out_path.read_text())
        except (json.JSONDecodeError, OSError):
            summary = {}
        return summary


def bench_workers(
    inventory: Path,
    workers: int,
    *,
    rounds: int,
    deadline_s: float,
    pause_s: float,
    idle_s: float,
    net_pid: int,
    tick_s: float,
) -> dict[str, Any]:
    options = SessionOptions(
        rpc_timeout_s=max(deadline_s, 1.0), connect_timeout_s=max(deadline_s, 1.0),
        connect_attempts=1, idle_tick_s=tick_s,
    )  # fmt: skip
    collector = NetconfCollector(load_inventory(inventory), options=options, max_workers=workers)
    try:
        t0 = time.perf_counter()
        warm = collector.collect(deadline_s=None)
        setup_s = time.perf_counter() - t0
        idle0 = read_proc(os.getpid())
        time.sleep(idle_s)  # sessions open, no round: what the open sessions cost by themselves
        idle = cpu_percent(idle0, read_proc(os.getpid()))
        walls, answered, errors = [], [], []
        net0, me0 = read_proc(net_pid), read_proc(os.getpid())
        for _ in range(rounds):
            time.sleep(pause_s)
            t1 = time.perf_counter()
            result = collector.collect(deadline_s=deadline_s)
            walls.append(time.perf_counter() - t1)
            answered.append(len(result.states))
            errors.extend(sorted(result.errors.values())[:2])
        net1, me1 = read_proc(net_pid), read_proc(os.getpid())
    finally:
        collector.close()
    busy = sum(walls)
    return {
        "workers": workers,
        "setup_round_s": setup_s,
        "setup_answered": len(warm.states),
        "setup_errors": len(warm.errors),
        "interfaces": sum(len(st.interfaces) for st in warm.states),
        "idle_cpu_percent_client": idle,
        "rounds": rounds,
        "p50_s": percentile(walls, 50),
        "p95_s": percentile(walls, 95),
        "max_s": max(walls),
        "answered_min": min(answered),
        "answered_max": max(answered),
        "errors": errors[:5],
        "cpu_s_per_round_client": (me1.cpu_s - me0.cpu_s) / rounds,
        "cpu_s_per_round_network": (net1.cpu_s - net0.cpu_s) / rounds,
        "network_cpu_percent": cpu_percent(net0, net1),
        "busy_share": busy / max(net1.wall - net0.wall, 1e-9),
        "client_threads": me1.threads,
        "client_fds": me1.fds,
    }


def bench_size(routers: int, args: argparse.Namespace) -> dict[str, Any]:
    topology = args.topology or grid_for(routers)
    with tempfile.TemporaryDirectory(prefix="np-telemetry-") as tmp:
        load_start = os.getloadavg()[0]
        net = Network(topology, Path(tmp), args.startup_timeout)
        try:
            inventory = load_inventory(net.inventory)
            runs = [
                bench_workers(
                    net.inventory,
                    w,
                    rounds=args.rounds,
                    deadline_s=args.deadline,
                    pause_s=args.pause,
                    idle_s=args.idle,
                    net_pid=net.proc.pid,
                    tick_s=args.tick,
                )
                for w in args.workers
            ]
            net_rss = read_proc(net.proc.pid).rss_kib / 1024
        finally:
            summary = net.stop()
    return {
        "topology": topology,
        "routers": len(inventory.devices),
        "interfaces": max(run["interfaces"] for run in runs),
        "network_startup_s": net.startup_s,
        "network_rss_mib": net_rss,
        "network_max_lag_s": summary.get("max_lag_s"),
        "network_late_steps": summary.get("late_steps"),
        "network_skipped_ticks": summary.get("skipped_ticks"),
        "loadavg_at_start": load_start,
        "runs": runs,
    }


def report(r: dict[str, Any]) -> None:
    print(machine_line(r["machine"]))
    tick = f"{r['tick_s']:g} s" + (" (the controller's)" if r["tick_s"] == IDLE_TICK_S else "")
    print(f"deadline {r['deadline_s']:g} s per round (the controller's 80 % of 10 s); tick {tick}")
    for size in r["sizes"]:
        print(
            f"{size['routers']} routers ({size['topology']}), network up in "
            f"{size['network_startup_s']:.1f} s, its RSS {size['network_rss_mib']:.0f} MiB, "
            f"max step lag {size['network_max_lag_s']} s"
        )
        for run in size["runs"]:
            print(
                f"  {run['workers']:>3} workers: setup {run['setup_round_s']:.2f} s "
                f"({run['setup_answered']} answered); rounds p50 {run['p50_s']:.3f} s, "
                f"p95 {run['p95_s']:.3f} s, max {run['max_s']:.3f} s; answered "
                f"{run['answered_min']}-{run['answered_max']}; CPU per round: client "
                f"{run['cpu_s_per_round_client']:.2f} s, "
                f"routers {run['cpu_s_per_round_network']:.2f} s; client idle "
                f"{run['idle_cpu_percent_client']:.0f} % CPU"
            )


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    ints = lambda s: [int(x) for x in s.split(",")]  # noqa: E731
    ap.add_argument("--routers", type=ints, default=[120, 500], help="sizes, e.g. 120,500")
    ap.add_argument("--workers", type=ints, default=[16, RUNTIME_WORKERS, 128])
    ap.add_argument("--rounds", type=int, default=15, help="timed rounds per worker count")
    ap.add_argument("--deadline", type=float, default=8.0, help="round deadline, s")
    ap.add_argument("--pause", type=float, default=1.0, help="seconds between rounds")
    ap.add_argument("--idle", type=float, default=5.0, help="seconds idle after setup")
    ap.add_argument(
        "--tick",
        type=float,
        default=IDLE_TICK_S,
        help=f"idle wake-up of the sessions' threads, s (the controller's {IDLE_TICK_S:g}; "
        "ncclient's and paramiko's own: 0.1)",
    )
    ap.add_argument("--topology", help="instead of a grid of --routers routers")
    ap.add_argument("--startup-timeout", type=float, default=600.0)
    args = ap.parse_args(argv)
    logging.disable(logging.WARNING)  # stale devices are counted, not logged one by one
    raise_fd_limit()
    set_reader_tick(args.tick)
    result = {
        "machine": machine(),
        "deadline_s": args.deadline,
        "tick_s": args.tick,
        "sizes": [bench_size(n, args) for n in args.routers],
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        report(result)
    return result


if __name__ == "__main__":
    main()
