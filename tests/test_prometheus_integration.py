"""A real Prometheus scrapes the controller's /metrics (API + engine + store, its southbound a
running simulation); every PromQL query of the dashboard and the alert rules must return data.
Also `promtool check rules/config`.

Debian's `prometheus` package is installed by `make test` (Makefile APT_PACKAGES): a missing
binary is a failure here, not a skip.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import uvicorn
import yaml
from prometheus_client import CollectorRegistry

from controller.api import create_app
from controller.engine import Engine, EngineConfig
from controller.intentfile import load_intents
from controller.store import Store
from harness.build import peak_utilisation
from harness.netsim import NetworkSimulator
from harness.probes import watch_intents
from harness.routing import LinkIndex
from harness.scenario import Scenario, parse_scenario
from harness.simrun import SimRuntime
from harness.simsouthbound import SimSouthbound
from harness.traffic import GravityTraffic
from telemetry.exporter import NetpilotMetrics
from telemetry.metered import MeteredSouthbound
from topologies.loader import load

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
RULES = DEPLOY / "rules" / "netpilot-alerts.yml"
DASHBOARD = DEPLOY / "grafana" / "netpilot.json"
DEADLINE_S = 90.0

EVENTS = [
    # 200 ms more on BR1's access link: br1-dc1-voice (150 ms bound) violates its SLA
    {
        "kind": "degrade",
        "link": "BR1-P-SH",
        "signal": "latency",
        "at": 0,
        "ramp": "10s",
        "amount": "200ms",
        "shape": "plateau",
    },
    # optics decaying on a core link: the fault-risk gauge rises
    {
        "kind": "degrade",
        "link": "P-SH-P-WH",
        "signal": "rx_power",
        "at": "30s",
        "ramp": "30s",
        "amount": 9,
    },
    {"kind": "flap", "link": "P-BJ1-P-WH", "at": "1m", "period": "40s", "count": 1000},
]


def _binary(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} not found: `make test` installs Debian's prometheus package"
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def dashboard_queries() -> list[str]:
    doc = json.loads(DASHBOARD.read_text())
    return [t["expr"] for p in doc["panels"] for t in p.get("targets", [])]


def rule_queries() -> list[str]:
    doc = yaml.safe_load(RULES.read_text())
    return [r["expr"] for g in doc["groups"] for r in g["rules"]]


def test_promtool_checks_rules_and_config() -> None:
    promtool = _binary("promtool")
    for args in (
        ["check", "rules", str(RULES)],
        ["check", "config", str(DEPLOY / "prometheus.yml")],
    ):
        out = subprocess.run([promtool, *args], check=False, capture_output=True, timeout=60)
        assert out.returncode == 0, out.stdout.decode() + out.stderr.decode()


def _serve(app: object, port: int) -> tuple[uvicorn.Server, threading.Thread]:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    return server, thread


@pytest.fixture(scope="module")
def controller(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The controller (API, engine, store) on bank-wan; its southbound is a running simulation
    whose telemetry feeds the controller's /metrics. Intents from bank-wan.intents.yaml."""
    tmp = tmp_path_factory.mktemp("controller")
    registry = CollectorRegistry()
    metrics = NetpilotMetrics(registry)
    topology = load("bank-wan")
    intents = load_intents(ROOT / "topologies" / "bank-wan.intents.yaml")
    index = LinkIndex(topology)
    rng = np.random.default_rng(5)
    traffic = GravityTraffic(index, rng, total_bps=1e9, n_flows=600, diurnal_amplitude=0.0)
    traffic.rescale(1.0 / peak_utilisation(index, traffic))  # the busiest link runs full
    scenario = Scenario(
        intents=watch_intents(intents), events=parse_scenario({"events": EVENTS}).events
    )
    sim = NetworkSimulator(index, traffic, rng=rng, scenario=scenario)
    runtime = SimRuntime(sim, metrics)
    store = Store(tmp / "netpilot.db")
    store.apply_intents(intents, actor="test")
    southbound = MeteredSouthbound(SimSouthbound(sim), metrics)
    engine = Engine(topology, store, southbound, time.time, config=EngineConfig(tick_s=3600))
    app = create_app(engine, "integration-test-token", registry=registry, run_engine=True)
    port = _free_port()
    server, thread = _serve(app, port)
    url = f"http://127.0.0.1:{port}"
    stop = threading.Event()

    def run() -> None:
        while not stop.is_set():
            runtime.tick()
            stop.wait(0.1)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    try:
        _wait(lambda: httpx.get(f"{url}/readyz", timeout=2).status_code == 200, "controller")
        yield f"127.0.0.1:{port}"
    finally:
        stop.set()
        worker.join(timeout=10)
        server.should_exit = True
        thread.join(timeout=10)
        store.close()


@pytest.fixture(scope="module")
def prometheus(controller: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = _binary("prometheus")
    tmp = tmp_path_factory.mktemp("prometheus")
    config = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    config["rule_files"] = [str(RULES)]
    config["scrape_configs"] = [
        {**config["scrape_configs"][0], "static_configs": [{"targets": [controller]}]}
    ]
    (tmp / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = _free_port()
    log = (tmp / "prometheus.log").open("w")
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={tmp / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(lambda: httpx.get(f"{url}/-/ready", timeout=2).status_code == 200, "ready")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _wait(check: object, what: str, deadline: float = DEADLINE_S) -> None:
    end = time.monotonic() + deadline
    last: Exception | None = None
    while time.monotonic() < end:
        try:
            if check():  # type: ignore[operator]
                return
        except httpx.HTTPError as error:
            last = error
        time.sleep(0.25)  # polling interval, not a blind wait: we return as soon as it holds
    raise AssertionError(f"timed out waiting for {what} ({last})")


def _query(url: str, expr: str) -> list[dict[str, object]]:
    r = httpx.get(f"{url}/api/v1/query", params={"query": expr}, timeout=5)
    body = r.json()
    assert body["status"] == "success", f"{expr}: {body}"
    return list(body["data"]["result"])


def test_every_dashboard_and_rule_query_returns_data(prometheus: str) -> None:
    _wait(lambda: _query(prometheus, "netpilot_link_utilization_ratio"), "first series")
    missing = set(dashboard_queries()) | set(rule_queries())

    def all_answer() -> bool:
        for expr in sorted(missing):
            if _query(prometheus, expr):
                missing.discard(expr)
        return not missing

    try:
        _wait(all_answer, "every query to return data")
    except AssertionError as error:
        raise AssertionError(f"{error}: still empty: {sorted(missing)}") from None
    util = _query(prometheus, "netpilot_link_utilization_ratio")
    assert len(util) == 80, "one series per directed bank-wan link"
    committed = _query(prometheus, 'netpilot_transactions_total{outcome="committed"}')
    assert float(committed[0]["value"][1]) >= 1, "the engine installed the intents"  # type: ignore[index]
    violated = _query(prometheus, "netpilot_intent_sla_met == 0")
    assert "br1-dc1-voice" in {r["metric"]["intent"] for r in violated}  # type: ignore[index]
    rules = httpx.get(f"{prometheus}/api/v1/rules", timeout=5).json()["data"]["groups"][0]["rules"]
    assert {r["name"] for r in rules} == {
        "NetpilotIntentSlaViolated",
        "NetpilotLinkNearSaturation",
        "NetpilotFaultPredicted",
    }
    assert all(r["health"] == "ok" for r in rules)
    assert all(r["state"] in {"pending", "firing"} for r in rules)
