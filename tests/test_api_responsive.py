"""The API never blocks: the token is checked before a byte of the body is read, and health
checks, reads and writes are answered while a big plan runs (its parsing, planning and JSON
run off the event loop). No timing is asserted: the plan's answer must simply come after the
others. bench/api_latency.py measures the latencies (docs/BENCHMARKS.md)."""

from __future__ import annotations

import gc
import itertools
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from controller.api import create_app
from controller.api_work import PlanMode, Work
from controller.engine import Engine, EngineConfig
from controller.intents import Intent
from controller.southbound.memory import MemorySouthbound
from controller.store import Store
from tests.intents_support import LiveServer, wait_for
from topologies.loader import load

TOKEN = "responsive-test-token-loopback-only"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[tuple[str, Work]]:
    store = Store(tmp_path / "api.db")
    store.put_intent(Intent.model_validate({"name": "seed", "src": "HQ", "dst": "DC1"}))
    engine = Engine(load("bank-wan"), store, MemorySouthbound(), time.time,
                    config=EngineConfig(tick_s=3600))  # fmt: skip
    work = Work()
    with LiveServer(create_app(engine, TOKEN, run_engine=True, work=work)) as base:
        yield base, work
    store.close()


def raw_request(base: str, head: str) -> str:
    """Send only a request head (no body) on a raw socket; return the status line answered."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=20) as sock:
        sock.sendall(head.encode())
        return sock.recv(4096).decode(errors="replace").splitlines()[0]


def test_the_token_is_checked_before_the_body_is_read(server: tuple[str, Work]) -> None:
    base, _ = server
    head = (
        "POST /v1/plan HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "Content-Length: 8000000\r\n{auth}\r\n"
    )
    # announces 8 MB and sends none of it: the answer can only come from the headers
    assert raw_request(base, head.format(auth="")) == "HTTP/1.1 401 Unauthorized"
    wrong = "Authorization: Bearer not-it\r\n"
    assert raw_request(base, head.format(auth=wrong)) == "HTTP/1.1 401 Unauthorized"
    too_big = head.replace("8000000", "9000000").format(
        auth=f"Authorization: {AUTH['Authorization']}\r\n"
    )
    assert raw_request(base, too_big) == "HTTP/1.1 413 Request Entity Too Large"
    body = b'{"intents": [' + b" " * (8 * 1024 * 1024 - 20) + b"]}"
    refused = httpx.post(f"{base}/v1/plan", content=body, timeout=30)  # sent in full, unread
    assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
    assert httpx.get(f"{base}/healthz").status_code == 200  # and the server carries on


def plan_body(count: int) -> bytes:
    nodes = sorted(load("bank-wan").nodes)
    pairs = itertools.cycle([(a, b) for a in nodes for b in nodes if a != b])
    chosen = enumerate(itertools.islice(pairs, count))
    intents = [{"name": f"p{k}", "src": a, "dst": b} for k, (a, b) in chosen]
    return json.dumps({"intents": intents, "prune": True}).encode()


def test_health_reads_and_writes_answer_while_a_big_plan_runs(server: tuple[str, Work]) -> None:
    base, work = server
    body = plan_body(30_000)
    answer: dict[str, Any] = {}
    done = threading.Event()

    def plan() -> None:
        response = httpx.post(f"{base}/v1/plan", content=body, headers=AUTH, timeout=600)
        answer["plan"] = response
        done.set()

    thread = threading.Thread(target=plan)
    thread.start()
    assert wait_for(lambda: work.planning == 1, timeout=30)  # admitted, body on its way in
    answered = []
    with httpx.Client(base_url=base, headers=AUTH, timeout=60) as http:
        for _ in range(3):
            answered.append(http.get("/healthz").status_code)
            answered.append(http.get("/readyz").status_code)
            answered.append(http.get("/v1/intents/seed").status_code)
            answered.append(http.get("/v1/intents").status_code)
        put = {"name": "during", "src": "BR1", "dst": "DC2", "bandwidth": "1M"}
        answered.append(http.put("/v1/intents/during", json=put).status_code)
        still_planning = not done.is_set()
    thread.join()
    assert answered == [200] * 13
    assert still_planning, "the plan answered before the others: it ran too fast to tell"
    result = answer["plan"]
    assert result.status_code == 200, result.text[:300]
    assert len(result.json()["changes"]) >= 30_000


def test_bench_api_latency_runs_and_reports_its_figures() -> None:
    """bench/api_latency.py end to end with tiny parameters (figures in docs/BENCHMARKS.md)."""
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "api_latency.py"), "--seconds", "1",
         "--writers", "2", "--intents", "300", "--poll", "0.05", "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    assert "Traceback" not in out.stderr
    r = json.loads(out.stdout)
    assert r["machine"]["nproc"] >= 1 and r["topology"] == "bank-wan"
    w, p = r["writers"], r["plan"]
    assert w["writers"] == 2 and w["requests"] > 0 and w["errors"] == {}
    for kind in ("put", "get", "list"):
        f = w[kind]
        assert f["n"] >= 1 and 0 < f["p50_ms"] <= f["p99_ms"] <= f["max_ms"]
    assert p["intents"] == 300 and p["status"] == 200 and p["errors"] == {}
    assert p["changes"] >= 300 and p["plan_s"] > 0
    for kind in ("healthz", "get"):
        f = p[kind]
        assert f["n"] >= 1 and f["p50_ms"] <= f["p99_ms"] <= f["max_ms"]
        assert f["p99_corrected_ms"] >= f["p99_ms"]


def test_plan_mode_pauses_gc_and_shortens_the_switch_interval_until_the_last_plan_leaves() -> None:
    before_interval, before_gc = sys.getswitchinterval(), gc.isenabled()
    mode = PlanMode(switch_interval_s=0.0007)
    try:
        with mode:
            assert sys.getswitchinterval() == pytest.approx(0.0007) and not gc.isenabled()
            with mode:  # a second plan at the same time
                pass
            assert sys.getswitchinterval() == pytest.approx(0.0007) and not gc.isenabled()
        assert sys.getswitchinterval() == before_interval and gc.isenabled() == before_gc
    finally:
        sys.setswitchinterval(before_interval)
        if before_gc:
            gc.enable()
