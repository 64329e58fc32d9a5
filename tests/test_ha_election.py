"""Leader election and fencing on a real etcd (issue 16), in-process: one leader at a time, a
deposed leader's writes and confirming commits are refused, and a leader cut off from etcd
stops before its lease can expire there."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from bench.etcd_proc import EtcdServer
from controller.ha import Deposed, Election, election_client
from controller.intents import Intent
from controller.store_etcd import EtcdStore
from controller.store_etcd_tx import Fenced
from controller.store_open import open_etcd


def _replica(url: str, name: str, ttl: int = 3) -> tuple[EtcdStore, Election]:
    store = open_etcd(url)
    client = election_client(store.client.endpoints, ttl)
    election = Election(client, store.keys.leader, name, f"http://{name}", ttl)
    store.fence = election.guards
    return store, election


def _intent(name: str) -> Intent:
    return Intent.model_validate({"name": name, "src": "HQ", "dst": "DC1"})


def test_one_leader_and_a_deposed_one_is_fenced(etcd: EtcdServer) -> None:
    url = etcd.store_url()
    (store_a, a), (store_b, b) = _replica(url, "a"), _replica(url, "b")
    try:
        assert a._try_to_lead() is True
        assert b._try_to_lead() is False  # the key is held: b follows a
        assert (b.state.role, b.state.leader, b.state.leader_url) == ("follower", "a", "http://a")
        store_a.put_intent(_intent("x"))  # the leader's write carries its fence and passes
        a.check_fence()
        store_b.put_intent(_intent("y"))  # a follower's (API) writes are not fenced
        a.client.lease_revoke(a.lease)  # what etcd does when a's lease expires
        assert b._try_to_lead() is True  # b takes over
        with pytest.raises(Fenced, match="no longer the leader"):
            store_a.put_intent(_intent("z"))  # refused at once, nothing written
        with pytest.raises(Deposed):
            a.check_fence()  # a would not confirm its transaction on the devices
        assert store_b.find_intent("z") is None
        store_b.put_intent(_intent("z"))
        b.check_fence()
    finally:
        for closing in (store_a, store_b, a.client, b.client):
            closing.close()


def test_a_leader_cut_off_from_etcd_stops_within_its_ttl(etcd: EtcdServer) -> None:
    store, election = _replica(etcd.store_url(), "a", ttl=2)
    stopped: list[tuple[str, float]] = []

    async def lead() -> None:
        return None

    async def scenario() -> None:
        task = asyncio.create_task(
            election.campaign(lead, lambda why: stopped.append((why, time.monotonic())))
        )
        while not election.leading:
            await asyncio.sleep(0.05)
        await asyncio.to_thread(etcd.kill)  # the leader's etcd is gone
        await asyncio.wait_for(task, timeout=30)

    try:
        asyncio.run(scenario())
    finally:
        store.close()
        election.client.close()
    [(why, at)] = stopped
    assert "lease not refreshed" in why
    # it stopped before etcd could let its lease expire: TTL after the last good refresh
    assert at - election._renewed_at < election.ttl_s
    with pytest.raises(Deposed):
        election.check_fence()


def test_a_follower_losing_etcd_answers_503_with_the_cause_and_comes_back(
    etcd: EtcdServer,
) -> None:
    from tests.ha_support import InProcessReplica
    from tests.intents_support import wait_for

    url = etcd.store_url()
    holder, leader = _replica(url, "a", ttl=60)  # holds the leadership through the test
    assert leader._try_to_lead()
    follower = InProcessReplica(url, "b", "t0ken", "ring:4", ttl=3)
    body = {"name": "x", "src": "r1", "dst": "r3", "bandwidth": "5M"}
    try:
        follower.start()
        with httpx.Client(base_url=follower.url, headers=follower.auth, timeout=30) as http:
            assert wait_for(lambda: http.get("/readyz").json().get("leader") == "a")
            assert http.get("/readyz").json()["role"] == "follower"
            assert http.put("/v1/intents/x", json=body).status_code == 200
            etcd.stop()
            assert wait_for(lambda: http.get("/readyz").status_code == 503)
            down = http.get("/readyz").json()
            assert down["ready"] is False and etcd.endpoint in down["cause"], down
            refused = http.put("/v1/intents/y", json=body | {"name": "y"})
            assert refused.status_code == 503 and etcd.endpoint in refused.json()["detail"]
            etcd.start()  # back: ready again, and what was acknowledged is there
            assert wait_for(lambda: http.get("/readyz").status_code == 200, timeout=20)
            assert http.get("/v1/intents/x").json()["version"] == 1
            assert http.put("/v1/intents/y", json=body | {"name": "y"}).status_code == 200
    finally:
        follower.stop()
        store_close(holder, leader)


def store_close(store: EtcdStore, election: Election) -> None:
    store.close()
    election.client.close()


def test_a_leader_keeps_its_lease_while_it_loads_for_longer_than_the_ttl(
    etcd: EtcdServer,
) -> None:
    store, election = _replica(etcd.store_url(), "a", ttl=2)
    loaded: list[bool] = []
    deposed: list[str] = []

    async def slow_load() -> None:  # loading the store and checking the devices, slowly
        await asyncio.sleep(3.5)
        loaded.append(election.leading)

    async def scenario() -> None:
        task = asyncio.create_task(election.campaign(slow_load, deposed.append))
        while not loaded and not task.done():
            await asyncio.sleep(0.05)
        await asyncio.to_thread(election.check_fence)  # the key is still ours: it may confirm
        task.cancel()

    try:
        asyncio.run(scenario())
    finally:
        store_close(store, election)
    assert loaded == [True] and deposed == []
