"""The chaos run of issue 16, small: bench/ha_chaos.py's own code (one etcd, four simulated
routers over real NETCONF, three controller replicas on the store, writers updating intents
through every replica) with a short lease TTL and up to two leader SIGKILLs at random moments;
the 50-kill figures are the bench's (docs/ha.md, docs/BENCHMARKS.md). Replicas r0 and r1 are
real `netpilot controller run --store ... --inventory` processes and every kill SIGKILLs one; r2
runs in this process to keep the suite's time (a process costs seconds of CPU to start), so the
run stops after one kill when r2 wins the first takeover. Afterwards: no acknowledged write lost
or changed, no gap or fork in any intent's acknowledged versions, every router on the last
revision the store committed for it with no confirmed commit left pending, and `netpilot
controller status` shows the cluster as it is (the killed replicas as rows saying why)."""

from __future__ import annotations

import argparse
import json

import httpx

from bench.controller_proc import ControllerProcess
from bench.ha_chaos import ENDS, ChaosCluster, run
from bench.ha_failover import Replica, wait_leader
from bench.ha_writes import measure
from tests.ha_support import InProcessReplica, status

TTL = 3


def in_process(cluster: ChaosCluster, i: int) -> Replica | None:
    if i != 2:
        return None
    replica = InProcessReplica(
        cluster.store, f"r{i}", cluster.processes[0].token, cluster.topology, ttl=TTL,
        inventory=cluster.inventory, interval_s=5.0, drift_interval_s=3600.0, tick_s=3600.0,
    )  # fmt: skip
    replica.start()
    return replica


def check_status(cluster: ChaosCluster) -> None:
    replicas = cluster.replicas
    leader = replicas[wait_leader(replicas)]
    shown = status(replicas, "--json")
    assert shown.returncode == 1, shown.stderr  # not every replica is up: exit 1
    rows = json.loads(shown.stdout)
    dead = [isinstance(r, ControllerProcess) and r.ended() for r in replicas]
    assert sum(dead) >= 1
    for row, gone in zip(rows, dead, strict=True):
        if gone:
            assert not row["reachable"] and row["cause"].startswith("unreachable:"), row
    up = [row for row, gone in zip(rows, dead, strict=True) if not gone]
    revisions = httpx.get(f"{leader.url}/v1/revisions", headers=leader.auth).json()
    last = max(r["id"] for r in revisions if r["status"] == "committed")
    assert [r["role"] for r in up].count("leader") == 1, up
    for row in up:
        assert row["ready"] and row["store"] == cluster.store, row
        assert row["leader"] == next(r["id"] for r in up if r["role"] == "leader"), row
        assert row["revision"] == last, row
    table = status(replicas)  # the table for people: the dead replica's row says why
    assert "unreachable" in table.stdout and "leader" in table.stdout, table.stdout
    tiny = measure(leader, writers=2, writes=2, ends=ENDS)  # bench/ha_writes.py, tiny
    assert tiny["writes"] == 4 and tiny["p50_ms"] > 0


def test_leader_sigkills_under_writes_lose_nothing_and_mix_no_device() -> None:
    args = argparse.Namespace(
        replicas=3, routers=4, kills=2, ttl=TTL, writers=2, max_delay=0.5, settle=60.0, seed=16,
        no_restart=True,
    )  # fmt: skip
    result = run(args, extra=in_process, inspect=check_status)
    assert result["kills"] >= 1
    assert result["lost"] == [] and result["wrong"] == [], result
    assert result["writers"]["problems"] == [], result["writers"]
    assert result["writers"]["outcomes"].get("200", 0) > 0
    devices = result["devices"]
    assert devices["mixed"] == [] and devices["pending"] == [], devices
    assert set(devices["revisions"]) == {"r1", "r2", "r3", "r4"}  # every router took a revision
