"""Benchmark: 10,000 intents on a ~200-node Topology Zoo network, end to end.

Phase 1 (in this process): store the intents in a fresh SQLite file, run the engine (real
placement, compiler, in-memory southbound) until every intent is installed or failed; report the
time, the counts and the peak memory. Phase 2: start `netpilot controller run` on that database
on loopback and drive its REST API with N concurrent clients (GET and PUT of single intents,
a bounded number of requests each); report p50/p99 latency and the server's peak memory.

    python bench/intents.py --json
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import random
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from controller.engine import Engine  # noqa: E402
from controller.intents import Intent  # noqa: E402
from controller.southbound.memory import MemorySouthbound  # noqa: E402
from controller.store import Store  # noqa: E402
from topologies.loader import load  # noqa: E402

console = Console(stderr=True)
TOKEN = "bench-token-loopback-only"
# class, share, bandwidth range (bit/s), protection
MIX = [
    ("voice", 0.20, (100e3, 1e6), "path"),
    ("production", 0.25, (1e6, 10e6), "path"),
    ("video", 0.10, (2e6, 8e6), "none"),
    ("office", 0.25, (1e6, 10e6), "none"),
    ("bigdata", 0.10, (10e6, 50e6), "none"),
    ("test", 0.10, (100e3, 1e6), "none"),
]


def make_intents(nodes: list[str], count: int, seed: int) -> list[Intent]:
    rng = random.Random(seed)
    weights = [m[1] for m in MIX]
    out = []
    for i in range(count):
        cls, _, (lo, hi), protection = rng.choices(MIX, weights)[0]
        src, dst = rng.sample(nodes, 2)
        out.append(
            Intent.model_validate(
                {
                    "name": f"{cls}-{i:05d}",
                    "src": src,
                    "dst": dst,
                    "service_class": cls,
                    "bandwidth": round(rng.uniform(lo, hi)),
                    "protection": protection,
                }
            )
        )
    return out


def phase_engine(spec: str, db: Path, count: int, seed: int) -> dict[str, Any]:
    topo = load(spec)
    intents = make_intents(sorted(topo.nodes), count, seed)
    store = Store(db)
    store.set_meta("topology", spec)
    engine = Engine(topo, store, MemorySouthbound(), time.time)
    asyncio.run(engine.start())
    t0 = time.perf_counter()
    store.apply_intents(intents, actor="bench")
    t1 = time.perf_counter()
    report = asyncio.run(engine.reconcile("bench: apply"))
    t2 = time.perf_counter()
    noop = asyncio.run(engine.reconcile("bench: no-op"))
    t3 = time.perf_counter()
    states: dict[str, int] = {}
    for record in store.list_intents():
        states[record.state.value] = states.get(record.state.value, 0) + 1
    store.close()
    return {
        "topology": f"{spec} ({len(topo.nodes)} nodes, {len(topo.physical_links())} links)",
        "intents": count,
        "store_write_s": round(t1 - t0, 3),
        "time_to_all_installed_s": round(t2 - t1, 3),
        "revisions": len(report.revisions),
        "states": states,
        "noop_reconcile_s": round(t3 - t2, 3),
        "noop_revisions": len(noop.revisions),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(spec: str, db: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = os.environ | {"NETPILOT_API_TOKEN": TOKEN}
    cmd = [sys.executable, "-m", "cli", "controller", "run", "--topology", spec, "--db", str(db)]
    proc = subprocess.Popen(
        [*cmd, "--listen", f"127.0.0.1:{port}"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 900
    headers = {"Authorization": f"Bearer {TOKEN}"}
    while time.monotonic() < deadline:  # ready, and the startup reconcile has finished
        try:
            events = httpx.get(f"{base}/v1/events", headers=headers, timeout=5)
            if events.status_code == 200 and any(e["kind"] == "reconcile" for e in events.json()):
                return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("controller did not become ready")


def load_api(
    base: str, names: list[str], *, clients: int, per_client: int, seed: int, put_share: float
) -> dict[str, Any]:
    """`clients` threads, each with its own keep-alive connection (stdlib http.client: the
    httpx async pool was itself the bottleneck at 50 connections)."""
    host, port = base.removeprefix("http://").split(":")
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    latencies: dict[str, list[float]] = {"GET": [], "PUT": []}
    errors: dict[str, int] = {}
    lock = threading.Lock()

    def call(
        conn: http.client.HTTPConnection, method: str, path: str, body: Any = None
    ) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body)
        conn.request(method, path, body=data, headers=headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"null")

    def client(k: int) -> None:
        local = random.Random(seed * 1000 + k)
        conn = http.client.HTTPConnection(host, int(port), timeout=300)
        for _ in range(per_client):
            name = local.choice(names)
            method = "PUT" if local.random() < put_share else "GET"
            try:
                if method == "PUT":
                    _, got = call(conn, "GET", f"/v1/intents/{name}")
                    body = got["spec"] | {"bandwidth": got["spec"].get("bandwidth", 0) + 1000}
                    start = time.perf_counter()
                    status, _ = call(conn, "PUT", f"/v1/intents/{name}", body)
                else:
                    start = time.perf_counter()
                    status, _ = call(conn, "GET", f"/v1/intents/{name}")
            except (OSError, http.client.HTTPException) as error:
                with lock:
                    errors[type(error).__name__] = errors.get(type(error).__name__, 0) + 1
                conn = http.client.HTTPConnection(host, int(port), timeout=300)
                continue
            elapsed = time.perf_counter() - start
            with lock:
                latencies[method].append(elapsed)
                if status >= 300:
                    errors[str(status)] = errors.get(str(status), 0) + 1
        conn.close()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    t0 = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - t0
    out: dict[str, Any] = {"clients": clients, "requests": sum(map(len, latencies.values()))}
    for method, values in latencies.items():
        if not values:
            continue
        values.sort()
        out[method] = {
            "count": len(values),
            "p50_ms": round(values[len(values) // 2] * 1e3, 2),
            "p99_ms": round(values[min(len(values) - 1, int(len(values) * 0.99))] * 1e3, 2),
        }
    out["throughput_rps"] = round(out["requests"] / elapsed, 1)
    out["non_2xx"] = errors
    return out


def peak_rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--topology", default="zoo:Cogentco")
    parser.add_argument("--intents", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--per-client", type=int, default=40)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--put-share", type=float, default=0.5, help="fraction of PUTs")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        with console.status(f"placing and installing {args.intents} intents on {args.topology}"):
            engine = phase_engine(args.topology, db, args.intents, args.seed)
        console.print(engine)
        names = [r.name for r in Store(db).list_intents()]
        with console.status("starting the controller"):
            t0 = time.perf_counter()
            proc, base = start_server(args.topology, db, Path(tmp) / "controller.log")
            startup = time.perf_counter() - t0
        try:
            with console.status(f"{args.clients} API clients"):
                api = load_api(
                    base,
                    names,
                    clients=args.clients,
                    per_client=args.per_client,
                    seed=args.seed,
                    put_share=args.put_share,
                )
            api["controller_startup_s"] = round(startup, 2)
            api["server_peak_rss_mib"] = peak_rss_mib(proc.pid)
        finally:
            alive = proc.poll() is None
            proc.terminate()
            proc.wait(timeout=30)
            log_tail = (Path(tmp) / "controller.log").read_text()[-2000:]
        if not alive:
            console.print(f"[red]controller died[/]:\n{log_tail}")
    result = {"engine": engine, "api": api}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        console.print(result)


if __name__ == "__main__":
    main()
