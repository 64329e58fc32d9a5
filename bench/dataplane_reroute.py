"""Reroute on the Linux data plane (root): cut a link, time until real probes take the new path.

    sudo .venv/bin/python bench/dataplane_reroute.py --cuts 20 --json

Starts `network run --dataplane linux` (bank-wan) and `controller run` on it, installs
topologies/bank-wan.intents.yaml, then `--cuts` times: picks a random link that carries an
intent and whose loss leaves every router reachable, sets both veths down, and probes every
affected intent (3 UDP probes each, the intent's DSCP, from its head end) every `--every`
seconds until all are delivered over paths without that link; restores the link and waits for
the controller to settle. Reports, per cut and as p50/p99: seconds from the cut to the first
probe round on the new path, and the probe rounds lost (not delivered) meanwhile.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import networkx as nx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.live_common import machine, machine_line, wait_for
from commands.verify import _target
from controller.intentfile import load_intents
from harness.dataplane_probe import Prober
from harness.dataplane_verify import Target, probe_addresses
from harness.linuxnet import read_state
from topologies.loader import load

ROOT = Path(__file__).resolve().parent.parent
INTENTS = ROOT / "topologies" / "bank-wan.intents.yaml"
TOKEN = "dataplane-bench-token"


class Setup:
    """The network and the controller as processes, bank-wan's intents installed."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.inv, self.events = work / "inv.yaml", work / "events.jsonl"
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.base = f"http://127.0.0.1:{s.getsockname()[1]}"
        self.procs: list[subprocess.Popen[bytes]] = []
        self.token = work / "token"
        self.token.write_text(TOKEN)
        self.token.chmod(0o600)
        self.auth = {"Authorization": f"Bearer {TOKEN}"}

    def spawn(self, name: str, args: list[str]) -> None:
        log = (self.work / f"{name}.log").open("wb")
        env = {**os.environ, "NETPILOT_API_TOKEN": TOKEN}
        self.procs.append(subprocess.Popen([sys.executable, "-m", "cli", *args], cwd=ROOT,
                                           stdout=log, stderr=log, env=env))  # fmt: skip

    def start(self) -> None:
        self.spawn("network", ["network", "run", "--topology", "bank-wan", "--inventory",
                               str(self.inv), "--dataplane", "linux", "--events",
                               str(self.events)])  # fmt: skip
        wait_for(self.inv.is_file, 180)
        port = self.base.rsplit(":", 1)[1]
        self.spawn("controller", ["controller", "run", "--topology", "bank-wan", "--db",
                                  str(self.work / "np.db"), "--inventory", str(self.inv),
                                  "--listen", f"127.0.0.1:{port}", "--interval", "1"])  # fmt: skip
        wait_for(self._ready, 120)
        body = {"intents": [i.model_dump(mode="json", exclude_none=True)
                            for i in load_intents(INTENTS)]}  # fmt: skip
        httpx.post(f"{self.base}/v1/apply", json=body, headers=self.auth, timeout=60)
        wait_for(self.settled, 180, 0.5)

    def _ready(self) -> bool:
        try:
            return httpx.get(f"{self.base}/readyz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def statuses(self) -> dict[str, dict[str, Any]]:
        return {i.name: httpx.get(f"{self.base}/v1/intents/{i.name}/status", headers=self.auth,
                                  timeout=10).json() for i in load_intents(INTENTS)}  # fmt: skip

    def settled(self) -> bool:
        return all(s.get("state") == "verified" for s in self.statuses().values())

    def state(self) -> dict[str, Any]:
        lines = [json.loads(x) for x in self.events.read_text().splitlines() if x.strip()]
        run = next(e for e in lines if e["kind"] == "started")["run"]
        state = read_state(run)
        assert state is not None
        return state

    def stop(self) -> None:
        for proc in self.procs:
            proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            proc.wait(timeout=60)


def cuttable(setup: Setup) -> list[str]:
    topo = load("bank-wan")
    used = {
        lk for s in setup.statuses().values() for lk in (s.get("primary") or {}).get("links", [])
    }
    out = []
    for link_id in sorted(used):
        graph = topo.graph.to_undirected()
        graph.remove_edges_from([(lk.src, lk.dst, lk.key) for lk in topo.links if lk.id == link_id])
        if nx.is_connected(graph):
            out.append(link_id)
    return out


def set_link(state: dict[str, Any], link_id: str, how: str) -> None:
    for namespace, ifname in state["links"][link_id]:
        subprocess.run(["ip", "-n", namespace, "link", "set", ifname, how], check=True)


def one_cut(setup: Setup, prober: Prober, link_id: str, every_s: float) -> dict[str, Any]:
    topo = load("bank-wan")
    targets: list[Target] = [
        _target(name, setup.base, None, "bank-wan", (setup.token, None))
        for name, s in setup.statuses().items()
        if link_id in (s.get("primary") or {}).get("links", [])
    ]
    cut_at = time.monotonic()
    set_link(prober.state, link_id, "down")
    lost, rounds = 0, 0
    while True:
        rounds += 1
        ok = True
        for t in targets:
            src, dst = probe_addresses(topo, t)
            seen = prober.trace(t.src, t.dst, src_addr=src, dst_addr=dst, dscp=t.dscp)
            lost += 0 if seen.delivered else 1
            ok &= seen.delivered and link_id not in [h.link for h in seen.hops]
        if ok:
            break
        if time.monotonic() - cut_at > 120:
            raise SystemExit(f"{link_id}: no new path within 120 s")
        time.sleep(every_s)
    took = time.monotonic() - cut_at
    set_link(prober.state, link_id, "up")
    time.sleep(2.0)
    wait_for(setup.settled, 120, 0.5)
    return {"link": link_id, "intents": len(targets), "reroute_s": round(took, 3),
            "rounds": rounds, "lost_rounds": lost}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cuts", type=int, default=20)
    parser.add_argument("--every", type=float, default=0.1, help="seconds between probe rounds")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="np-dp-bench-") as tmp:
        setup = Setup(Path(tmp))
        try:
            setup.start()
            prober = Prober(setup.state())
            rng = random.Random(args.seed)
            links = cuttable(setup)
            cuts = [one_cut(setup, prober, rng.choice(links), args.every) for _ in range(args.cuts)]
            prober.close()
        finally:
            setup.stop()
    took = np.array([c["reroute_s"] for c in cuts])
    result: dict[str, Any] = {
        "cuts": cuts,
        "reroute_p50_s": round(float(np.percentile(took, 50)), 3),
        "reroute_p99_s": round(float(np.percentile(took, 99)), 3),
        "reroute_max_s": round(float(took.max()), 3),
        "machine": machine(),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(machine_line(result["machine"]))
    for c in cuts:
        print(
            f"{c['link']:>14}: {c['intents']} intents on the new path after {c['reroute_s']:.2f} s"
            f" ({c['lost_rounds']} probes lost)"
        )
    print(f"reroute p50 {result['reroute_p50_s']:.2f} s, p99 {result['reroute_p99_s']:.2f} s")


if __name__ == "__main__":
    main()
