"""Sharded southbound (controller/southbound/shard.py): a network-wide transaction over worker
processes stays all-or-nothing (a refusal in one shard, the HA fence, a worker that dies), and
the worker processes end with the southbound. Simulated routers spread over processes
(harness/fleet_procs.py) serve one merged inventory. Speed is measured in bench/southbound.py."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from southbound_support import running, same, start_fleet

from controller.southbound.flavors import flavor_at
from controller.southbound.inventory import load_inventory
from controller.southbound.netconf import NetconfSouthbound
from controller.southbound.session import SessionOptions
from controller.southbound.shard import ShardedSouthbound
from controller.southbound.transaction import TransactionHooks, TransactionOptions
from harness.fleet import FleetThread
from harness.fleet_procs import FleetProcesses
from harness.sample import ring, sample_network

NAMES = [f"r{i}" for i in range(1, 7)]


def gone(pid: int) -> bool:
    return not Path(f"/proc/{pid}").exists()


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FleetThread]:
    runner = start_fleet(NAMES, tmp_path_factory.mktemp("shard"), flavors="mixed")
    yield runner
    runner.stop()


def sharded(runner: FleetThread, directory: Path) -> ShardedSouthbound:
    inventory = runner.fleet.write_inventory(directory / "inventory.yaml")
    return ShardedSouthbound(
        load_inventory(inventory),
        shards=2,
        session_options=SessionOptions(rpc_timeout_s=5.0, connect_attempts=2, backoff_s=0.05),
        transaction_options=TransactionOptions(confirm_timeout_s=5),
        max_workers=4,
    )


def test_one_refusal_in_one_shard_leaves_every_shard_on_its_old_config(
    fleet: FleetThread, tmp_path: Path
) -> None:
    topo = ring(6)
    sb = sharded(fleet, tmp_path)
    pids = sb.pids
    assert len(pids) == 2 and os.getpid() not in pids
    try:
        r1, r2, r3 = (sample_network(topo, rev) for rev in (1, 2, 3))
        first = sb.apply_sync(1, r1, {})
        assert first.committed, first.devices
        assert same(running(fleet), r1)
        # r5 (shard 1 of 2: r1, r3, r5) refuses its confirmed commit: r2, r4, r6 of the other
        # shard had committed theirs and must cancel them
        fleet.call(lambda: fleet.fleet.routers["r5"].faults.on_rpc.update(commit="fail"))
        refused = sb.apply_sync(2, r2, r1)
        assert not refused.committed
        assert refused.failed_devices == ["r5"]
        assert refused.devices["r5"].phase == "confirmed commit"
        assert refused.devices["r6"].phase == "rolled back"
        assert refused.devices["r6"].restored is True  # read back on its old config
        assert same(running(fleet), r1)
        # a refusal in prepare: nothing is sent to anyone's running config
        fleet.call(lambda: fleet.fleet.routers["r2"].faults.on_rpc.update({"edit-config": "fail"}))
        refused = sb.apply_sync(3, r3, r1)
        assert not refused.committed and refused.failed_devices == ["r2"]
        assert same(running(fleet), r1)
        # the HA fence runs once, after every shard committed; refusing rolls every shard back
        calls: list[int] = []

        def fence() -> None:
            calls.append(1)
            raise RuntimeError("deposed")

        sb.hooks = TransactionHooks(before_confirm=fence)
        with pytest.raises(RuntimeError, match="deposed"):
            sb.apply_sync(4, r3, r1)
        assert calls == [1]
        assert same(running(fleet), r1)
        sb.hooks = None
        done = sb.apply_sync(5, r3, r1)
        assert done.committed, done.devices
        assert same(running(fleet), r3)
        assert set(sb.running_all()) == set(NAMES)
        # a worker process dies: its devices fail the next push, the other shard is not touched
        sb.shards[1].process.kill()
        sb.shards[1].process.join(5)
        result = sb.apply_sync(6, r1, r3)
        assert not result.committed
        assert result.failed_devices == sb.shards[1].names
        assert "worker process is gone" in (result.devices["r2"].error or "")
        assert same(running(fleet), r3)
    finally:
        sb.close_sync()
    assert all(gone(pid) for pid in pids)


def test_routers_over_processes_serve_one_inventory(tmp_path: Path) -> None:
    topo = ring(3)
    names = sorted(topo.nodes)
    with FleetProcesses(names, tmp_path / "keys", processes=2, flavors="mixed") as routers:
        rpids = routers.pids
        assert len(rpids) == 2
        inventory = load_inventory(routers.write_inventory(tmp_path / "inventory.yaml"))
        assert [d.name for d in inventory.devices] == names
        assert [d.flavor for d in inventory.devices] == [flavor_at("mixed", i) for i in range(3)]
        sb = NetconfSouthbound(inventory, max_workers=3)
        try:
            r1 = sample_network(topo, 1)
            assert sb.apply_sync(1, r1, {}).committed
            assert not [d for d in sb.drift(r1) if d.drifted]
        finally:
            sb.close_sync()
    assert all(gone(pid) for pid in rpids)
