"""A real Prometheus scrapes `netpilot controller run` (its telemetry read over NETCONF from
`netpilot network run`, a separate process); every PromQL query of the dashboard and the alert
rules must return data. Also `promtool check rules/config` and `promtool check metrics`.

Debian's `prometheus` package is installed by `make test` (Makefile APT_PACKAGES): a missing
binary is a failure here, not a skip.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from commands.livedemo import LiveDemo, LiveSpec
from commands.ports import listen_port

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
RULES = DEPLOY / "rules" / "netpilot-alerts.yml"
DASHBOARD = DEPLOY / "grafana" / "netpilot.json"
DEADLINE_S = 90.0

EVENTS = [
    # 200 ms more on each of BR1's three uplinks: no path can meet br1-dc1-voice's 150 ms bound,
    # so the controller cannot heal it and the SLA alert must fire
    *(
        {
            "kind": "degrade",
            "link": link,
            "signal": "latency",
            "at": 0,
            "ramp": "10s",
            "amount": "200ms",
            "shape": "plateau",
        }
        for link in ("BR1-P-SH", "BR1-VPN-PE", "BR1-INET-GW")
    ),
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
    return listen_port()


def dashboard_queries() -> list[str]:
    doc = json.loads(DASHBOARD.read_text())
    return [t["expr"] for p in doc["panels"] for t in p.get("targets", [])]


def rule_queries() -> list[str]:
    doc = yaml.safe_load(RULES.read_text())
    # the netpilot-gnmi group's alerts are about trouble a healthy run does not have: they are
    # unit-tested with promtool (deploy/rules/netpilot-gnmi-alerts.test.yml) instead
    return [r["expr"] for g in doc["groups"] if g["name"] == "netpilot" for r in g["rules"]]


def test_promtool_checks_rules_and_config() -> None:
    promtool = _binary("promtool")
    for args in (
        ["check", "rules", str(RULES)],
        ["check", "config", str(DEPLOY / "prometheus.yml")],
        ["test", "rules", str(DEPLOY / "rules" / "netpilot-gnmi-alerts.test.yml")],
    ):
        out = subprocess.run([promtool, *args], check=False, capture_output=True, timeout=60)
        assert out.returncode == 0, out.stdout.decode() + out.stderr.decode()


@pytest.fixture(scope="module")
def controller(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`netpilot controller run --inventory` on bank-wan against `netpilot network run` (two
    processes, NETCONF between them), the bank intents applied over the REST API; the network
    runs its busiest link over capacity (mean 1.5x at gravity peak), with the faults above."""
    tmp = tmp_path_factory.mktemp("controller")
    plan = tmp / "faults.yaml"
    plan.write_text(yaml.safe_dump({"name": "prometheus", "events": EVENTS}))
    spec = LiveSpec(work=tmp, speed=10, sample_s=10, scenario=plan, network_args=("--load", "1.5"))
    with LiveDemo(spec) as live:
        yield live.base.removeprefix("http://")


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
    # each alert goes pending or firing under its fault (a live controller heals some of them
    # again, so each is watched until seen active, not required active at one instant)
    seen: set[str] = set()

    def all_seen_active() -> bool:
        groups = httpx.get(f"{prometheus}/api/v1/rules", timeout=5).json()["data"]["groups"]
        seen.update(r["name"] for r in groups[0]["rules"] if r["state"] in {"pending", "firing"})
        return len(seen) == len(rules)

    _wait(all_seen_active, "every alert rule to go pending or firing")


def test_controller_metrics_pass_promtool_check_metrics(controller: str) -> None:
    promtool = _binary("promtool")
    text = httpx.get(f"http://{controller}/metrics", timeout=10).text
    for name in ("netpilot_engine_round_errors_total", "netpilot_telemetry_round_seconds_bucket",
                 "netpilot_telemetry_device_age_seconds", "netpilot_intents"):  # fmt: skip
        assert name in text, name
    out = subprocess.run(
        [promtool, "check", "metrics"],
        input=text.encode(),
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stdout.decode() + out.stderr.decode()
