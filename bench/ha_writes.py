"""Benchmark (issue 16): intent write latency through an etcd follower, the etcd leader, and a
controller on SQLite, with --writers concurrent clients.

One etcd on loopback, two `controller run --store etcd://...` replicas (the first leads) and one
`controller run --db FILE`, all bank-wan with in-memory devices. Each target gets --writers
threads that PUT --writes distinct intents each (create, then an update), one after another;
the latency of every acknowledged PUT is recorded (engine rounds run meanwhile, as in use).

    .venv/bin/python bench/ha_writes.py [--json] [--writers 10] [--writes 50]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.controller_proc import ControllerProcess
from bench.etcd_proc import EtcdServer
from bench.ha_failover import Replica, wait_leader
from bench.live_common import machine, machine_line, percentile


def writer(
    ctl: Replica, ident: int, writes: int, out: list[float], ends: tuple[str, str] = ("HQ", "DC2")
) -> None:
    with httpx.Client(base_url=ctl.url, headers=ctl.auth, timeout=60) as http:
        for k in range(writes):
            name = f"w{ident}-{k // 2}"
            body = {"name": name, "src": ends[0], "dst": ends[1], "service_class": "office",
                    "bandwidth": f"{1 + k % 2}M"}  # fmt: skip
            t0 = time.perf_counter()
            r = http.put(f"/v1/intents/{name}", json=body)
            if r.status_code != 200:
                raise SystemExit(f"PUT {name}: {r.status_code} {r.text}")
            out.append(time.perf_counter() - t0)


def measure(
    ctl: Replica, writers: int, writes: int, ends: tuple[str, str] = ("HQ", "DC2")
) -> dict[str, float]:
    samples: list[float] = []
    threads = [
        threading.Thread(target=writer, args=(ctl, i, writes, samples, ends))
        for i in range(writers)
    ]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    return {
        "p50_ms": 1000 * percentile(samples, 50),
        "p99_ms": 1000 * percentile(samples, 99),
        "writes_per_s": len(samples) / wall,
        "writes": len(samples),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="np-ha-writes-") as tmp:
        work = Path(tmp)
        etcd = EtcdServer(work / "etcd" / "data")
        etcd.start()
        store = ("--store", f"{etcd.url}/bench")
        leader = ControllerProcess(work / "a", "bank-wan", *store, "--replica-id", "a")
        follower = ControllerProcess(work / "b", "bank-wan", *store, "--replica-id", "b")
        sqlite = ControllerProcess(work / "s", "bank-wan")
        procs = [leader, follower, sqlite]
        for p in procs:
            p.work.mkdir(parents=True, exist_ok=True)
        try:
            leader.start()
            wait_leader([leader])
            follower.start()
            sqlite.start()
            out = {
                "etcd_follower": measure(follower, args.writers, args.writes),
                "etcd_leader": measure(leader, args.writers, args.writes),
                "sqlite": measure(sqlite, args.writers, args.writes),
            }
        finally:
            for p in procs:
                p.stop()
            etcd.stop()
    return {"writers": args.writers, "writes_each": args.writes, **out, "machine": machine()}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--writers", type=int, default=10)
    parser.add_argument("--writes", type=int, default=50)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = run(args)
    if argv is None:
        if args.json:
            print(json.dumps(result, indent=2))
        else:
            print(f"{args.writers} writers x {args.writes} PUTs each")
            for target in ("etcd_follower", "etcd_leader", "sqlite"):
                r = result[target]
                print(f"{target:14} p50 {r['p50_ms']:6.1f} ms  p99 {r['p99_ms']:6.1f} ms  "
                      f"{r['writes_per_s']:6.0f} writes/s")  # fmt: skip
            print(machine_line(result["machine"]))
    return result


if __name__ == "__main__":
    main()
