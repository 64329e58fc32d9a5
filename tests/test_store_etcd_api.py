"""The REST API on the etcd store (issue 16): the API tests of tests/test_intent_api.py that
touch the store run again here with their `live` fixture on etcd, so 201/409/404/202 and the
engine's rounds behave the same on both backends; then what the etcd backend adds: losing etcd
answers 503 (never a silent loss) and recovers, and a bad or unreachable `--store` at start is
one line naming it, exit 2."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry

from bench.etcd_proc import EtcdServer, free_port
from controller.api import create_app
from controller.engine import Engine, EngineConfig
from controller.southbound.memory import MemorySouthbound
from controller.store_open import open_etcd
from tests.cli_inprocess import run_cli
from tests.intents_support import LiveServer, small_wan, wait_for
from tests.test_intent_api import (  # the same tests, collected again with the fixture below
    AUTH,
    TOKEN,
    test_apply_plan_and_what_if,
    test_create_status_and_delete,
    test_put_is_idempotent_and_versioned,
    test_two_clients_updating_the_same_intent_one_gets_409,
)

__all__ = [
    "test_apply_plan_and_what_if",
    "test_create_status_and_delete",
    "test_put_is_idempotent_and_versioned",
    "test_two_clients_updating_the_same_intent_one_gets_409",
]


@pytest.fixture(scope="module")
def etcd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtcdServer]:
    server = EtcdServer(tmp_path_factory.mktemp("etcd") / "data")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture()
def live(etcd: EtcdServer) -> Iterator[tuple[str, Engine, MemorySouthbound]]:
    """tests/test_intent_api.py's fixture, on a fresh prefix of the module's etcd."""
    store = open_etcd(etcd.store_url())
    south = MemorySouthbound()
    engine = Engine(small_wan(), store, south, time.time, config=EngineConfig(tick_s=3600))
    app = create_app(engine, TOKEN, registry=CollectorRegistry(), run_engine=True)
    with LiveServer(app) as base:
        yield base, engine, south
    store.close()


def test_losing_etcd_answers_503_and_recovers(tmp_path: Path) -> None:
    server = EtcdServer(tmp_path / "data")
    server.start()
    store = open_etcd(server.store_url())
    engine = Engine(small_wan(), store, MemorySouthbound(), time.time)
    app = create_app(engine, TOKEN, registry=CollectorRegistry(), run_engine=True)
    body = {"name": "o1", "src": "HQ", "dst": "DC2", "bandwidth": "5M"}
    try:
        with LiveServer(app) as base, httpx.Client(base_url=base, headers=AUTH) as http:
            assert http.put("/v1/intents/o1", json=body).status_code == 200
            server.stop()
            down = http.put("/v1/intents/o2", json=body | {"name": "o2"})
            assert down.status_code == 503, down.text
            assert server.endpoint in down.json()["detail"]
            assert down.headers["retry-after"]
            assert http.get("/v1/intents/o1").status_code == 503
            server.start()  # same data directory: what was acknowledged is there
            assert wait_for(lambda: http.get("/v1/intents/o1").status_code == 200)
            assert http.get("/v1/intents/o1").json()["version"] == 1
            assert http.put("/v1/intents/o2", json=body | {"name": "o2"}).status_code == 200
    finally:
        store.close()
        server.stop()


def test_unreachable_etcd_at_start_is_one_line_exit_2() -> None:
    port = free_port()  # nothing listens there
    out = run_cli(
        "controller", "run", "--topology", "bank-wan", "--store", f"etcd://127.0.0.1:{port}"
    )  # a real `controller run --store` process: tests/test_ha_chaos.py
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and f"127.0.0.1:{port}" in lines[0], out.stderr
    assert "connection refused" in lines[0] and "Traceback" not in out.stderr


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--store", "etcd://localhost"], "--store (or NETPILOT_STORE): write etcd://HOST:PORT"),
        (["--store", "redis://x:1"], "--store (or NETPILOT_STORE): write etcd://HOST:PORT"),
        ([], "--db (or NETPILOT_DB): missing"),
    ],
)
def test_bad_store_flags_name_the_flag(args: list[str], expected: str) -> None:
    out = run_cli("controller", "run", "--topology", "bank-wan", *args)
    assert out.returncode == 2, out.stderr
    assert expected in out.stderr and "Traceback" not in out.stderr, out.stderr


def test_run_help_shows_the_store_flags() -> None:
    out = run_cli("controller", "run", "--help")
    assert out.returncode == 0, out.stderr
    for flag in ("--store", "--lease-ttl", "--replica-id", "NETPILOT_STORE", "Example:"):
        assert flag in out.stdout, flag
