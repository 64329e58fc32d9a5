"""The running controller's own series, read at scrape time: engine rounds and their errors,
verification and drift, intents by state, telemetry rounds and each device's staleness.

They join the exporter's link, queue, intent, forecast and transaction series
(`telemetry.exporter.NetpilotMetrics`) on the same registry, which `/metrics` serves.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from controller.engine import Engine
from controller.intents import IntentState
from controller.runtime.live import LiveTelemetry

ROUND_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
ENGINE_COUNTERS = (
    ("rounds", "netpilot_engine_rounds", "Reconcile rounds run."),
    ("round_errors", "netpilot_engine_round_errors", "Reconcile rounds that raised."),
    ("verify_ok", "netpilot_verify_ok", "Devices read back holding what was pushed."),
    ("verify_failures", "netpilot_verify_failures", "Read-backs that differed or failed."),
    ("drift_checks", "netpilot_drift_checks", "Drift checks over every device."),
    ("drift_found", "netpilot_drift_found", "Devices found drifted from the last revision."),
    ("drift_repaired", "netpilot_drift_repaired", "Drifted devices repaired by a transaction."),
    ("drift_unreadable", "netpilot_drift_unreadable", "Devices a drift check could not read."),
    ("verify_gave_up", "netpilot_verify_gave_up", "Devices given up on after failed read-backs."),
    ("transactions", "netpilot_engine_transactions", "Transactions the engine started."),
    ("transaction_failures", "netpilot_engine_transaction_failures", "Transactions not committed."),
    (
        "superseded",
        "netpilot_engine_superseded_writes",
        "Round state writes skipped: the intent changed meanwhile (the API write wins).",
    ),
)


class RuntimeMetrics:
    def __init__(
        self,
        registry: CollectorRegistry,
        engine: Engine,
        live: Callable[[], LiveTelemetry | None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        self.live = live
        self.clock = clock
        self.round_seconds = Histogram(
            "netpilot_telemetry_round_seconds",
            "Wall time of one telemetry round (collect, process, models, signals).",
            buckets=ROUND_BUCKETS,
            registry=registry,
        )
        registry.register(_Collector(self))

    def observe_round(self, seconds: float) -> None:
        self.round_seconds.observe(seconds)


class _Collector:
    def __init__(self, owner: RuntimeMetrics) -> None:
        self.owner = owner

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        yield from _engine_families(self.owner.engine)
        live = self.owner.live()
        if live is not None:
            yield from _telemetry_families(live, self.owner.clock())


def _engine_families(engine: Engine) -> Iterator[Metric]:
    for attr, name, doc in ENGINE_COUNTERS:
        yield CounterMetricFamily(name, doc, value=float(getattr(engine.stats, attr)))
    yield GaugeMetricFamily(
        "netpilot_engine_consecutive_errors", "Reconcile rounds failed in a row.",
        value=float(engine.stats.consecutive_errors),
    )  # fmt: skip
    ready, _ = engine.health()
    yield GaugeMetricFamily(
        "netpilot_engine_ready", "1 while the engine is ready (/readyz).", value=float(ready)
    )
    states = Counter(r.state.value for r in engine.store.list_intents())
    intents = GaugeMetricFamily("netpilot_intents", "Intents by lifecycle state.", labels=["state"])
    for state in IntentState:
        intents.add_metric([state.value], float(states.get(state.value, 0)))
    yield intents
    yield GaugeMetricFamily(
        "netpilot_links_avoided", "Links the engine keeps traffic off (risk or forecast).",
        value=float(len({a.link for a in engine.avoid.values()})),
    )  # fmt: skip


def _telemetry_families(live: LiveTelemetry, now: float) -> Iterator[Metric]:
    s = live.stats
    yield CounterMetricFamily(
        "netpilot_telemetry_rounds", "Telemetry rounds run.", value=float(s.rounds)
    )
    yield CounterMetricFamily(
        "netpilot_telemetry_round_errors", "Telemetry rounds that raised.",
        value=float(s.round_errors),
    )  # fmt: skip
    yield CounterMetricFamily(
        "netpilot_telemetry_inference_skipped",
        "Rounds whose model inference was skipped: the previous one still ran.",
        value=float(s.inference_skipped),
    )
    signals = CounterMetricFamily(
        "netpilot_telemetry_signals", "Signals handed to the engine by kind.", labels=["kind"]
    )
    for kind, count in sorted(s.signals.items()):
        signals.add_metric([kind], float(count))
    yield signals
    yield GaugeMetricFamily(
        "netpilot_telemetry_step_seconds",
        "Device-clock seconds between the last two telemetry samples (the models' step).",
        value=s.step_s,
    )
    stale = GaugeMetricFamily(
        "netpilot_telemetry_device_stale", "1 while a device is stale.", labels=["device"]
    )
    age = GaugeMetricFamily(
        "netpilot_telemetry_device_age_seconds",
        "Seconds since the device last answered a telemetry round (telemetry lag).",
        labels=["device"],
    )
    for name, health in sorted(live.devices.items()):
        stale.add_metric([name], 1.0 if health.stale else 0.0)
        if health.last_ok is not None:
            age.add_metric([name], max(0.0, now - health.last_ok))
    yield stale
    yield age
