"""Exporter: names, labels, bounded cardinality; `promtool check metrics` on the real output."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from simnets import DIAMOND, static, topo

from harness.netsim import NetworkSimulator
from harness.routing import LinkIndex
from harness.scenario import parse_scenario
from harness.simrun import SimRuntime
from telemetry.exporter import IntentSla, NetpilotMetrics
from telemetry.processor import LinkTelemetry

SCENARIO = {
    "intents": [
        {"name": "pay", "src": "a", "dst": "d", "service_class": "voice", "max_latency": "1ms"}
    ],
    "events": [
        {"kind": "degrade", "link": "a-b", "signal": "rx_power", "at": 0, "ramp": "1m", "amount": 9}
    ],
}


def _exposition() -> tuple[bytes, NetpilotMetrics]:
    registry = CollectorRegistry()
    metrics = NetpilotMetrics(registry)
    index = LinkIndex(topo("t", DIAMOND))
    sim = NetworkSimulator(
        index,
        static(index, [("a", "d", "office", 5e9)]),
        rng=np.random.default_rng(0),
        scenario=parse_scenario(SCENARIO),
    )
    rt = SimRuntime(sim, metrics)
    for _ in range(8):
        rt.tick()
    metrics.record_transaction(0.3, "committed")
    metrics.record_transaction(1.2, "failed")
    metrics.path_changes.labels("pay").inc()
    return generate_latest(registry), metrics


def test_families_and_labels() -> None:
    text, _ = _exposition()
    families = {f.name: f for f in text_string_to_metric_families(text.decode())}
    for name in (
        "netpilot_link_utilization_ratio",
        "netpilot_link_class_loss_ratio",
        "netpilot_link_delay_seconds",
        "netpilot_intent_sla_met",
        "netpilot_intent_latency_seconds",
        "netpilot_intent_jitter_seconds",
        "netpilot_transactions",
        "netpilot_transaction_duration_seconds",
        "netpilot_telemetry_collection_duration_seconds",
        "netpilot_link_fault_risk_ratio",
        "netpilot_link_utilization_forecast_ratio",
        "netpilot_intent_path_changes",
    ):
        assert name in families, name
    util = families["netpilot_link_utilization_ratio"].samples
    assert {s.labels["link"] for s in util} == {"a-b", "a-c", "b-d", "c-d"}
    assert all(set(s.labels) == {"link", "src", "dst"} for s in util)
    sla = families["netpilot_intent_sla_met"].samples
    assert [(s.labels["intent"], s.value) for s in sla] == [("pay", 0.0)]  # 2 ms path > 1 ms
    risk = {
        (s.labels["src"], s.labels["link"]): s.value
        for s in families["netpilot_link_fault_risk_ratio"].samples
    }
    assert risk[("a", "a-b")] > 0.5 > risk[("a", "a-c")]
    tx = {
        s.labels["outcome"]: s.value
        for s in families["netpilot_transactions"].samples
        if s.name == "netpilot_transactions_total"
    }
    assert tx == {"committed": 1.0, "failed": 1.0, "rolled_back": 0.0}


def test_cardinality_is_bounded() -> None:
    registry = CollectorRegistry()
    metrics = NetpilotMetrics(registry, max_series=10)
    metrics.set_links(LinkTelemetry(f"l{i}", "a", "b", utilisation=0.1) for i in range(50))
    metrics.set_intents(IntentSla(f"i{i}", True) for i in range(30))
    families = {
        f.name: f for f in text_string_to_metric_families(generate_latest(registry).decode())
    }
    assert len(families["netpilot_link_utilization_ratio"].samples) == 10
    assert families["netpilot_exporter_series_dropped"].samples[0].value == (50 - 10) * 2 + 20


def test_bad_outcome_is_refused() -> None:
    metrics = NetpilotMetrics(CollectorRegistry())
    with pytest.raises(ValueError, match="outcome"):
        metrics.record_transaction(1.0, "maybe")


def test_promtool_check_metrics_is_clean() -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool missing: `make test` installs Debian's prometheus package"
    text, _ = _exposition()
    out = subprocess.run(
        [promtool, "check", "metrics"], check=False, input=text, capture_output=True, timeout=60
    )
    assert out.returncode == 0, out.stdout.decode() + out.stderr.decode()
    assert not out.stdout.strip() and not out.stderr.strip(), (
        out.stdout.decode() + out.stderr.decode()
    )
