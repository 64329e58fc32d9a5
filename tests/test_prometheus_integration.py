"""A real Prometheus scrapes the exporter of a running simulation; every PromQL query of the
dashboard and the alert rules must return data. Also `promtool check rules/config`.

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
import yaml
from prometheus_client import CollectorRegistry, start_http_server

from controller.desired import CandidatePath, DeviceConfig, SegmentList, SrPolicy
from harness.netsim import NetworkSimulator
from harness.routing import LinkIndex
from harness.scenario import parse_scenario
from harness.simrun import SimRuntime
from harness.traffic import GravityTraffic
from telemetry.exporter import NetpilotMetrics
from topologies.loader import load as load_topology

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
RULES = DEPLOY / "rules" / "netpilot-alerts.yml"
DASHBOARD = DEPLOY / "grafana" / "netpilot.json"
DEADLINE_S = 90.0

SCENARIO = {
    "intents": [
        {"name": "trading", "src": "0", "dst": "9", "service_class": "voice", "max_latency": "1ms"},
        {"name": "payments", "src": "1", "dst": "14", "max_latency": "50ms"},
    ],
    "events": [
        {
            "kind": "degrade",
            "link": "0-2",
            "signal": "rx_power",
            "at": "30s",
            "ramp": "30s",
            "amount": 9,
        },
        {"kind": "flap", "link": "1-6", "at": "1m", "period": "40s", "count": 1000},
    ],
}


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


@pytest.fixture(scope="module")
def exporter() -> Iterator[str]:
    """A simulation on GEANT stepping in the background, its metrics on a loopback port."""
    registry = CollectorRegistry()
    metrics = NetpilotMetrics(registry)
    index = LinkIndex(load_topology("geant"))
    rng = np.random.default_rng(5)
    sim = NetworkSimulator(
        index,
        GravityTraffic(index, rng, total_bps=150e9, n_flows=600),
        rng=rng,
        scenario=parse_scenario(SCENARIO),
    )
    runtime = SimRuntime(sim, metrics)
    server, thread = start_http_server(0, addr="127.0.0.1", registry=registry)
    stop = threading.Event()
    sid = index.topology.node("4").node_sid
    policy = SrPolicy(1, "9", "via-4", (CandidatePath("c", 100, (SegmentList("s", (sid,)),)),))

    def run() -> None:
        n = 0
        while not stop.is_set():
            runtime.tick()
            n += 1
            if n % 20 == 10:  # a transaction now and then: install or withdraw a policy
                on = (n // 20) % 2 == 0
                runtime.apply({"0": DeviceConfig("0", sr_policies=(policy,) if on else ())})
            stop.wait(0.1)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    yield f"127.0.0.1:{server.server_port}"
    stop.set()
    worker.join(timeout=10)
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def prometheus(exporter: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = _binary("prometheus")
    tmp = tmp_path_factory.mktemp("prometheus")
    config = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    config["rule_files"] = [str(RULES)]
    config["scrape_configs"] = [
        {**config["scrape_configs"][0], "static_configs": [{"targets": [exporter]}]}
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
    assert len(util) == 72, "one series per directed GEANT link"
    rules = httpx.get(f"{prometheus}/api/v1/rules", timeout=5).json()["data"]["groups"][0]["rules"]
    assert {r["name"] for r in rules} == {
        "NetpilotIntentSlaViolated",
        "NetpilotLinkNearSaturation",
        "NetpilotFaultPredicted",
    }
    assert all(r["health"] == "ok" for r in rules)
    assert all(r["state"] in {"pending", "firing"} for r in rules)
