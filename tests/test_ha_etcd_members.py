"""etcd member loss in a 3-member cluster (issue 16): SIGKILL the member that is the raft
leader; the netpilot leader keeps its leadership (its lease refreshes move to another member)
and the store keeps answering, with at most a transient `StoreUnavailable` (503) for a write
caught in etcd's own leader election, never a lost acknowledged write."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx

from bench.etcd_proc import EtcdCluster, EtcdServer
from controller.ha import Election, election_client
from controller.intents import Intent
from controller.store_api import StoreUnavailable
from controller.store_etcd import EtcdStore
from controller.store_open import open_etcd


def _raft_leader(cluster: EtcdCluster) -> EtcdServer:
    status = httpx.post(f"http://{cluster.members[0].endpoint}/v3/maintenance/status", json={})
    leader_id = status.json()["leader"]
    for member in cluster.members:
        mine = httpx.post(f"http://{member.endpoint}/v3/maintenance/status", json={}).json()
        if mine["header"]["member_id"] == leader_id:
            return member
    raise AssertionError("no raft leader")


def _write(store: EtcdStore, name: str, acked: list[str], transient: list[str]) -> None:
    """A client's PUT: retried after a 503, as the API's clients do."""
    intent = Intent.model_validate({"name": name, "src": "HQ", "dst": "DC1"})
    for _ in range(50):
        try:
            store.put_intent(intent)
        except StoreUnavailable as error:
            transient.append(str(error))
            time.sleep(0.1)
            continue
        acked.append(name)
        return
    raise AssertionError(f"{name}: never written: {transient[-1]}")


def test_losing_the_raft_leader_member_keeps_the_store_and_the_leader(tmp_path: Path) -> None:
    cluster = EtcdCluster(tmp_path, 3)
    cluster.start()
    store = open_etcd(cluster.store_url())
    client = election_client(store.client.endpoints, 3)
    election = Election(client, store.keys.leader, "a", "http://a", ttl_s=3)
    store.fence = election.guards
    deposed: list[str] = []
    acked: list[str] = []
    transient: list[str] = []

    async def lead() -> None:
        return None

    async def scenario() -> None:
        task = asyncio.create_task(election.campaign(lead, deposed.append))
        while not election.leading:
            await asyncio.sleep(0.05)
        await asyncio.to_thread(_write, store, "before", acked, transient)
        victim = _raft_leader(cluster)
        await asyncio.to_thread(victim.kill)
        for k in range(12):  # writes through the loss, for longer than a lease TTL
            await asyncio.to_thread(_write, store, f"during-{k}", acked, transient)
            await asyncio.sleep(0.15)
        assert election.leading and not task.done(), deposed
        await asyncio.to_thread(election.check_fence)  # still the leader, per etcd
        task.cancel()

    try:
        asyncio.run(scenario())
        assert deposed == []
        names = {r.name for r in store.list_intents()}
        assert set(acked) <= names and len(acked) == 13
    finally:
        store.close()
        client.close()
        cluster.stop()
