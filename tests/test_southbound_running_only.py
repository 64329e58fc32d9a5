"""Devices without :candidate (only :writable-running, with or without :rollback-on-error) in
network-wide transactions: all or nothing still, old configs restored as a whole and read back,
a device that does not come back reported, and the journal a killed controller leaves replayed
on the next start. Real simulated routers over NETCONF/SSH."""

from __future__ import annotations

import dataclasses
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from southbound_support import driver, running, same, start_fleet, wait_settled

from controller.desired import DeviceConfig
from controller.southbound import journal
from controller.southbound.inventory import load_inventory
from controller.southbound.netconf import NetconfSouthbound
from controller.southbound.render import canonical, render_config
from controller.southbound.transaction import TransactionHooks
from harness.device import RouterOptions
from harness.fleet import FleetThread
from harness.sample import ring, sample_network

TOPO = ring(3)
OPTIONS = {
    "r1": RouterOptions(),
    "r2": RouterOptions.running_only(),
    "r3": RouterOptions.running_only(rollback_on_error=False),
}


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FleetThread]:
    runner = start_fleet(
        sorted(TOPO.nodes), tmp_path_factory.mktemp("ro"), options=OPTIONS.__getitem__
    )
    yield runner
    runner.stop()


@pytest.fixture
def clean(fleet: FleetThread) -> FleetThread:
    def reset() -> None:
        for router in fleet.fleet.routers.values():
            router.faults.on_rpc.clear()
            router.faults.ignore_operations = frozenset()
            router.set_running(render_config(DeviceConfig(router.name)))

    fleet.call(reset)
    return fleet


def test_capabilities_and_a_failed_commit_restores_running_only_devices(
    clean: FleetThread, tmp_path: Path
) -> None:
    sb = driver(clean, tmp_path)
    old, new = sample_network(TOPO, 1), sample_network(TOPO, 2)
    try:
        assert sb.apply_sync(1, old, {}).committed
        assert same(running(clean), old)
        caps = {n: s.capabilities for n, s in sb.sessions.items()}
        assert caps["r2"].writable_running and not caps["r2"].candidate
        assert caps["r2"].rollback_on_error and not caps["r3"].rollback_on_error
        clean.call(lambda: clean.fleet.routers["r1"].faults.on_rpc.update({"commit": "fail"}))
        result = sb.apply_sync(2, new, old)
        assert not result.committed and result.failed_devices == ["r1"]
        assert result.devices["r2"].restored is True and result.devices["r3"].restored is True
        wait_settled(clean)
        assert same(running(clean), old)
        assert not (tmp_path / "journal.json").exists()
    finally:
        sb.close_sync()


def test_a_device_ignoring_remove_is_still_put_back(clean: FleetThread, tmp_path: Path) -> None:
    """Regression: the undo was a reverse edit of `remove`s; a device that ignored them kept the
    new entries (its config grew) and was reported rolled back. Now: full replace, read back."""
    sb = driver(clean, tmp_path)
    old = sample_network(TOPO, 1, policies=1)
    new = sample_network(TOPO, 2, policies=2)  # the undo must take a policy away
    try:
        assert sb.apply_sync(1, old, {}).committed
        r2 = clean.fleet.routers["r2"]
        clean.call(lambda: setattr(r2.faults, "ignore_operations", frozenset({"remove"})))
        clean.call(lambda: clean.fleet.routers["r1"].faults.on_rpc.update({"commit": "fail"}))
        result = sb.apply_sync(2, new, old)
        assert not result.committed and result.devices["r2"].restored is True
        assert same(running(clean), old)
    finally:
        sb.close_sync()


def test_a_device_that_does_not_come_back_is_reported_and_retried_on_next_start(
    clean: FleetThread, tmp_path: Path
) -> None:
    routers = clean.fleet.routers
    path = tmp_path / "journal.json"

    def r1_times_out_and_r2_goes_deaf() -> None:  # after every device took the change
        def arm() -> None:
            routers["r1"]._rollback()  # r1's confirm timer "expired": its confirm will fail
            routers["r2"].faults.ignore_operations = frozenset({"remove", "replace"})

        clean.call(arm)

    sb = driver(clean, tmp_path)
    old, new = sample_network(TOPO, 1), sample_network(TOPO, 2)
    try:
        assert sb.apply_sync(1, old, {}).committed
        sb.hooks = TransactionHooks(before_confirm=r1_times_out_and_r2_goes_deaf)
        sb.options = dataclasses.replace(sb.options, journal=path)
        result = sb.apply_sync(2, new, old)
    finally:
        sb.close_sync()
    assert not result.committed and result.unrestored_devices == ["r2"]
    assert "NOT back to its old config" in (result.devices["r2"].error or "")
    assert result.devices["r3"].restored is True
    record = journal.read(path)
    assert record is not None and record.phase == "undo" and record.revision == 2
    assert running(clean)["r2"] != old["r2"]
    clean.call(lambda: setattr(routers["r2"].faults, "ignore_operations", frozenset()))
    again = driver(clean, tmp_path)  # a new controller on the same journal
    again.options = dataclasses.replace(again.options, journal=path)
    try:
        recovery = again.recover()
        assert recovery is not None and recovery.outcome == "restored", recovery
    finally:
        again.close_sync()
    assert same(running(clean), old) and not path.exists()


CONTROLLER = r"""
import sys, time
from pathlib import Path
from controller.southbound.netconf import NetconfSouthbound
from controller.southbound.transaction import TransactionHooks
from harness.sample import ring, sample_network

def pause():
    print("COMMITTED", flush=True)
    time.sleep(600)

topo = ring(3)
sb = NetconfSouthbound.from_inventory(Path(sys.argv[1]), confirm_timeout_s=120,
                                      hooks=TransactionHooks(before_confirm=pause))
sb.apply_sync(2, sample_network(topo, 2), sample_network(topo, 1))
"""


def test_journal_of_a_killed_controller_is_replayed_on_the_next_start(
    clean: FleetThread, tmp_path: Path
) -> None:
    sb = driver(clean, tmp_path)
    old, new = sample_network(TOPO, 1), sample_network(TOPO, 2)
    try:
        assert sb.apply_sync(1, old, {}).committed
    finally:
        sb.close_sync()
    inventory = tmp_path / "inventory.yaml"
    proc = subprocess.Popen(
        [sys.executable, "-c", CONTROLLER, str(inventory)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "COMMITTED"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    assert same(running(clean), new)  # running-only devices took it; r1 waits for its confirm
    record = journal.read(tmp_path / "inventory.journal.json")
    assert record is not None and record.phase == "commit"
    assert (
        record.devices["r2"].restore == canonical(old["r2"]) and not record.devices["r2"].candidate
    )
    restarted = NetconfSouthbound.from_inventory(inventory, confirm_timeout_s=120)
    try:  # the next start: its first transaction replays the journal first
        result = restarted.apply_sync(3, old, old)
        assert result.committed
        assert restarted.recovery is not None and restarted.recovery.outcome == "restored"
    finally:
        restarted.close_sync()
    assert same(running(clean), old)  # long before r1's 120 s confirm timer
    assert clean.call(lambda: clean.fleet.routers["r1"].pending is None)
    assert not (tmp_path / "inventory.journal.json").exists()
    assert load_inventory(inventory).names == ["r1", "r2", "r3"]


def test_no_journal_no_change_on_running_only_devices(clean: FleetThread, tmp_path: Path) -> None:
    """Without a journal a killed controller could not undo them: the transaction is refused
    before any edit is sent, naming the file."""
    sb = driver(clean, tmp_path)
    sb.options = dataclasses.replace(sb.options, journal=tmp_path / "missing" / "j.json")
    try:
        result = sb.apply_sync(1, sample_network(TOPO, 1), {})
        assert not result.committed
        assert "cannot write the transaction journal" in (result.devices["r2"].error or "")
        assert all(cfg == DeviceConfig(n) for n, cfg in running(clean).items())
        sb.options = dataclasses.replace(sb.options, journal=tmp_path / "j.json")
        assert sb.apply_sync(1, sample_network(TOPO, 1), {}).committed  # the locks were freed
    finally:
        sb.close_sync()
