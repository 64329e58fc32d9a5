"""Atomicity under faults: after every transaction each router runs the old revision or the new
one, network-wide, never a mix (randomized fault injection against real NETCONF/SSH routers, on
a mixed fleet: netpilot, iosxr and openconfig flavours; two routers have :candidate and two only
:writable-running)."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from southbound_support import driver, running, same, start_fleet

from harness.chaos import run_trials
from harness.device import RouterOptions
from harness.fleet import FleetThread
from harness.sample import ring, sample_network

TRIALS = int(os.environ.get("NETPILOT_ATOMICITY_TRIALS", "200"))


OPTIONS = {  # two routers with :candidate, two with only :writable-running; mixed flavours
    "r1": RouterOptions(),
    "r2": RouterOptions(flavor="openconfig"),
    "r3": RouterOptions.running_only(),
    "r4": dataclasses.replace(RouterOptions.running_only(rollback_on_error=False), flavor="iosxr"),
}


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FleetThread]:
    directory = tmp_path_factory.mktemp("atomic")
    runner = start_fleet(["r1", "r2", "r3", "r4"], directory, options=OPTIONS.__getitem__)
    yield runner
    runner.stop()


def test_randomized_faults_leave_old_or_new_never_a_mix(fleet: FleetThread, tmp_path: Path) -> None:
    sb = driver(fleet, tmp_path, confirm_timeout_s=1, rpc_timeout_s=0.3, margin_s=1.0)
    sb.options = dataclasses.replace(sb.options, journal=tmp_path / "journal.json")
    try:
        trials = run_trials(fleet, sb, ring(4), TRIALS, seed=20261121)
    finally:
        sb.close_sync()
    assert len(trials) == TRIALS
    mixed = [t for t in trials if not t.consistent]
    assert not mixed, f"mixed revisions after: {mixed[:3]}"
    assert all(t.failed_devices for t in trials if not t.committed)
    # the faults must really bite: both outcomes happen many times
    assert sum(t.committed for t in trials) > TRIALS // 10
    assert sum(not t.committed for t in trials) > TRIALS // 10


CONTROLLER = r"""
import sys, time
from collections.abc import Iterator
from pathlib import Path
from controller.southbound.netconf import NetconfSouthbound
from controller.southbound.transaction import TransactionHooks
from harness.sample import ring, sample_network

def pause():
    print("COMMITTED", flush=True)
    time.sleep(600)

topo = ring(4)
sb = NetconfSouthbound.from_inventory(Path(sys.argv[1]), confirm_timeout_s=2,
                                      hooks=TransactionHooks(before_confirm=pause))
sb.apply_sync(2, sample_network(topo, 2), sample_network(topo, 1))
"""


def test_killed_controller_leaves_old_revision_after_confirm_timeout(tmp_path: Path) -> None:
    topo = ring(4)
    runner = start_fleet(sorted(topo.nodes), tmp_path)
    try:
        sb = driver(runner, tmp_path)
        old, new = sample_network(topo, 1), sample_network(topo, 2)
        assert sb.apply_sync(1, old, {}).committed
        sb.close_sync()
        inventory = tmp_path / "inventory.yaml"
        proc = subprocess.Popen(
            [sys.executable, "-c", CONTROLLER, str(inventory)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.strip() == "COMMITTED"
        assert same(running(runner), new)  # committed, not yet confirmed
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        assert same(running(runner), new)  # persist: the lost session alone does not roll back
        deadline = time.monotonic() + 10
        while not same(running(runner), old):
            assert time.monotonic() < deadline, "routers did not roll back after the timeout"
            time.sleep(0.1)
        assert runner.call(lambda: all(r.pending is None for r in runner.fleet.routers.values()))
    finally:
        runner.stop()
