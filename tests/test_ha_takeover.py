"""A leader SIGKILLed between its confirmed commit and the confirm (issue 16): the routers keep
its commit pending (persist token, RFC 6241 8.4) and refuse every other commit until their
confirm timer runs out (here 600 s, far beyond this test). The persist-id is derived from the
revision the store recorded before the commit, so the next leader's takeover cancels it at once:
the routers are back on the last committed revision, and the new leader commits.

The dead leader is a real process (a real SIGKILL from inside its `before_confirm` hook) running
the same transaction code on the same etcd store and simulated routers (real NETCONF over SSH)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from southbound_support import driver, running, same, start_fleet

from bench.etcd_proc import EtcdServer
from controller.configdiff import config_to_dict
from controller.desired import NetworkConfig
from controller.ha_takeover import cancel_dead_leaders_commits, persist_for
from controller.southbound.base import TransactionResult
from controller.southbound.netconf import NetconfSouthbound
from controller.southbound.transaction import TransactionHooks
from controller.store_etcd import EtcdStore
from controller.store_open import open_etcd
from harness.datastore import content
from harness.fleet import FleetThread
from harness.sample import ring, sample_network

ROOT = Path(__file__).resolve().parent.parent
NAMES = ["r1", "r2", "r3"]


@pytest.fixture()
def fleet(tmp_path: Path) -> Iterator[FleetThread]:
    runner = start_fleet(NAMES, tmp_path)
    try:
        yield runner
    finally:
        runner.stop()


DEAD_LEADER = """
import json, os, signal, sys, uuid
from pathlib import Path
from controller.configdiff import config_from_dict
from controller.ha_takeover import persist_for
from controller.southbound.inventory import load_inventory
from controller.southbound.netconf import NetconfSouthbound
from controller.southbound.transaction import TransactionHooks, TransactionOptions
from controller.store_open import open_etcd

store_url, inventory, configs = sys.argv[1:4]
doc = json.loads(Path(configs).read_text())
old, new = ({n: config_from_dict(c) for n, c in doc[k].items()} for k in ("old", "new"))
store = open_etcd(store_url)
south = NetconfSouthbound(
    load_inventory(Path(inventory)), transaction_options=TransactionOptions(confirm_timeout_s=600)
)
south.hooks = TransactionHooks(
    before_confirm=lambda: os.kill(os.getpid(), signal.SIGKILL), persist_id=persist_for(store)
)
revision = store.begin_revision(new, {}, "dead leader", uuid.uuid4().hex)
south.apply_sync(revision, new, old)
sys.exit("not killed before the confirm")
"""
"""The leader that dies: it records the revision as pending, sends every router its confirmed
commit (persist-id from the store) and SIGKILLs itself before confirming. Only controller
modules: a child importing the harness would cost seconds of CPU."""


def dead_leader(url: str, inventory: Path, old: NetworkConfig, new: NetworkConfig) -> int:
    configs = inventory.with_name("dead-leader.json")
    doc = {k: {n: config_to_dict(c) for n, c in v.items()} for k, v in (("old", old), ("new", new))}
    configs.write_text(json.dumps(doc))
    died = subprocess.run(
        [sys.executable, "-c", DEAD_LEADER, url, str(inventory), str(configs)], check=False,
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert died.returncode == -signal.SIGKILL, died.stderr[-2000:]
    return died.returncode


def _commit(
    store: EtcdStore, south: NetconfSouthbound, new: NetworkConfig, old: NetworkConfig
) -> TransactionResult:
    """One revision as the engine makes it: recorded pending, pushed, then finished."""
    revision = store.begin_revision(new, {}, "test", uuid.uuid4().hex)
    result = south.apply_sync(revision, new, old)
    store.finish_revision(revision, result.committed, "; ".join(result.failed_devices))
    return result


def test_the_next_leader_cancels_a_dead_leaders_pending_commit_and_commits(
    etcd: EtcdServer, fleet: FleetThread, tmp_path: Path
) -> None:
    topo = ring(3)
    old, new, newer = (sample_network(topo, r) for r in (1, 2, 3))
    url = etcd.store_url()
    store = open_etcd(url)
    south = driver(fleet, tmp_path, confirm_timeout_s=600)  # the next leader
    south.hooks = TransactionHooks(persist_id=persist_for(store))
    try:
        assert _commit(store, south, old, {}).committed  # revision 1: the last committed one
        dead_leader(url, tmp_path / "inventory.yaml", old, new)  # revision 2, pending
        routers = fleet.fleet.routers
        pending = fleet.call(lambda: {n: r.pending is not None for n, r in routers.items()})
        assert pending == dict.fromkeys(NAMES, True) and same(running(fleet), new)

        refused = _commit(store, south, newer, old)  # revision 3: the routers refuse it
        assert not refused.committed
        assert "persist" in (refused.devices["r1"].error or ""), refused.devices["r1"]

        found = cancel_dead_leaders_commits(store, south)  # the takeover, before the load
        assert [(p.revision, p.outcome) for p in found] == [(2, dict.fromkeys(NAMES, "cancelled"))]
        assert same(running(fleet), old)  # back on revision 1 at once, not after 600 s
        assert not any(fleet.call(lambda: [r.pending for r in routers.values()]))
        assert store.recover() == [2]  # the load marks it aborted
        assert _commit(store, south, newer, old).committed  # revision 4, without waiting
        assert same(running(fleet), newer)
        assert store.installed_revisions() == dict.fromkeys(NAMES, 4)
    finally:
        south.close_sync()
        store.close()


def test_a_candidate_left_dirty_and_unlocked_is_discarded_before_the_lock(
    fleet: FleetThread, tmp_path: Path
) -> None:
    """A controller stopped between its edit and its commit (its session reopened by a thread
    still running, then gone) leaves the candidate modified with no lock: RFC 6241 7.5 then
    refuses every lock. The next transaction discards that change and commits."""
    topo = ring(3)
    old, new = sample_network(topo, 1), sample_network(topo, 2)
    south = driver(fleet, tmp_path)
    other = driver(fleet, tmp_path)
    router = fleet.fleet.routers["r1"]
    try:
        assert south.apply_sync(1, old, {}).committed
        s = other.sessions["r1"]
        edit = s.flavor.edit(old["r1"], new["r1"], full=False)
        s.rpc("edit", lambda m: m.edit_config(edit, target="candidate"))  # no lock, no commit
        other.close_sync()
        assert fleet.call(lambda: content(router.candidate) != content(router.running))
        result = south.apply_sync(2, new, old)
        assert result.committed, result.devices["r1"]
        assert same(running(fleet), new)
    finally:
        south.close_sync()
