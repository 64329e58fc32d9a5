"""A deposed leader's network transaction (issue 16): its fence (the check before the confirming
commit) fails on a real etcd, so it cancels its pending confirmed commit and releases its locks on
every simulated router (real NETCONF over SSH) at once, not when the confirm timer runs out: the
routers are back on the old revision and the new leader commits without waiting."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from southbound_support import driver, running, same, start_fleet

from bench.etcd_proc import EtcdServer
from controller.ha import Deposed, Election, election_client
from controller.southbound.transaction import TransactionHooks
from harness.device import RouterOptions
from harness.fleet import FleetThread
from harness.sample import ring, sample_network

OPTIONS = {"r1": RouterOptions(), "r2": RouterOptions(), "r3": RouterOptions.running_only()}


@pytest.fixture()
def fleet(tmp_path: Path) -> Iterator[FleetThread]:
    runner = start_fleet(["r1", "r2", "r3"], tmp_path, options=OPTIONS.__getitem__)
    try:
        yield runner
    finally:
        runner.stop()


def _election(etcd: EtcdServer, name: str) -> Election:
    """A long TTL: each lease here ends only when the test revokes it, however slow the push."""
    client = election_client([f"http://{etcd.endpoint}"], 3)
    return Election(client, "/fencing/leader", name, f"http://{name}", ttl_s=60)


def test_a_deposed_leader_cancels_its_commit_and_unlocks_at_once(
    etcd: EtcdServer, fleet: FleetThread, tmp_path: Path
) -> None:
    topo = ring(3)
    old, new, newer = (sample_network(topo, r) for r in (1, 2, 3))
    a, b = _election(etcd, "a"), _election(etcd, "b")
    # a confirm timer far longer than this test: only a cancel-commit can roll the routers back
    south_a = driver(fleet, tmp_path, confirm_timeout_s=600)
    south_b = driver(fleet, tmp_path, confirm_timeout_s=600)
    try:
        assert a._try_to_lead()
        south_a.hooks = TransactionHooks(before_confirm=a.check_fence)
        assert south_a.apply_sync(1, old, {}).committed  # a leads: its fence holds
        a.client.lease_revoke(a.lease)  # a's lease is gone (as when it expires) ...
        assert b._try_to_lead()  # ... and b leads
        with pytest.raises(Deposed, match="no longer ours"):
            south_a.apply_sync(2, new, old)  # committed on every router, then refused
        state = fleet.call(
            lambda: {n: (r.pending, dict(r.locks)) for n, r in fleet.fleet.routers.items()}
        )
        assert state == {n: (None, {}) for n in ("r1", "r2", "r3")}, state
        assert same(running(fleet), old)  # every router back on a's last confirmed revision
        south_b.hooks = TransactionHooks(before_confirm=b.check_fence)
        result = south_b.apply_sync(3, newer, old)  # no lock of a's in the way
        assert result.committed, result.failed_devices
        assert same(running(fleet), newer)
    finally:
        for closing in (south_a, south_b):
            closing.close_sync()
        a.client.close()
        b.client.close()
