"""Racing clients against a running `netpilot controller run` (issue 13): acknowledged writes are
never undone by engine rounds, with and without SIGKILLs of the controller.

The first test is the shape that once lost a third of the deletes: threads that create an
intent, wait 0-300 ms (an engine round is working on it then) and delete it. The second runs
bench/api_race.py small: mixed PUT / DELETE / bulk apply from four threads while the controller
is SIGKILLed and restarted on the same database."""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

import httpx

from bench.api_race import main as race
from bench.api_race import settle
from bench.controller_proc import ControllerProcess
from controller.store import Store

THREADS, ROUNDS = 4, 12


def _client(ctl: ControllerProcess, ident: int, kept: list[str], deleted: list[str]) -> None:
    rng = random.Random(ident)
    with httpx.Client(base_url=ctl.url, headers=ctl.auth, timeout=30) as http:
        for k in range(ROUNDS):
            name = f"t{ident}-{k}"
            body = {"name": name, "src": "HQ", "dst": rng.choice(["DC1", "DC2"]),
                    "service_class": "office", "bandwidth": f"{rng.randint(1, 9)}M"}  # fmt: skip
            put = http.put(f"/v1/intents/{name}", json=body)
            assert put.status_code == 200, put.text
            time.sleep(rng.uniform(0, 0.3))
            if k % 4 == 3:
                kept.append(name)
                continue
            gone = http.delete(f"/v1/intents/{name}")
            assert gone.status_code == 202, gone.text
            deleted.append(name)


def test_deletes_racing_engine_rounds_are_never_undone(tmp_path: Path) -> None:
    ctl = ControllerProcess(tmp_path)
    ctl.start()
    kept: list[str] = []
    deleted: list[str] = []
    try:
        threads = [
            threading.Thread(target=_client, args=(ctl, i, kept, deleted)) for i in range(THREADS)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        listed, _ = settle(ctl, timeout_s=60)
    finally:
        assert ctl.stop(), ctl.tail()
    states = {i["name"]: i["state"] for i in listed}
    assert len(deleted) == THREADS * ROUNDS * 3 // 4
    assert not set(deleted) & set(states), sorted(set(deleted) & set(states))  # none came back
    assert {n: states.get(n) for n in kept} == {n: states[n] for n in kept}
    assert all(states[n] in ("installed", "verified") for n in kept), states
    store = Store(ctl.db)
    try:
        on_devices = {p.name for c in store.installed_configs().values() for p in c.sr_policies}
        gone = [store.find_intent(n) for n in deleted]
    finally:
        store.close()
    assert on_devices == set(kept)  # the deleted ones withdrawn from every device
    assert all(r is not None and r.deleted and r.state.value == "withdrawn" for r in gone)


def test_mixed_writes_with_sigkills_lose_nothing_acknowledged() -> None:
    r = race(["--ops", "240", "--threads", "4", "--kills", "2", "--pause", "0.05", "--json"])
    assert r["kills"] == 2 and r["stopped_gracefully"]
    acknowledged = sum(n for k, n in r["outcomes"].items() if k.endswith("acknowledged"))
    assert acknowledged > 100
    assert r["lost"] == [] and r["anomalies"] == []
    assert r["not_installed"] == [] and r["on_devices_not_alive"] == []
    assert r["alive_not_on_devices"] == []
