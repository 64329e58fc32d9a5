"""Atomicity under faults: after every transaction each router runs the old revision or the new
one, network-wide, never a mix (randomized fault injection against real NETCONF/SSH routers)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from southbound_support import driver, running, same, start_fleet, wait_settled

from harness.fleet import FleetThread
from harness.sample import ring, sample_network

TRIALS = int(os.environ.get("NETPILOT_ATOMICITY_TRIALS", "200"))
RPCS = ["lock", "discard-changes", "edit-config", "validate", "commit", "unlock", "cancel-commit"]
ACTIONS = ["fail", "drop", "drop-after", "die", "die-after", "delay", "refuse+drop"]


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> FleetThread:
    directory = tmp_path_factory.mktemp("atomic")
    runner = start_fleet(["r1", "r2", "r3", "r4"], directory)
    yield runner
    runner.stop()


def _inject(runner: FleetThread, rng: random.Random) -> str:
    router = rng.choice(list(runner.fleet.routers.values()))
    rpc, action = rng.choice(RPCS), rng.choice(ACTIONS)

    def arm() -> None:
        faults = router.faults
        if action == "delay":
            faults.delay_s = rng.choice([0.01, 0.05, 0.4])  # 0.4 s exceeds the RPC timeout
        elif action == "refuse+drop":
            faults.refuse_connections = True
            faults.on_rpc[rpc] = "drop"
        else:
            faults.on_rpc[rpc] = action
            faults.restart_after_s = rng.choice([0.05, 0.3])

    runner.call(arm)
    return f"{router.name}:{rpc}:{action}"


def _heal(runner: FleetThread) -> None:
    async def heal() -> None:
        for router in runner.fleet.routers.values():
            router.faults.on_rpc.clear()
            router.faults.delay_s = 0.0
            router.faults.refuse_connections = False
            if not router.alive:
                await router.revive()

    runner.run(heal())


def test_randomized_faults_leave_old_or_new_never_a_mix(fleet: FleetThread, tmp_path: Path) -> None:
    topo = ring(4)
    sb = driver(fleet, tmp_path, confirm_timeout_s=1, rpc_timeout_s=0.3, margin_s=1.0)
    rng = random.Random(20261121)
    old = sample_network(topo, 0)
    assert sb.apply_sync(0, old, {}).committed
    outcomes = {"committed": 0, "aborted": 0}
    try:
        for trial in range(1, TRIALS + 1):
            new = sample_network(topo, trial)
            fault = _inject(fleet, rng)
            result = sb.apply_sync(trial, new, old)
            # stop the fault before looking: refused connections must not block the rollback
            fleet.call(lambda: [setattr(r.faults, "refuse_connections", False)
                                for r in fleet.fleet.routers.values()])  # fmt: skip
            wait_settled(fleet, timeout_s=5)
            now = running(fleet)
            if result.committed:
                assert same(now, new), f"trial {trial} ({fault}) committed but not all new"
                old = new
                outcomes["committed"] += 1
            else:
                assert result.failed_devices, f"trial {trial}: aborted without a failed device"
                assert same(now, old), f"trial {trial} ({fault}) aborted but not all old: {result}"
                outcomes["aborted"] += 1
            _heal(fleet)
    finally:
        sb.close_sync()
    # the faults must really bite: both outcomes happen many times
    assert outcomes["committed"] > TRIALS // 10
    assert outcomes["aborted"] > TRIALS // 10


CONTROLLER = r"""
import sys, time
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
