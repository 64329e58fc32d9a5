"""Reroute on the Linux data plane (root): cut a link, time until real probes take the new path.

    sudo .venv/bin/python bench/dataplane_reroute.py --cuts 20 --json

Starts `network run --dataplane linux` (bank-wan, gNMI on: the controller streams) and
`controller run` on it, installs topologies/bank-wan.intents.yaml, then `--cuts` times: picks a
random link that carries an intent and whose loss leaves every router reachable, sets both
veths down and streams probes (one per affected intent every `--every` seconds, its DSCP, from
its head end; harness/dataplane_watch.py) until the controller's status shows them moved and 5
more rounds went out; restores the link and waits for the controller to take it in and settle.
Reports, per cut and as p50/p99: seconds from the cut to the first probe round from which every
probe takes a path without that link (`reroute_s`), until the controller's status showed it
(`controller_s`), the probes lost and how long after the cut the last lost one was sent
(`lost_for_s`), and forwarding loops (a probe leaving a router the same way twice).
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
from harness.dataplane_probe import Prober, Trace
from harness.dataplane_verify import Target
from harness.dataplane_watch import ProbeStream, Sent
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


def _moved(setup: Setup, names: list[str], link_id: str) -> bool:
    """The controller's status shows every intent in `names` verified off `link_id` (or failed:
    no path its class may use)."""
    for name in names:
        status = httpx.get(f"{setup.base}/v1/intents/{name}/status", headers=setup.auth,
                           timeout=10).json()  # fmt: skip
        if status.get("state") == "failed":
            continue
        if status.get("state") != "verified" or link_id in status["primary"]["links"]:
            return False
    return True


def _on_new_path(trace: Trace, link_id: str) -> bool:
    return trace.delivered and link_id not in [h.link for h in trace.hops]


def one_cut(setup: Setup, prober: Prober, link_id: str, every_s: float) -> dict[str, Any]:
    """Cut the link while streaming probes to every intent on it (harness/dataplane_watch.py)
    until the controller shows them moved and 5 more rounds went out; then restore it."""
    topo = load("bank-wan")
    targets: list[Target] = [
        _target(name, setup.base, None, "bank-wan", (setup.token, None))
        for name, s in setup.statuses().items()
        if link_id in (s.get("primary") or {}).get("links", [])
    ]
    stream = ProbeStream(prober, topo, targets)
    names = [t.intent for t in targets]
    cut_at = time.monotonic()
    set_link(prober.state, link_id, "down")
    moved_at, checked, extra = 0.0, 0.0, 0
    while extra < 5:
        stream.round()
        now = time.monotonic()
        if now - cut_at > 120:
            raise SystemExit(f"{link_id}: no reroute within 120 s")
        if moved_at:
            extra += 1
        elif now - checked > 0.25:
            checked = now
            moved_at = time.monotonic() if _moved(setup, names, link_id) else 0.0
        time.sleep(every_s)
    stream.settle()
    traces = stream.traces()
    stream.close()
    return _restore(setup, prober, link_id, _summary(link_id, traces, cut_at, moved_at))


def _summary(link_id: str, traces: list[tuple[Sent, Trace]], cut_at: float,
             moved_at: float) -> dict[str, Any]:  # fmt: skip
    """Reroute: from the cut to the first probe of the first round from which every intent's
    probes arrive over a path without the link; lost probes; loops."""
    bad = [s.at for s, t in traces if not _on_new_path(t, link_id)]
    later = [s.at for s, _ in traces if not bad or s.at > max(bad)]
    lost = [s.at for s, t in traces if not t.delivered]
    return {"link": link_id, "intents": len({s.intent for s, _ in traces}),
            "reroute_s": round((min(later) if later else moved_at) - cut_at, 3),
            "controller_s": round(moved_at - cut_at, 3), "probes": len(traces),
            "lost_probes": len(lost),
            "lost_for_s": round(max(lost) - cut_at, 3) if lost else 0.0,
            "loops": sum(t.reason == "forwarding loop" for _, t in traces)}  # fmt: skip


def _restore(setup: Setup, prober: Prober, link_id: str, row: dict[str, Any]) -> dict[str, Any]:
    """Bring the link back; wait for the controller to see it and settle."""
    last = httpx.get(f"{setup.base}/v1/events", params={"limit": 1}, headers=setup.auth).json()
    since = last[-1]["at"] if last else 0.0
    set_link(prober.state, link_id, "up")

    def seen() -> bool:
        events = httpx.get(f"{setup.base}/v1/events", params={"since": since, "limit": 1000},
                           headers=setup.auth).json()  # fmt: skip
        return any(e["kind"] == "topology" and link_id in e["cause"] for e in events)

    wait_for(seen, 120, 0.25)
    wait_for(setup.settled, 120, 0.5)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cuts", type=int, default=20)
    parser.add_argument("--every", type=float, default=0.05, help="seconds between probe rounds")
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
    lost_for = np.array([c["lost_for_s"] for c in cuts])
    result: dict[str, Any] = {
        "cuts": cuts,
        "reroute_p50_s": round(float(np.percentile(took, 50)), 3),
        "reroute_p99_s": round(float(np.percentile(took, 99)), 3),
        "reroute_max_s": round(float(took.max()), 3),
        "lost_for_p50_s": round(float(np.percentile(lost_for, 50)), 3),
        "lost_for_max_s": round(float(lost_for.max()), 3),
        "loops": sum(c["loops"] for c in cuts),
        "machine": machine(),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(machine_line(result["machine"]))
    for c in cuts:
        print(
            f"{c['link']:>14}: {c['intents']} intents on the new path after {c['reroute_s']:.2f} s"
            f" ({c['lost_probes']}/{c['probes']} probes lost, the last {c['lost_for_s']:.2f} s"
            f" after the cut; {c['loops']} loops)"
        )
    print(f"reroute p50 {result['reroute_p50_s']:.2f} s, p99 {result['reroute_p99_s']:.2f} s; "
          f"probes lost up to {result['lost_for_max_s']:.2f} s after a cut; "
          f"{result['loops']} loops")  # fmt: skip


if __name__ == "__main__":
    main()
