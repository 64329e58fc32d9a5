"""Benchmark: REST API latency (issue 13). A real `netpilot controller run` on bank-wan (no
--inventory: in-memory devices). First `--writers` threads, each with its own connection, loop
for `--seconds`: PUT an intent (one of 20 per writer, over bank-wan node pairs), GET it, and
every 5th time list all intents; PUT, GET and list latencies are reported. Then one client
posts a `--intents`-intent `/v1/plan` (node pairs of bank-wan, 1 kbit/s each) while one thread
polls `/healthz` and another GETs an intent every `--poll` seconds: their p50, p99 (also
corrected for coordinated omission) and max while the plan runs (goal: /healthz p99 < 100 ms
during a 100,000-intent plan).

    .venv/bin/python bench/api_latency.py [--json] [--seconds 20] [--writers 10]
        [--intents 100000] [--poll 0.02] [--bandwidth 1k]
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.controller_proc import ControllerProcess
from bench.live_common import machine, machine_line, percentile
from topologies.loader import load

PER_WRITER = 20


def figures(samples: list[float], every_s: float | None = None) -> dict[str, Any]:
    """Count, p50, p99 and max of latencies in seconds, reported in ms. With `every_s` (a poller
    that sends one request every `every_s`), also the p99 corrected for coordinated omission:
    a reply that took L stands for the polls that could not be sent meanwhile, L - every_s,
    L - 2 every_s, ... (as HdrHistogram's recordValueWithExpectedInterval)."""
    ms = [s * 1e3 for s in samples]
    if not ms:
        return {"n": 0, "p50_ms": None, "p99_ms": None, "max_ms": None}
    out: dict[str, Any] = {
        "n": len(ms),
        "p50_ms": round(percentile(ms, 50), 2),
        "p99_ms": round(percentile(ms, 99), 2),
        "max_ms": round(max(ms), 2),
    }
    if every_s:
        step = every_s * 1e3
        corrected = list(ms)
        for value in ms:
            missed = value - step
            while missed > 0:
                corrected.append(missed)
                missed -= step
        out["p99_corrected_ms"] = round(percentile(corrected, 99), 2)
    return out


def node_pairs() -> list[tuple[str, str]]:
    nodes = sorted(load("bank-wan").nodes)
    return [(a, b) for a in nodes for b in nodes if a != b]


class Timed:
    """Latencies by kind, and the non-2xx statuses seen, from many threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.samples: dict[str, list[float]] = {}
        self.bad: dict[str, int] = {}

    def call(self, kind: str, fn: Callable[[], httpx.Response]) -> None:
        t0 = time.perf_counter()
        try:
            status = fn().status_code
        except httpx.HTTPError as error:
            status, kind_bad = 0, f"{kind}: {type(error).__name__}"
        else:
            kind_bad = f"{kind}: {status}"
        elapsed = time.perf_counter() - t0
        with self.lock:
            self.samples.setdefault(kind, []).append(elapsed)
            if not 200 <= status < 300:
                self.bad[kind_bad] = self.bad.get(kind_bad, 0) + 1


def writers(proc: ControllerProcess, args: argparse.Namespace) -> dict[str, Any]:
    pairs = node_pairs()
    timed = Timed()
    stop = time.monotonic() + args.seconds

    def writer(w: int) -> None:
        with httpx.Client(base_url=proc.url, headers=proc.auth, timeout=60) as http:
            for k in itertools.count():
                if time.monotonic() >= stop:
                    return
                name = f"w{w}-{k % PER_WRITER}"
                src, dst = pairs[(w * PER_WRITER + k) % len(pairs)]
                body = {"name": name, "src": src, "dst": dst, "bandwidth": f"{1 + k % 50}k"}
                url = f"/v1/intents/{name}"
                timed.call("put", functools.partial(http.put, url, json=body))
                timed.call("get", functools.partial(http.get, url))
                if k % 5 == 0:
                    timed.call("list", lambda: http.get("/v1/intents"))

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(args.writers)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    total = sum(len(v) for v in timed.samples.values())
    return {
        "writers": args.writers,
        "seconds": round(wall, 2),
        "requests": total,
        "requests_per_s": round(total / wall, 1),
        "put": figures(timed.samples.get("put", [])),
        "get": figures(timed.samples.get("get", [])),
        "list": figures(timed.samples.get("list", [])),
        "errors": timed.bad,
    }


def plan_body(count: int, bandwidth: str) -> bytes:
    pairs = node_pairs()
    intents = [
        {"name": f"p{k}", "src": a, "dst": b, "bandwidth": bandwidth}
        for k, (a, b) in zip(range(count), itertools.cycle(pairs), strict=False)
    ]
    return json.dumps({"intents": intents, "prune": True}).encode()


def during_plan(proc: ControllerProcess, args: argparse.Namespace) -> dict[str, Any]:
    body = plan_body(args.intents, args.bandwidth)
    timed = Timed()
    done = threading.Event()

    def poll(kind: str, path: str) -> None:
        with httpx.Client(base_url=proc.url, headers=proc.auth, timeout=60) as http:
            while not done.is_set():
                timed.call(kind, lambda: http.get(path))
                done.wait(args.poll)

    pollers = [
        threading.Thread(target=poll, args=("healthz", "/healthz")),
        threading.Thread(target=poll, args=("get", "/v1/intents/w0-0")),
    ]
    for t in pollers:
        t.start()
    t0 = time.perf_counter()
    try:
        response = httpx.post(
            f"{proc.url}/v1/plan",
            content=body,
            headers={**proc.auth, "Content-Type": "application/json"},
            timeout=1800,
        )
    finally:
        plan_s = time.perf_counter() - t0
        done.set()
        for t in pollers:
            t.join()
    result = response.json() if response.status_code == 200 else {}
    return {
        "intents": args.intents,
        "body_mib": round(len(body) / 2**20, 2),
        "status": response.status_code,
        "plan_s": round(plan_s, 2),
        "changes": len(result.get("changes", [])),
        "unplaced": len(result.get("unplaced", {})),
        "healthz": figures(timed.samples.get("healthz", []), args.poll),
        "get": figures(timed.samples.get("get", []), args.poll),
        "errors": timed.bad,
    }


def report(r: dict[str, Any]) -> None:
    w, p = r["writers"], r["plan"]
    print(machine_line(r["machine"]))

    def line(label: str, f: dict[str, Any]) -> str:
        fixed = f", p99 corrected {f['p99_corrected_ms']} ms" if "p99_corrected_ms" in f else ""
        return (
            f"{label} p50 {f['p50_ms']} ms, p99 {f['p99_ms']} ms{fixed}, max {f['max_ms']} ms "
            f"(n={f['n']})"
        )

    print(
        f"{w['writers']} writers for {w['seconds']} s: {w['requests']} requests "
        f"({w['requests_per_s']}/s), errors {w['errors'] or 'none'}"
    )
    for kind in ("put", "get", "list"):
        print("  " + line(kind.upper(), w[kind]))
    print(
        f"plan of {p['intents']} intents ({p['body_mib']} MiB): HTTP {p['status']} in "
        f"{p['plan_s']} s, {p['changes']} changes, {p['unplaced']} unplaced"
    )
    print("  " + line("/healthz during it:", p["healthz"]))
    print("  " + line("GET intent during it:", p["get"]))
    if p["errors"]:
        print(f"  errors during the plan: {p['errors']}")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--seconds", type=float, default=20.0, help="writers phase (default 20)")
    ap.add_argument("--writers", type=int, default=10, help="concurrent writers (default 10)")
    ap.add_argument("--intents", type=int, default=100_000, help="intents in the plan")
    ap.add_argument("--poll", type=float, default=0.02, help="seconds between polls")
    ap.add_argument("--bandwidth", default="1k", help="of each planned intent (default 1k)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="np-api-latency-") as tmp:
        proc = ControllerProcess(Path(tmp), "bank-wan", "--tick", "3600")
        proc.start()
        try:
            result = {
                "machine": machine(),
                "topology": "bank-wan",
                "writers": writers(proc, args),
                "plan": during_plan(proc, args),
            }
        finally:
            proc.stop()
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        report(result)
    return result


if __name__ == "__main__":
    main()
