"""The Linux data plane with real packets (root): bank-wan in namespaces, its intents installed by
`controller run`, every intent's path proven by probes, link cuts rerouted, a commit the kernel
refuses failing the transaction, leftovers of a killed run cleaned up."""

from __future__ import annotations

import functools
import json
import multiprocessing
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from pyroute2 import netns

from commands.verify import _target
from controller.desired import CandidatePath, DeviceConfig, SegmentList, SrPolicy, SteeringRule
from controller.intentfile import load_intents
from controller.southbound.netconf import NetconfSouthbound
from controller.southbound.session import SessionOptions
from controller.topology import Topology
from harness.dataplane import LinuxDataPlane
from harness.dataplane_probe import Prober, trace
from harness.dataplane_verify import verify_intent
from harness.linuxnet import new_run_id, read_state
from harness.netrun import NetworkSpec
from tests.conftest import require_privilege
from topologies.loader import load

ROOT = Path(__file__).resolve().parent.parent
INTENTS = ROOT / "topologies" / "bank-wan.intents.yaml"
TOKEN = "dataplane-test-token"
CUTS = 3  # bench/dataplane_reroute.py does 20


@pytest.fixture(autouse=True)
def _root() -> None:
    require_privilege(os.geteuid() == 0, "root, to create network namespaces")


def wait_for(check: Callable[[], Any], timeout_s: float = 60.0, every_s: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {check}"
        time.sleep(every_s)


def _events(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Bank:
    work: Path
    base: str
    events: Path
    topology: Topology
    procs: dict[str, subprocess.Popen[bytes]]

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {TOKEN}"}

    def state(self) -> dict[str, Any]:
        run = next(e for e in _events(self.events) if e["kind"] == "started")["run"]
        state = read_state(run)
        assert state is not None
        return state

    def status(self, name: str) -> dict[str, Any]:
        r = httpx.get(f"{self.base}/v1/intents/{name}/status", headers=self.auth, timeout=10)
        return dict(r.json())


def _spawn(work: Path, name: str, args: list[str], env: dict[str, str] | None = None) -> Any:
    log = (work / f"{name}.log").open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "cli", *args], cwd=ROOT, stdout=log, stderr=log,
        env={**os.environ, **(env or {})},
    )  # fmt: skip


def _all_verified(bank: Bank) -> bool:
    r = httpx.get(f"{bank.base}/v1/intents", headers=bank.auth, timeout=10)
    rows = r.json()
    rows = rows.get("intents", rows) if isinstance(rows, dict) else rows
    return bool(rows) and all(row.get("state") == "verified" for row in rows)


@pytest.fixture(scope="module")
def bank(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bank]:
    if os.geteuid() != 0:
        pytest.skip("needs root")  # the autouse fixture reports it (or fails under REQUIRE_ALL)
    work = tmp_path_factory.mktemp("dataplane")
    inv, events, port = work / "inv.yaml", work / "events.jsonl", _free_port()
    procs: dict[str, subprocess.Popen[bytes]] = {}
    procs["network"] = _spawn(work, "network", [
        "network", "run", "--topology", "bank-wan", "--inventory", str(inv), "--dataplane",
        "linux", "--events", str(events)])  # fmt: skip
    bank = Bank(work, f"http://127.0.0.1:{port}", events, load("bank-wan"), procs)
    try:
        wait_for(inv.is_file, 120)
        (work / "token").write_text(TOKEN)
        (work / "token").chmod(0o600)
        procs["controller"] = _spawn(work, "controller", [
            "controller", "run", "--topology", "bank-wan", "--db", str(work / "np.db"),
            "--inventory", str(inv), "--listen", f"127.0.0.1:{port}", "--interval", "1"],
            env={"NETPILOT_API_TOKEN": TOKEN})  # fmt: skip
        wait_for(lambda: _ready(bank.base), 60)
        body = {"intents": [i.model_dump(mode="json", exclude_none=True)
                            for i in load_intents(INTENTS)]}  # fmt: skip
        r = httpx.post(f"{bank.base}/v1/apply", json=body, headers=bank.auth, timeout=60)
        assert r.status_code == 200, r.text
        wait_for(lambda: _all_verified(bank), 90, 0.5)
        yield bank
    finally:
        for proc in procs.values():
            proc.send_signal(signal.SIGTERM)
        for proc in procs.values():
            proc.wait(timeout=30)
    assert procs["network"].returncode == 0
    stopped = [e for e in _events(events) if e["kind"] == "stopped"]
    assert stopped and stopped[0]["namespaces_removed"] == len(bank.topology.nodes)
    run = next(e for e in _events(events) if e["kind"] == "started")["run"]
    assert not [n for n in netns.listnetns() if n.startswith(f"np-{run}-")]


def _ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _verify(bank: Bank, name: str, prober: Prober) -> dict[str, Any]:
    target = _target(name, bank.base, None, "bank-wan", (bank.work / "token", None))
    return verify_intent(prober.state, bank.topology, target, prober)


@pytest.fixture
def prober(bank: Bank) -> Iterator[Prober]:
    prober = Prober(bank.state())
    yield prober
    prober.close()


def _doc_command(marker: str) -> str:
    text = (ROOT / "docs" / "dataplane.md").read_text()
    blocks = [b.replace("\\\n", " ") for b in re.findall(r"```sh\n(.*?)```", text, flags=re.S)]
    return str(next(b for b in blocks if marker in b))


def _sh(block: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    path = f"{Path(sys.executable).parent}:{os.environ['PATH']}"
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block], cwd=ROOT, capture_output=True, text=True,
        env={**os.environ, "PATH": path, **(env or {})}, timeout=120, check=False,
    )  # fmt: skip


def test_real_packets_follow_every_installed_intent(bank: Bank, prober: Prober) -> None:
    out = _sh(_doc_command("netpilot verify"),
              {"NETPILOT_SERVER": bank.base, "NETPILOT_API_TOKEN": TOKEN})  # fmt: skip
    assert out.returncode == 0, out.stderr
    shown = json.loads(out.stdout)
    assert shown["intent"] == "br2-hq-video" and shown["matches"] is True
    assert [h["node"] for h in shown["observed"]] == [h["node"] for h in shown["intended"]]
    assert any((h["segments_left"] or 0) > 0 for h in shown["observed"])  # an SRH on the wire
    for intent in load_intents(INTENTS):
        result = _verify(bank, intent.name, prober)
        assert result["matches"], (intent.name, result)


def _cuttable(bank: Bank) -> list[str]:
    """Links carrying some intent whose cut leaves every router reachable."""
    used = set()
    for intent in load_intents(INTENTS):
        used |= set(bank.status(intent.name)["primary"]["links"])
    topo = bank.topology
    out = []
    for link_id in sorted(used):
        graph = topo.graph.to_undirected()
        graph.remove_edges_from([(lk.src, lk.dst, lk.key) for lk in topo.links
                                 if lk.id == link_id])  # fmt: skip
        import networkx as nx

        if nx.is_connected(graph):
            out.append(link_id)
    return out


def _set_link(bank: Bank, link_id: str, state: str) -> None:
    for namespace, ifname in bank.state()["links"][link_id]:
        subprocess.run(["ip", "-n", namespace, "link", "set", ifname, state], check=True)


def _moved_off(bank: Bank, names: list[str], link_id: str) -> bool:
    for name in names:
        status = bank.status(name)
        primary = status.get("primary") or {}
        if status.get("state") != "verified" or link_id in primary.get("links", []):
            return False
    return True


def _logged(bank: Bank, kind: str, link_id: str) -> bool:
    return any(e["kind"] == kind and e.get("link") == link_id for e in _events(bank.events))


def test_after_a_link_cut_the_probes_follow_the_new_path(bank: Bank, prober: Prober) -> None:
    rng = random.Random(17)
    for link_id in rng.sample(_cuttable(bank), CUTS):
        names = [i.name for i in load_intents(INTENTS)
                 if link_id in bank.status(i.name)["primary"]["links"]]  # fmt: skip
        _set_link(bank, link_id, "down")
        wait_for(functools.partial(_logged, bank, "link_down", link_id), 20)
        wait_for(functools.partial(_moved_off, bank, names, link_id), 60, 0.5)
        for name in names:
            result = _verify(bank, name, prober)
            assert result["matches"], (link_id, name, result)
            assert link_id not in [h["link"] for h in result["observed"]]
        _set_link(bank, link_id, "up")
        wait_for(functools.partial(_logged, bank, "link_up", link_id), 20)


def _policy(topo: Topology, src: str, dst: str, prefix: str | None) -> DeviceConfig:
    ep = topo.node(dst).loopback.split("/")[0]
    lists = (SegmentList("s", (topo.node(dst).node_sid,)),)
    policy = SrPolicy(7, ep, "p7", (CandidatePath("cp", 100, lists),))
    return DeviceConfig(src, (policy,), (SteeringRule("r", 7, ep, dscp=46, prefix=prefix),))


def test_kernel_counters_and_a_config_the_kernel_refuses(tmp_path: Path) -> None:
    from harness.dataplane_run import LinuxNetworkRun

    spec = NetworkSpec(topology="ring:3", inventory=tmp_path / "inv.yaml")
    run = LinuxNetworkRun(spec)
    inventory = run.start()
    try:
        south = NetconfSouthbound(inventory, session_options=SessionOptions(rpc_timeout_s=10))
        topo = run.topology
        good = _policy(topo, "r1", "r2", None)
        bad = _policy(topo, "r2", "r3", "10.3.0.1/16")  # host bits set: the kernel says EINVAL
        result = south.apply_sync(1, {"r1": good, "r2": bad}, {})
        south.close_sync()
        assert not result.committed
        assert "kernel refused" in str(result.devices["r2"].error)
        show = ["ip", "-n", run.plane.plan.ns["r1"], "-6", "route", "show", "table", "1046"]
        r1_tables = subprocess.run(show, capture_output=True, text=True, check=False)
        assert r1_tables.stdout.strip() == ""  # r1's tunnel came out again with the rollback
        before = {c.link_id: c for c in run.plane.counters("r1")}
        assert set(before) == {"r1-r2", "r3-r1"} and all(c.oper_up for c in before.values())
        state = read_state(run.run_id)
        assert state is not None
        seen = trace(state, "r1", "r2", src_addr=topo.node("r1").loopback.split("/")[0],
                     dst_addr=topo.node("r2").loopback.split("/")[0], dscp=0)  # fmt: skip
        assert seen.delivered and seen.nodes == ["r1", "r2"]
        after = {c.link_id: c for c in run.plane.counters("r1")}
        assert after["r1-r2"].tx_packets >= before["r1-r2"].tx_packets + 3  # the kernel's count
    finally:
        run.stop()
    assert not [n for n in netns.listnetns() if n.startswith(f"np-{run.run_id}-")]


def _build_and_wait(ready: Path) -> None:
    """A data plane's process (forked): build ring:3, say so, wait to be killed."""
    LinuxDataPlane(load("ring:3"), new_run_id()).build()
    ready.write_text("built")
    time.sleep(600)


def test_a_killed_runs_namespaces_are_removed_by_the_next(tmp_path: Path) -> None:
    before = set(netns.listnetns())
    ready = tmp_path / "ready"
    child = multiprocessing.get_context("fork").Process(target=_build_and_wait, args=(ready,))
    child.start()
    wait_for(ready.is_file, 60)
    killed = {n for n in set(netns.listnetns()) - before if n.startswith("np-")}
    assert len(killed) == 3
    os.kill(child.pid or 0, signal.SIGKILL)
    child.join(timeout=10)  # reaped: its pid is gone
    assert killed <= set(netns.listnetns())  # nothing cleans up after a SIGKILL by itself
    subprocess.run(["rm", "-rf", "/tmp/netpilot-dp"], check=True)
    out = _sh(_doc_command("network run"))
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["reason"] == "until"
    started = _events(Path("/tmp/netpilot-dp/events.jsonl"))[0]
    assert started["leftovers_removed"] >= 3
    assert not killed & set(netns.listnetns())


def test_the_build_bench_runs_on_a_tiny_network() -> None:
    out = subprocess.run(
        [sys.executable, "bench/dataplane_build.py", "--routers", "4", "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["routers"] == 4 and result["namespaces_removed"] == 4
    assert result["kernel_routes"] > 4 * 3 * 2  # every router: locators and loopbacks of 3 others
    assert result["build_s"] > 0 and "loadavg" in result["machine"]
