"""Benchmark (issue 13): racing API writes against a running controller, with SIGKILLs.

A real `netpilot controller run` (bank-wan, in-memory devices, a SQLite file) and N client
threads. Each thread owns its intent names and, one request after another with a random pause,
creates or updates them (PUT), deletes them (DELETE) or applies several at once (POST /v1/apply);
engine rounds run in between, and a killer SIGKILLs the controller --kills times and starts it
again on the same database. Every acknowledged write (2xx) is a fact; a request whose answer was
lost in a kill may or may not have happened. At the end the controller settles and each name
must be what its last acknowledged write (or a later unanswered one) made it: present with that
spec and installed, or gone, from the API and from the devices' installed configs in the file.

    .venv/bin/python bench/api_race.py [--json] [--ops 10000] [--threads 4] [--kills 50]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.controller_proc import ControllerProcess
from bench.live_common import machine, machine_line, percentile

PAIRS = (("HQ", "DC1"), ("HQ", "DC2"), ("DC1", "DC2"), ("DC2", "DC1"), ("DC1", "HQ"))
SETTLED = {"installed", "verified"}
GONE: tuple[str, Any] = ("gone", None)


def spec(rng: random.Random) -> dict[str, Any]:
    src, dst = rng.choice(PAIRS)
    mbps = rng.randint(1, 9)
    return {"src": src, "dst": dst, "service_class": "office", "bandwidth": f"{mbps}M"}


@dataclass
class Name:
    """What the client knows of one intent: the states it may be in now."""

    possible: set[tuple[str, str | None]] = field(default_factory=lambda: {("gone", None)})

    def acked(self, state: tuple[str, str | None]) -> None:
        self.possible = {state}

    def unknown(self, state: tuple[str, str | None]) -> None:
        self.possible = self.possible | {state}


def key(name: str, body: dict[str, Any]) -> str:
    """The intent's canonical spec, as the API reports it (`spec` in its answers)."""
    from controller.intents import Intent

    return json.dumps(Intent.model_validate({**body, "name": name}).spec(), sort_keys=True)


@dataclass
class Tally:
    outcomes: Counter[str] = field(default_factory=Counter)
    latency_ms: dict[str, list[float]] = field(default_factory=dict)
    anomalies: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    done: int = 0

    def add(self, kind: str, outcome: str, ms: float | None) -> None:
        with self.lock:
            self.outcomes[f"{kind} {outcome}"] += 1
            self.done += 1
            if ms is not None:
                self.latency_ms.setdefault(kind, []).append(ms)


class Client(threading.Thread):
    def __init__(
        self, ident: int, ctl: ControllerProcess, *, names: int, ops: int, pause: float,
        tally: Tally,
    ) -> None:  # fmt: skip
        super().__init__(daemon=True)
        self.rng = random.Random(ident)
        self.ctl, self.ops, self.pause, self.tally = ctl, ops, pause, tally
        self.names = {f"race{ident}-{k}": Name() for k in range(names)}
        self.http = httpx.Client(timeout=30)

    def run(self) -> None:
        for _ in range(self.ops):
            self.one()
            time.sleep(self.rng.uniform(0, self.pause))
        self.http.close()

    def one(self) -> None:
        roll = self.rng.random()
        name = self.rng.choice(sorted(self.names))
        if roll < 0.45:
            body = spec(self.rng)
            self.send("put", "PUT", f"/v1/intents/{name}", {"name": name, **body},
                      {name: ("alive", key(name, body))})  # fmt: skip
        elif roll < 0.85:
            self.send("delete", "DELETE", f"/v1/intents/{name}", None, {name: GONE})
        else:
            chosen = self.rng.sample(sorted(self.names), k=min(3, len(self.names)))
            bodies = {n: spec(self.rng) for n in chosen}
            payload = {"intents": [{"name": n, **b} for n, b in bodies.items()], "prune": False}
            effect = {n: ("alive", key(n, b)) for n, b in bodies.items()}
            self.send("apply", "POST", "/v1/apply", payload, effect)

    def send(
        self,
        kind: str,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        effect: dict[str, tuple[str, str | None]],
    ) -> None:
        while True:  # connection refused: the server is down, nothing was sent; wait for it
            t0 = time.perf_counter()
            try:
                reply = self.http.request(method, self.ctl.url + path, json=body,
                                          headers=self.ctl.auth)  # fmt: skip
            except httpx.ConnectError:
                time.sleep(0.05)
                continue
            except httpx.HTTPError:  # sent, answer lost (a kill): it may or may not have happened
                for name, state in effect.items():
                    self.names[name].unknown(state)
                self.tally.add(kind, "unknown", None)
                return
            break
        ms = (time.perf_counter() - t0) * 1000
        if reply.status_code < 300:
            for name, state in effect.items():
                self.names[name].acked(state)
            self.tally.add(kind, "acknowledged", ms)
        elif kind == "delete" and reply.status_code == 404:
            [name] = effect
            if GONE not in self.names[name].possible:  # an acknowledged create was lost
                self.tally.anomalies.append(f"{name}: DELETE answered 404 after an acked PUT")
            self.names[name].acked(GONE)
            self.tally.add(kind, "already gone", ms)
        else:
            self.tally.add(kind, f"answered {reply.status_code}", ms)
            self.tally.anomalies.append(f"{kind} {path}: {reply.status_code} {reply.text[:200]}")


def killer(ctl: ControllerProcess, tally: Tally, total: int, kills: int, log: list[float]) -> None:
    """SIGKILL the controller each time another total/(kills+1) operations are done."""
    for k in range(1, kills + 1):
        while tally.done < total * k / (kills + 1):
            time.sleep(0.01)
        ctl.kill()
        t0 = time.perf_counter()
        ctl.start()
        log.append(time.perf_counter() - t0)


def settle(ctl: ControllerProcess, timeout_s: float) -> tuple[list[dict[str, Any]], float]:
    """Poll the intents until none is in motion for three polls in a row."""
    t0 = time.perf_counter()
    quiet, listed = 0, []
    while time.perf_counter() - t0 < timeout_s:
        reply = httpx.get(f"{ctl.url}/v1/intents", headers=ctl.auth, timeout=30)
        listed = reply.json()
        moving = [i for i in listed if i["state"] not in SETTLED]
        quiet = 0 if moving else quiet + 1
        if quiet >= 3:
            break
        time.sleep(0.5)
    return listed, time.perf_counter() - t0


def check(clients: list[Client], listed: list[dict[str, Any]], db: Path) -> dict[str, Any]:
    from controller.store import Store

    actual = {i["name"]: i for i in listed}
    lost, state_problems = [], []
    for client in clients:
        for name, known in client.names.items():
            row = actual.get(name)
            now = GONE if row is None else ("alive", json.dumps(row["spec"], sort_keys=True))
            if now not in known.possible:
                lost.append(f"{name}: is {now[0]}, acknowledged {sorted(known.possible)}")
            elif row is not None and row["state"] not in SETTLED:
                state_problems.append(f"{name}: {row['state']} ({row['reason']})")
    store = Store(db)
    try:
        heads = {p.name for c in store.installed_configs().values() for p in c.sr_policies}
    finally:
        store.close()
    ours = {n for c in clients for n in c.names}
    alive = {n for n in ours if n in actual}
    on_devices = heads & ours
    return {
        "lost": lost,
        "not_installed": state_problems,
        "on_devices_not_alive": sorted(on_devices - alive),
        "alive_not_on_devices": sorted(alive - on_devices),
        "alive_at_end": len(alive),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="np-race-") as tmp:
        ctl = ControllerProcess(Path(tmp), args.topology)
        ctl.start()
        tally = Tally()
        per_thread = args.ops // args.threads
        clients = [
            Client(i, ctl, names=args.names, ops=per_thread, pause=args.pause, tally=tally)
            for i in range(args.threads)
        ]
        restarts: list[float] = []
        kill_thread = threading.Thread(
            target=killer, args=(ctl, tally, per_thread * args.threads, args.kills, restarts),
            daemon=True,
        )  # fmt: skip
        t0 = time.perf_counter()
        for c in [*clients, kill_thread]:
            c.start()
        for c in [*clients, kill_thread]:
            c.join()
        run_s = time.perf_counter() - t0
        listed, settle_s = settle(ctl, args.settle_timeout)
        graceful = ctl.stop()
        result = check(clients, listed, ctl.db)
    lat = {
        kind: {"p50": percentile(v, 50), "p99": percentile(v, 99), "n": len(v)}
        for kind, v in sorted(tally.latency_ms.items())
    }
    return {
        "machine": machine(),
        "params": {
            "ops": per_thread * args.threads,
            "threads": args.threads,
            "names_per_thread": args.names,
            "kills": args.kills,
            "pause_max_s": args.pause,
            "topology": args.topology,
        },
        "outcomes": dict(sorted(tally.outcomes.items())),
        "anomalies": tally.anomalies[:20],
        "kills": len(restarts),
        "restart_s": {"p50": percentile(restarts, 50), "max": max(restarts, default=0.0)},
        "run_s": run_s,
        "settle_s": settle_s,
        "stopped_gracefully": graceful,
        "latency_ms": lat,
        **result,
    }


def report(r: dict[str, Any]) -> None:
    print(machine_line(r["machine"]))
    p = r["params"]
    print(f"{p['ops']} operations from {p['threads']} threads over {p['topology']}, "
          f"{r['kills']} SIGKILLs (restart p50 {r['restart_s']['p50']:.1f} s), "
          f"{r['run_s']:.0f} s; settled in {r['settle_s']:.1f} s")  # fmt: skip
    for outcome, count in r["outcomes"].items():
        print(f"  {outcome}: {count}")
    for kind, v in r["latency_ms"].items():
        print(f"  {kind}: p50 {v['p50']:.1f} ms, p99 {v['p99']:.1f} ms ({v['n']} answered)")
    print(f"acknowledged writes undone: {len(r['lost'])}; anomalies: {len(r['anomalies'])}; "
          f"not installed at the end: {len(r['not_installed'])}; devices holding a deleted "
          f"intent: {len(r['on_devices_not_alive'])}; live intents missing on devices: "
          f"{len(r['alive_not_on_devices'])}")  # fmt: skip
    for line in [*r["lost"], *r["anomalies"]][:10]:
        print(f"  {line}")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--ops", type=int, default=10_000, help="operations in all")
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--names", type=int, default=8, help="intent names per thread")
    ap.add_argument("--kills", type=int, default=50, help="SIGKILLs spread over the run")
    ap.add_argument("--pause", type=float, default=0.1, help="max random pause between ops, s")
    ap.add_argument("--topology", default="bank-wan")
    ap.add_argument("--settle-timeout", type=float, default=120.0)
    args = ap.parse_args(argv)
    result = run(args)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        report(result)
    return result


if __name__ == "__main__":
    main()
