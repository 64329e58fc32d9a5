"""`netpilot controller run --southbound-shards 2` as a real process against `netpilot devices
start ring:3` routers (another process), both run exactly as docs/southbound.md shows them (the
other settings from the environment), judged from outside: the REST API, the routers' running
configs read over NETCONF, and the controller's worker processes.

The controller starts with r3 missing from its inventory: an intent from r1 is installed through
the shard workers (and verified: read back through them), and a change made behind the controller's
back is found by the drift check and repaired through them; one from r3 fails, naming r3. Bad
edits of the inventory are one line each (file and field) and change nothing; r3 added to it is
configured without a restart; r2 removed from it is refused (netpilot holds config there).
Ctrl-C ends the controller and its workers. Then a new leader's takeover through a sharded
southbound cancels a dead leader's pending commit (the shard workers send cancel-commit)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from southbound_support import running, same, start_fleet

from bench.etcd_proc import EtcdServer
from controller.desired import DeviceConfig
from controller.ha_takeover import cancel_dead_leaders_commits
from controller.runtime.assemble import build
from controller.runtime.settings import make_settings
from controller.southbound.inventory import load_inventory
from controller.southbound.netconf import NetconfSouthbound
from controller.southbound.shard import ShardedSouthbound
from controller.store_etcd import EtcdStore
from harness.sample import ring, sample_network
from tests.test_api_tls import free_port
from tests.test_ha_takeover import NAMES, dead_leader
from tests.test_topo_cli import ROOT, run

TOKEN = "sharded-runtime-test-token"
NETPILOT = [sys.executable, "-m", "cli"]
HEALTHY = ("installed", "verified")
DEVICES = "netpilot devices start ring:3 --inventory routers.yaml"
CONTROLLER = (
    "netpilot controller run --topology ring:3 --db netpilot.db --inventory inv.yaml"
    " --southbound-shards 2"
)
"""The commands docs/southbound.md shows (run in a scratch directory, as written)."""


def test_the_docs_show_these_commands() -> None:
    text = (ROOT / "docs" / "southbound.md").read_text()
    assert DEVICES in text and CONTROLLER in text


def test_a_negative_shard_count_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = str(tmp_path / "db")
    code, _, err = run(capsys, "controller", "run", "--topology", "ring:3", "--db", db,
                       "--southbound-shards", "-1")  # fmt: skip
    assert code == 2 and "--southbound-shards (or NETPILOT_SOUTHBOUND_SHARDS)" in err, err
    assert "greater than or equal to 0" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    monkeypatch.setenv("NETPILOT_INVENTORY_WATCH", "0")
    code, _, err = run(capsys, "controller", "run", "--topology", "ring:3", "--db", db)
    assert code == 2 and "--inventory-watch (or NETPILOT_INVENTORY_WATCH)" in err, err


def wait(check: Callable[[], Any], what: str, limit_s: float = 60.0) -> Any:
    deadline = time.monotonic() + limit_s
    while not (got := check()):
        assert time.monotonic() < deadline, f"no {what} within {limit_s}s"
        time.sleep(0.1)
    return got


def write_inventory(path: Path, doc: dict[str, Any], keep: Callable[[str], bool]) -> None:
    """`doc` with only the devices `keep` accepts, replaced at once (as an editor saves)."""
    devices = [d for d in doc["devices"] if keep(d["name"])]
    tmp = path.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump({**doc, "devices": devices}, sort_keys=False))
    tmp.replace(path)


def netpilot(command: str) -> list[str]:
    return [*NETPILOT, *command.split()[1:]]


@pytest.fixture
def routers(tmp_path: Path) -> Iterator[Path]:
    """`netpilot devices start ring:3` as a real process; its inventory (every router)."""
    inv = tmp_path / "routers.yaml"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(netpilot(DEVICES), cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        wait(lambda: inv.is_file() or proc.poll() is not None, "routers.yaml", 90)
        assert proc.poll() is None  # written once the routers listen
        yield inv
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        proc.wait(timeout=30)


class Controller:
    """`netpilot controller run ... --southbound-shards 2`, its log in a file."""

    def __init__(self, work: Path) -> None:
        self.log = work / "controller.log"
        listen = f"127.0.0.1:{free_port()}"
        self.base = f"http://{listen}"
        env = {
            **os.environ, "PYTHONPATH": str(ROOT), "NETPILOT_API_TOKEN": TOKEN,
            "NETPILOT_LISTEN": listen, "NETPILOT_INVENTORY_WATCH": "0.3",
            "NETPILOT_TELEMETRY_INTERVAL": "600", "NETPILOT_DRIFT_INTERVAL": "1",
        }  # fmt: skip
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                netpilot(CONTROLLER), cwd=work, env=env, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )  # fmt: skip
        self.http = httpx.Client(
            base_url=self.base, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
        )

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def ready(self) -> bool:
        assert self.proc.poll() is None, self.text()
        try:
            return self.http.get("/readyz").status_code == 200
        except httpx.HTTPError:
            return False

    def state(self, name: str) -> tuple[str, str]:
        got = self.http.get(f"/v1/intents/{name}").json()
        return got["state"], got["reason"]

    def event(self, kind: str, text: str) -> dict[str, Any] | None:
        events = self.http.get("/v1/events", params={"limit": 1000}).json()
        return next((e for e in events if e["kind"] == kind and text in e["cause"]), None)

    def worker_pids(self) -> list[int]:
        line = next(x for x in self.text().splitlines() if "worker processes" in x)
        return [int(p) for p in line.split("pids ")[1].split(", ")]


@contextlib.contextmanager
def client(inventory: Path) -> Iterator[NetconfSouthbound]:
    """A NETCONF client of the test's own (host keys checked)."""
    with contextlib.chdir(inventory.parent):  # the inventory's key paths are relative to it
        south = NetconfSouthbound.from_inventory(inventory)
        try:
            yield south
        finally:
            south.close_sync()


def config(inventory: Path, device: str) -> DeviceConfig:
    with client(inventory) as south:
        got = south.running_all([device])[device]
    assert isinstance(got, DeviceConfig), got
    return got


def policies(inventory: Path, device: str) -> int:
    """How many SR policies `device` runs, read over NETCONF."""
    return len(config(inventory, device).sr_policies)


def drift_repaired(ctl: Controller, routers: Path) -> None:
    """A QoS class deleted on r1 behind the controller's back: the periodic drift check (read
    through the shard workers) finds it and the repair puts it back."""
    before = config(routers, "r1")
    drifted = dataclasses.replace(before, qos=before.qos[1:])
    with client(routers) as south:
        assert south.apply_sync(10_000, {"r1": drifted}, {"r1": before}).committed
    wait(lambda: ctl.event("drift-repaired", ""), "the drift repaired")
    assert config(routers, "r1") == before


def test_controller_run_with_shards_follows_its_inventory(routers: Path, tmp_path: Path) -> None:
    full = yaml.safe_load(routers.read_text())
    inv = tmp_path / "inv.yaml"  # what the controller manages: r3 not yet
    write_inventory(inv, full, lambda name: name != "r3")
    ctl = Controller(tmp_path)
    try:
        wait(ctl.ready, "readiness", 90)
        pids = ctl.worker_pids()
        assert len(pids) == 2 and all(Path(f"/proc/{p}").exists() for p in pids), ctl.text()
        assert "r3" in next(x for x in ctl.text().splitlines() if "not in the inventory" in x)
        body = {"name": "r1-r2", "src": "r1", "dst": "r2", "bandwidth": "10M"}
        assert ctl.http.post("/v1/intents", json=body).status_code == 201
        wait(lambda: ctl.state("r1-r2")[0] == "verified", "r1-r2 verified (read back)")
        assert policies(routers, "r1") == 1
        drift_repaired(ctl, routers)
        body = {"name": "r3-r1", "src": "r3", "dst": "r1", "bandwidth": "10M"}
        assert ctl.http.post("/v1/intents", json=body).status_code == 201
        _, reason = wait(lambda: (s := ctl.state("r3-r1"))[0] == "failed" and s, "r3 refused")
        assert "r3" in reason and "not in the inventory" in reason, reason
        # bad edits: one line naming the file and the field; the old inventory stays
        inv.write_text("devices: [ {name: r3\n")
        bad = wait(lambda: ctl.event("inventory-error", "not valid YAML"), "the invalid YAML")
        assert bad["cause"].startswith("inventory inv.yaml: ") and "line 2" in bad["cause"], bad
        no_host = [{k: v for k, v in d.items() if k != "host"} for d in full["devices"]]
        write_inventory(inv, {**full, "devices": no_host}, lambda _: True)
        bad = wait(lambda: ctl.event("inventory-error", "`host`"), "the missing field reported")
        assert bad["cause"].startswith("inventory inv.yaml, device 'r1': `host` is missing"), bad
        assert ctl.state("r1-r2")[0] == "verified"
        # r3 added: configured without a restart
        write_inventory(inv, full, lambda _: True)
        added = wait(lambda: ctl.event("inventory", "inv.yaml re-read"), "the inventory event")
        assert added["detail"] == "added: r3", added
        wait(lambda: ctl.state("r3-r1")[0] in HEALTHY, "r3-r1 installed after r3 joined")
        assert policies(routers, "r3") == 1
        # r2 removed while netpilot holds config there: refused, kept
        write_inventory(inv, full, lambda name: name != "r2")
        refused = wait(lambda: ctl.event("inventory-refused", "r2"), "r2's removal refused")
        assert "holds config" in refused["cause"], refused
        assert "Traceback" not in ctl.text()
    finally:
        ctl.proc.send_signal(signal.SIGINT)  # Ctrl-C
        code = ctl.proc.wait(timeout=30)
        ctl.http.close()
    assert code in (0, -signal.SIGINT), ctl.text()[-3000:]
    wait(lambda: not any(Path(f"/proc/{p}").exists() for p in pids), "workers gone", 10)


def test_takeover_through_shard_workers_cancels_a_dead_leaders_commit(
    etcd: EtcdServer, tmp_path: Path
) -> None:
    """Assembled as `controller run --store etcd://... --southbound-shards 2` assembles it: the
    workers' transactions get the leader's hooks (fence, persist-id from the store), and the
    takeover sends cancel-commit through them."""
    fleet = start_fleet(NAMES, tmp_path)
    inventory = fleet.fleet.write_inventory(tmp_path / "inventory.yaml")
    old, new = (sample_network(ring(3), r) for r in (1, 2))
    url = etcd.store_url()  # a new prefix at each call
    settings = make_settings(topology="ring:3", store=url, inventory=inventory,
                             southbound_shards=2, token_file=tmp_path / "token")  # fmt: skip
    runtime = build(settings, env={})
    south = getattr(runtime.southbound, "inner", None)
    plain = NetconfSouthbound(load_inventory(inventory))  # the last leader's commit, revision 1
    try:
        assert isinstance(south, ShardedSouthbound) and len(south.pids) == 2
        assert runtime.election is not None and south.hooks is not None
        assert south.hooks.before_confirm == runtime.election.check_fence
        assert isinstance(runtime.store, EtcdStore) and runtime.takeover is not None
        revision = runtime.store.begin_revision(old, {}, "test", "txid-old")
        assert plain.apply_sync(revision, old, {}).committed
        runtime.store.finish_revision(revision, True, "")
        dead_leader(url, inventory, old, new)  # revision 2 left pending
        assert same(running(fleet), new)
        runtime.takeover.warm()
        found = cancel_dead_leaders_commits(runtime.store, south)  # what the takeover runs
        assert [(p.revision, p.outcome) for p in found] == [(2, dict.fromkeys(NAMES, "cancelled"))]
        assert same(running(fleet), old)  # at once, not after the 600 s confirm timer
        assert not any(fleet.call(lambda: [r.pending for r in fleet.fleet.routers.values()]))
    finally:
        plain.close_sync()
        pids = south.pids if isinstance(south, ShardedSouthbound) else []
        asyncio.run(runtime.stop())
        fleet.stop()
    assert not any(Path(f"/proc/{p}").exists() for p in pids)  # stop() ended the workers
