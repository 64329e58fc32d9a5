"""Benchmark (issue 16): leader failover of controller replicas sharing one etcd.

One etcd on loopback and --replicas real `netpilot controller run --store etcd://...` processes
(bank-wan, in-memory devices, lease TTL --ttl). Each of --kills rounds: find the leader, write an
intent through a follower (acknowledged: 200), SIGKILL the leader, then time (a) until another
replica's /readyz says it leads and is ready (it loaded the last committed revision) and (b) until
an intent written through the new leader is installed (it can commit). The killed replica is
started again as a follower. Meanwhile --writers threads update their own intents through
random replicas (If-Match). At the end every acknowledged intent must be there with its spec,
installed, and the acknowledged versions of each intent must have no forks and no gaps.

    .venv/bin/python bench/ha_failover.py [--json] [--kills 50] [--ttl 3] [--writers 4]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.controller_proc import ControllerProcess
from bench.etcd_proc import EtcdServer
from bench.live_common import machine, machine_line, percentile

SETTLED = ("installed", "verified")


class Replica(Protocol):
    """A replica's API: a ControllerProcess, or an in-process one in tests."""

    url: str
    auth: dict[str, str]


class Cluster:
    def __init__(self, work: Path, replicas: int, ttl: int) -> None:
        self.etcd = EtcdServer(work / "etcd" / "data")
        store = f"{self.etcd.url}/bench"
        flags = ("--store", store, "--lease-ttl", str(ttl))
        self.replicas = [
            ControllerProcess(work / f"r{i}", "bank-wan", *flags, "--replica-id", f"r{i}")
            for i in range(replicas)
        ]
        for ctl in self.replicas:
            ctl.work.mkdir(parents=True, exist_ok=True)
            ctl.token = self.replicas[0].token  # one token for the cluster
            ctl.auth = self.replicas[0].auth

    def start(self) -> None:
        self.etcd.start()
        threads = [threading.Thread(target=ctl.start) for ctl in self.replicas]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def stop(self) -> None:
        for ctl in self.replicas:
            ctl.stop()
        self.etcd.stop()

    def role(self, i: int) -> dict[str, Any] | None:
        return role(self.replicas[i])

    def wait_leader(self, exclude: int | None = None, timeout_s: float = 60) -> int:
        return wait_leader(self.replicas, exclude, timeout_s)


def wait_leader(
    replicas: Sequence[Replica], exclude: int | None = None, timeout_s: float = 60
) -> int:
    """The replica that says it leads and is ready (its engine loaded)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for i, ctl in enumerate(replicas):
            view = role(ctl) if i != exclude else None
            if view and view.get("role") == "leader" and view["status"] == 200:
                return i
        time.sleep(0.05)
    raise SystemExit(f"no leader within {timeout_s}s: {[role(c) for c in replicas]}")


def role(ctl: Replica) -> dict[str, Any] | None:
    try:
        r = httpx.get(f"{ctl.url}/readyz", timeout=2)
    except httpx.HTTPError:
        return None
    return dict(r.json()) | {"status": r.status_code}


def put(ctl: Replica, name: str, mbps: int, ends: tuple[str, str] = ("HQ", "DC2")) -> int:
    body = {"name": name, "src": ends[0], "dst": ends[1], "service_class": "office",
            "bandwidth": f"{mbps}M"}  # fmt: skip
    r = httpx.put(f"{ctl.url}/v1/intents/{name}", json=body, headers=ctl.auth, timeout=30)
    if r.status_code != 200:
        raise SystemExit(f"PUT {name} through {ctl.url}: {r.status_code} {r.text}")
    return int(r.json()["version"])


def wait_settled(ctl: Replica, name: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        r = httpx.get(f"{ctl.url}/v1/intents/{name}", headers=ctl.auth, timeout=10)
        if r.status_code == 200 and r.json()["state"] in SETTLED:
            return
        time.sleep(0.05)
    raise SystemExit(f"{name} not installed by {ctl.url} within {timeout_s}s")


def one_kill(
    cluster: Cluster, k: int, written: dict[str, int], restart: bool = True
) -> tuple[float, float]:
    leader = cluster.wait_leader()
    follower = (leader + 1) % len(cluster.replicas)
    name = f"before-{k}"
    written[name] = 1 + k % 9
    put(cluster.replicas[follower], name, written[name])
    t0 = time.monotonic()
    cluster.replicas[leader].kill()
    new = cluster.wait_leader(exclude=leader)
    elected = time.monotonic() - t0
    after = f"after-{k}"
    written[after] = 1 + k % 7
    put(cluster.replicas[new], after, written[after])
    wait_settled(cluster.replicas[new], after)
    committed = time.monotonic() - t0
    if restart:
        cluster.replicas[leader].start()  # back, as a follower
    return elected, committed


def check(
    replicas: Sequence[Replica], written: dict[str, int], alive: list[int] | None = None
) -> dict[str, Any]:
    """Every acknowledged intent installed with its spec, as each live replica answers."""
    alive = list(range(len(replicas))) if alive is None else alive
    leader = replicas[alive[wait_leader([replicas[i] for i in alive])]]
    for name in written:
        wait_settled(leader, name)
    lost, wrong = [], []
    for i in alive:
        ctl = replicas[i]
        listed = httpx.get(f"{ctl.url}/v1/intents", headers=ctl.auth, timeout=30).json()
        have = {x["name"]: x for x in listed}
        for name, mbps in written.items():
            if name not in have:
                lost.append(f"r{i}: {name}")
            elif have[name]["spec"]["bandwidth"] != mbps * 1e6 or have[name]["version"] != 1:
                wrong.append(f"r{i}: {name} {have[name]}")
    return {"lost": lost, "wrong": wrong, "intents": len(written)}


class Writers:
    """Threads that update their own intents through random replicas with If-Match while the
    leaders die. Each acknowledged PUT (200) is a fact: (name, version, bandwidth). A request
    without an answer (connection reset by a kill, 503) may or may not have happened."""

    def __init__(
        self, replicas: Sequence[Replica], count: int, ends: tuple[str, str] = ("HQ", "DC1")
    ) -> None:
        self.replicas = replicas
        self.ends = ends
        self.acked: dict[str, list[tuple[int, int]]] = {}
        self.unknown: dict[str, int] = {}
        self.outcomes: dict[str, int] = {}
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, args=(i,)) for i in range(count)]

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def stop(self) -> None:
        self._stop.set()
        for t in self.threads:
            t.join()

    def _count(self, outcome: str) -> None:
        with self._lock:
            self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1

    def _run(self, ident: int) -> None:
        rng = random.Random(ident)
        name, step = f"chaos-{ident}", 0
        while not self._stop.is_set():
            ctl = rng.choice(self.replicas)
            step += 1
            try:
                current = httpx.get(f"{ctl.url}/v1/intents/{name}", headers=ctl.auth, timeout=10)
                version = current.json()["version"] if current.status_code == 200 else 0
                mbps = 1 + step % 50
                body = {"name": name, "src": self.ends[0], "dst": self.ends[1],
                        "bandwidth": f"{mbps}M", "version": version}  # fmt: skip
                r = httpx.put(f"{ctl.url}/v1/intents/{name}", json=body, headers=ctl.auth,
                              timeout=10)  # fmt: skip
            except httpx.HTTPError:
                self.unknown[name] = step
                self._count("no answer")
                time.sleep(0.05)
                continue
            self._count(str(r.status_code))
            if r.status_code == 200 and r.json()["changed"]:
                self.acked.setdefault(name, []).append((int(r.json()["version"]), mbps))
            elif r.status_code >= 500:
                self.unknown[name] = step
            time.sleep(rng.uniform(0, 0.05))

    def check(self, ctl: Replica) -> list[str]:
        """No acknowledged write lost, no version acknowledged twice (a fork), none skipped
        unless a write without an answer may have taken it (a gap)."""
        problems = []
        for name, acks in self.acked.items():
            versions = [v for v, _ in acks]
            if len(set(versions)) != len(versions) or versions != sorted(versions):
                problems.append(f"{name}: acknowledged versions fork or go back: {versions}")
            if name not in self.unknown and versions != list(range(1, len(versions) + 1)):
                problems.append(f"{name}: acknowledged versions have gaps: {versions}")
            r = httpx.get(f"{ctl.url}/v1/intents/{name}", headers=ctl.auth, timeout=10).json()
            last_version, last_mbps = acks[-1]
            if r["version"] < last_version:
                problems.append(f"{name}: at v{r['version']}, v{last_version} acknowledged")
            elif r["version"] == last_version and r["spec"]["bandwidth"] != last_mbps * 1e6:
                problems.append(f"{name}: v{last_version} lost its content")
        return problems


def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="np-ha-") as tmp:
        cluster = Cluster(Path(tmp), args.replicas, args.ttl)
        cluster.start()
        written: dict[str, int] = {}
        elected, committed = [], []
        writers = Writers(cluster.replicas, args.writers)
        writers.start()
        try:
            for k in range(args.kills):
                e, c = one_kill(cluster, k, written)
                elected.append(e)
                committed.append(c)
            writers.stop()
            result = check(cluster.replicas, written)
            leader = cluster.replicas[cluster.wait_leader()]
            result["writers"] = {"outcomes": writers.outcomes, "problems": writers.check(leader)}
        finally:
            writers.stop()
            cluster.stop()
    return {
        "replicas": args.replicas,
        "ttl_s": args.ttl,
        "kills": args.kills,
        "elected_s": {"p50": percentile(elected, 50), "p99": percentile(elected, 99),
                      "max": max(elected, default=0.0)},
        "can_commit_s": {"p50": percentile(committed, 50), "p99": percentile(committed, 99),
                         "max": max(committed, default=0.0)},
        **result,
        "machine": machine(),
    }  # fmt: skip


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--ttl", type=int, default=3)
    parser.add_argument("--writers", type=int, default=4, help="concurrent writer threads")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = run(args)
    if argv is None:
        if args.json:
            print(json.dumps(result, indent=2))
        else:
            e, c = result["elected_s"], result["can_commit_s"]
            print(f"{args.replicas} replicas, lease TTL {args.ttl}s, {args.kills} leader SIGKILLs")
            print(
                f"new leader ready: p50 {e['p50']:.2f}s  p99 {e['p99']:.2f}s  max {e['max']:.2f}s"
            )
            print(f"new leader committed: p50 {c['p50']:.2f}s  p99 {c['p99']:.2f}s")
            print(f"acknowledged intents: {result['intents']}, lost {len(result['lost'])}, "
                  f"wrong {len(result['wrong'])}")  # fmt: skip
            w = result["writers"]
            print(f"concurrent writers: {w['outcomes']}, problems {w['problems']}")
            print(machine_line(result["machine"]))
    return result


if __name__ == "__main__":
    main()
