"""The REST API on a real uvicorn server on loopback: main flows, auth, errors, concurrency."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry, Counter

from controller.api import create_app
from controller.engine import Engine, EngineConfig
from controller.southbound.memory import MemorySouthbound
from controller.store import Store
from tests.intents_support import LiveServer, small_wan, wait_for

TOKEN = "test-token-for-loopback-only"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture()
def live(tmp_path: Path) -> Iterator[tuple[str, Engine, MemorySouthbound]]:
    store = Store(tmp_path / "api.db")
    south = MemorySouthbound()
    engine = Engine(small_wan(), store, south, time.time, config=EngineConfig(tick_s=3600))
    registry = CollectorRegistry()
    Counter("netpilot_test_total", "a test counter", registry=registry).inc()
    app = create_app(engine, TOKEN, registry=registry, run_engine=True, max_body_bytes=64 * 1024)
    with LiveServer(app) as base:
        yield base, engine, south
    store.close()


def voice(name: str = "br1-dc1-voice", **kw: Any) -> dict[str, Any]:
    return {
        "name": name,
        "src": "BR1",
        "dst": "DC1",
        "service_class": "voice",
        "bandwidth": "2M",
    } | kw


def state_of(base: str, name: str) -> str | None:
    r = httpx.get(f"{base}/v1/intents/{name}", headers=AUTH)
    return r.json()["state"] if r.status_code == 200 else None


def test_auth_is_required_except_health_and_metrics(live: tuple[str, Engine, Any]) -> None:
    base, _, _ = live
    assert httpx.get(f"{base}/healthz").status_code == 200
    assert wait_for(lambda: httpx.get(f"{base}/readyz").status_code == 200)
    assert "netpilot_test_total" in httpx.get(f"{base}/metrics").text
    assert httpx.get(f"{base}/v1/intents").status_code == 401
    wrong = {"Authorization": "Bearer not-the-token"}
    response = httpx.get(f"{base}/v1/intents", headers=wrong)
    assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
    assert httpx.get(f"{base}/v1/intents", headers={"Authorization": TOKEN}).status_code == 401
    assert httpx.get(f"{base}/v1/intents", headers=AUTH).status_code == 200


def test_create_status_and_delete(live: tuple[str, Engine, MemorySouthbound]) -> None:
    base, _, south = live
    r = httpx.post(f"{base}/v1/intents", json=voice(protection="path"), headers=AUTH)
    assert r.status_code == 201, r.text
    assert r.json()["version"] == 1
    assert wait_for(lambda: state_of(base, "br1-dc1-voice") == "verified")
    st = httpx.get(f"{base}/v1/intents/br1-dc1-voice/status", headers=AUTH).json()
    assert st["primary"]["nodes"][0] == "BR1" and st["primary"]["nodes"][-1] == "DC1"
    assert st["primary"]["sids"][-1] == "fcbb:bb00:1::1"  # DC1 is router 1
    assert st["backup"] is not None
    assert st["sla"]["asked"]["max_latency_ms"] == 150.0
    assert st["sla"]["planned"]["latency_ms"] <= 150.0
    assert st["sla"]["measured"] is None  # no telemetry here: nothing passed off as measured
    assert [h["state"] for h in st["history"]][-2:] == ["installed", "verified"]
    assert any(p.name == "br1-dc1-voice" for p in south.devices["BR1"].sr_policies)
    assert httpx.post(f"{base}/v1/intents", json=voice(), headers=AUTH).status_code == 409
    assert httpx.delete(f"{base}/v1/intents/br1-dc1-voice", headers=AUTH).status_code == 202
    assert wait_for(lambda: state_of(base, "br1-dc1-voice") is None)
    assert south.devices["BR1"].sr_policies == ()
    assert httpx.delete(f"{base}/v1/intents/br1-dc1-voice", headers=AUTH).status_code == 404
    revisions = httpx.get(f"{base}/v1/revisions", headers=AUTH).json()
    assert revisions[0]["status"] == "committed" and "delete" in revisions[0]["cause"]
    detail = httpx.get(f"{base}/v1/revisions/{revisions[0]['id']}", headers=AUTH).json()
    assert "BR1" in detail["configs"] and "BR1" in detail["diff"]


def test_put_is_idempotent_and_versioned(live: tuple[str, Engine, Any]) -> None:
    base, _, _ = live
    url = f"{base}/v1/intents/office-1"
    body = {"name": "office-1", "src": "HQ", "dst": "DC2", "bandwidth": "50M"}
    first = httpx.put(url, json=body, headers=AUTH).json()
    again = httpx.put(url, json=body, headers=AUTH).json()
    assert first["version"] == again["version"] == 1 and again["changed"] is False
    bumped = httpx.put(url, json=body | {"bandwidth": "60M", "version": 1}, headers=AUTH)
    assert bumped.status_code == 200 and bumped.json()["version"] == 2
    stale = httpx.put(url, json=body | {"bandwidth": "70M"}, headers=AUTH | {"If-Match": '"1"'})
    assert stale.status_code == 409 and "version 2" in stale.json()["detail"]


def test_two_clients_updating_the_same_intent_one_gets_409(live: tuple[str, Engine, Any]) -> None:
    base, _, _ = live
    url = f"{base}/v1/intents/race"
    body = {"name": "race", "src": "HQ", "dst": "DC1", "bandwidth": "10M"}
    assert httpx.put(url, json=body, headers=AUTH).status_code == 200
    version = httpx.get(url, headers=AUTH).json()["version"]
    barrier = threading.Barrier(2)
    codes: list[int] = []

    def client(bandwidth: str) -> None:
        with httpx.Client(headers=AUTH) as http:
            barrier.wait()
            r = http.put(url, json=body | {"bandwidth": bandwidth, "version": version})
            codes.append(r.status_code)

    threads = [threading.Thread(target=client, args=(bw,)) for bw in ("20M", "30M")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [200, 409]


def test_bad_bodies_name_the_field(live: tuple[str, Engine, Any]) -> None:
    base, _, _ = live
    r = httpx.post(f"{base}/v1/intents", json=voice(bandwidth="lots"), headers=AUTH)
    assert r.status_code == 422 and r.json()["detail"].startswith("bandwidth")
    r = httpx.post(f"{base}/v1/intents", json=voice(colour="red"), headers=AUTH)
    assert r.status_code == 422 and "colour" in r.json()["detail"]
    r = httpx.post(f"{base}/v1/intents", json=voice(service_class="gold"), headers=AUTH)
    assert r.status_code == 422 and "service_class" in r.json()["detail"]
    r = httpx.post(f"{base}/v1/intents", json=voice(dst="NOWHERE"), headers=AUTH)
    assert r.status_code == 422 and "NOWHERE" in r.json()["detail"]
    r = httpx.post(f"{base}/v1/intents", content=b"{not json", headers=AUTH)
    assert r.status_code == 422
    big = {"intents": [voice(f"n{i}", description="x" * 400) for i in range(200)]}
    assert httpx.post(f"{base}/v1/plan", json=big, headers=AUTH).status_code == 413


def test_apply_plan_and_what_if(live: tuple[str, Engine, MemorySouthbound]) -> None:
    base, engine, _ = live
    intents = [
        voice(),
        {
            "name": "dc-repl",
            "src": "DC1",
            "dst": "DC2",
            "service_class": "bigdata",
            "bandwidth": "2G",
        },
    ]
    plan = httpx.post(f"{base}/v1/plan", json={"intents": intents}, headers=AUTH).json()
    assert {c["action"] for c in plan["changes"]} == {"create"}
    assert "BR1" in plan["devices"] and "DC1" in plan["devices"]
    assert httpx.get(f"{base}/v1/intents", headers=AUTH).json() == []  # plan touched nothing
    applied = httpx.post(f"{base}/v1/apply", json={"intents": intents}, headers=AUTH).json()
    assert [c["action"] for c in applied["changes"]] == ["create", "create"]
    assert wait_for(lambda: state_of(base, "dc-repl") == "verified")
    again = httpx.post(
        f"{base}/v1/plan", json={"intents": intents[:1], "prune": True}, headers=AUTH
    )
    actions = {c["name"]: c["action"] for c in again.json()["changes"]}
    assert actions == {"br1-dc1-voice": "unchanged", "dc-repl": "delete"}
    what_if = httpx.post(
        f"{base}/v1/paths:compute",
        json={"src": "HQ", "dst": "DC2", "bandwidth": "1G"},
        headers=AUTH,
    ).json()
    assert what_if["placed"] and what_if["primary"]["nodes"][0] == "HQ"
    too_big = httpx.post(
        f"{base}/v1/paths:compute",
        json={"src": "BR1", "dst": "DC2", "bandwidth": "1G"},
        headers=AUTH,
    ).json()
    assert too_big["placed"] is False and too_big["reason"]
    topo = httpx.get(f"{base}/v1/topology", headers=AUTH).json()
    assert len(topo["nodes"]) == len(engine.topology.nodes)


def test_streamed_body_over_the_limit_gets_413(live: tuple[str, Engine, Any]) -> None:
    base, _, _ = live

    def chunks() -> Iterator[bytes]:
        yield b'{"intents": ['
        for i in range(2000):
            yield b'{"name": "n%d", "src": "HQ", "dst": "DC1"},' % i
        yield b'{"name": "last", "src": "HQ", "dst": "DC1"}]}'

    r = httpx.post(f"{base}/v1/plan", content=chunks(), headers=AUTH)  # chunked, no length
    assert r.status_code == 413 and "split" in r.json()["detail"]


def test_token_file_is_created_private_and_refused_when_shared(tmp_path: Path) -> None:
    from controller.auth import load_or_create_token
    from controller.errors import UsageError

    path = tmp_path / "cfg" / "api-token"
    token = load_or_create_token({}, path)
    assert len(token) >= 32 and path.stat().st_mode & 0o777 == 0o600
    assert load_or_create_token({}, path) == token  # stable across restarts
    assert load_or_create_token({"NETPILOT_API_TOKEN": "from-env"}, path) == "from-env"
    path.chmod(0o644)
    with pytest.raises(UsageError, match="chmod 600"):
        load_or_create_token({}, path)
