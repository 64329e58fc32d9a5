"""Prometheus metrics of the controller, on a `CollectorRegistry` passed in (never the global one).

Link, intent, forecast and risk gauges are rendered at scrape time from the latest snapshots the
controller hands in (`set_links`, `set_intents`, ...), so series of links or intents that vanish
disappear instead of going stale. Label values come from the topology and the intent list only
(bounded); beyond `max_series` per family the rest is left out and counted in
`netpilot_exporter_series_dropped`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from telemetry.processor import LinkTelemetry

TRANSACTION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
COLLECTION_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
OUTCOMES = ("committed", "failed", "rolled_back")
LINK_LABELS = ["link", "src", "dst"]


@dataclass(frozen=True)
class IntentSla:
    name: str
    met: bool
    latency_s: float | None = None
    max_latency_s: float | None = None
    loss: float | None = None
    jitter_s: float | None = None


@dataclass(frozen=True)
class LinkForecast:
    link: str
    src: str
    dst: str
    utilisation: float
    horizon_s: float


@dataclass(frozen=True)
class LinkRisk:
    link: str
    src: str
    dst: str
    risk: float


class NetpilotMetrics:
    """Every netpilot metric; call the `set_*`/`record_*` methods, Prometheus scrapes."""

    def __init__(self, registry: CollectorRegistry, max_series: int = 20000) -> None:
        self.max_series = max_series
        self.transactions = Counter(
            "netpilot_transactions",
            "Network-wide configuration transactions by outcome.",
            ["outcome"],
            registry=registry,
        )
        for outcome in OUTCOMES:
            self.transactions.labels(outcome)
        self.transaction_duration = Histogram(
            "netpilot_transaction_duration_seconds",
            "Duration of network-wide transactions.",
            buckets=TRANSACTION_BUCKETS,
            registry=registry,
        )
        self.collection_duration = Histogram(
            "netpilot_telemetry_collection_duration_seconds",
            "Duration of one telemetry round over all devices.",
            buckets=COLLECTION_BUCKETS,
            registry=registry,
        )
        self.collection_errors = Counter(
            "netpilot_telemetry_collection_errors",
            "Devices that failed to answer a telemetry round.",
            ["device"],
            registry=registry,
        )
        self.path_changes = Counter(
            "netpilot_intent_path_changes",
            "Times an intent's installed path changed.",
            ["intent"],
            registry=registry,
        )
        self.topology_events = Counter(
            "netpilot_topology_events",
            "Topology events seen by telemetry (link_down, link_up, device_restart).",
            ["kind"],
            registry=registry,
        )
        self._links: list[LinkTelemetry] = []
        self._intents: list[IntentSla] = []
        self._forecasts: list[LinkForecast] = []
        self._risks: list[LinkRisk] = []
        self._sim_time: float | None = None
        registry.register(_SnapshotCollector(self))

    # -- inputs ------------------------------------------------------------------------------
    def record_transaction(self, duration_s: float, outcome: str) -> None:
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}, got {outcome!r}")
        self.transactions.labels(outcome).inc()
        self.transaction_duration.observe(duration_s)

    def record_collection(self, duration_s: float, errors: Iterable[str] = ()) -> None:
        self.collection_duration.observe(duration_s)
        for device in errors:
            self.collection_errors.labels(device).inc()

    def set_links(self, links: Iterable[LinkTelemetry]) -> None:
        self._links = list(links)

    def set_intents(self, intents: Iterable[IntentSla]) -> None:
        self._intents = list(intents)

    def set_forecasts(self, forecasts: Iterable[LinkForecast]) -> None:
        self._forecasts = list(forecasts)

    def set_risks(self, risks: Iterable[LinkRisk]) -> None:
        self._risks = list(risks)

    def set_sim_time(self, t: float) -> None:
        self._sim_time = t


class _SnapshotCollector:
    def __init__(self, owner: NetpilotMetrics) -> None:
        self.owner = owner

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        o = self.owner
        dropped = 0
        families = [*_link_families(o._links), *_intent_families(o._intents)]
        families += _forecast_families(o._forecasts, o._risks)
        for fam in families:
            if len(fam.samples) > o.max_series:
                dropped += len(fam.samples) - o.max_series
                del fam.samples[o.max_series :]
            yield fam
        yield GaugeMetricFamily(
            "netpilot_exporter_series_dropped",
            "Series left out because a family exceeded the exporter's bound.",
            value=dropped,
        )
        if o._sim_time is not None:
            yield GaugeMetricFamily(
                "netpilot_sim_time_seconds",
                "Simulated clock of the network simulator.",
                value=o._sim_time,
            )


def _gauge(name: str, doc: str, labels: list[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=labels)


def _link_families(links: list[LinkTelemetry]) -> list[GaugeMetricFamily]:
    up = _gauge("netpilot_link_up", "1 when the link is operationally up.", LINK_LABELS)
    util = _gauge("netpilot_link_utilization_ratio", "Transmit rate over capacity.", LINK_LABELS)
    loss = _gauge("netpilot_link_loss_ratio", "Share of packets dropped at the link.", LINK_LABELS)
    delay = _gauge("netpilot_link_delay_seconds", "Propagation plus queueing delay.", LINK_LABELS)
    cl = [*LINK_LABELS, "class"]
    cutil = _gauge("netpilot_link_class_utilization_ratio", "Class rate over capacity.", cl)
    closs = _gauge("netpilot_link_class_loss_ratio", "Share of a class's packets dropped.", cl)
    cdelay = _gauge("netpilot_link_class_queue_delay_seconds", "Queueing delay by class.", cl)
    crc = _gauge(
        "netpilot_link_crc_errors_per_second", "Frames received with CRC errors.", LINK_LABELS
    )
    rx = _gauge("netpilot_optics_rx_power_dbm", "Optical receive power.", LINK_LABELS)
    bias = _gauge("netpilot_optics_tx_bias_amperes", "Laser transmit bias current.", LINK_LABELS)
    for lt in links:
        lab = [lt.link, lt.src, lt.dst]
        up.add_metric(lab, 1.0 if lt.oper_up else 0.0)
        for fam, value in (
            (util, lt.utilisation),
            (loss, lt.loss),
            (delay, lt.delay_s),
            (crc, lt.crc_per_s),
            (rx, lt.rx_power_dbm),
        ):
            if value is not None:
                fam.add_metric(lab, value)
        if lt.tx_bias_ma is not None:
            bias.add_metric(lab, lt.tx_bias_ma / 1000.0)
        for fam, values in (
            (cutil, lt.class_utilisation),
            (closs, lt.class_loss),
            (cdelay, lt.class_delay_s),
        ):
            for c, v in sorted(values.items()):
                fam.add_metric([*lab, c], v)
    return [up, util, loss, delay, cutil, closs, cdelay, crc, rx, bias]


def _intent_families(intents: list[IntentSla]) -> list[GaugeMetricFamily]:
    met = _gauge("netpilot_intent_sla_met", "1 while the intent meets its SLA, else 0.", ["intent"])
    lat = _gauge("netpilot_intent_latency_seconds", "Measured one-way latency.", ["intent"])
    bound = _gauge(
        "netpilot_intent_latency_bound_seconds", "The intent's latency bound.", ["intent"]
    )
    loss = _gauge(
        "netpilot_intent_loss_ratio", "Measured loss of the intent's traffic.", ["intent"]
    )
    jit = _gauge("netpilot_intent_jitter_seconds", "Delay variation along the path.", ["intent"])
    for it in intents:
        met.add_metric([it.name], 1.0 if it.met else 0.0)
        for fam, value in (
            (lat, it.latency_s),
            (bound, it.max_latency_s),
            (loss, it.loss),
            (jit, it.jitter_s),
        ):
            if value is not None:
                fam.add_metric([it.name], value)
    return [met, lat, bound, loss, jit]


def _forecast_families(
    forecasts: list[LinkForecast], risks: list[LinkRisk]
) -> list[GaugeMetricFamily]:
    fc = _gauge(
        "netpilot_link_utilization_forecast_ratio",
        "Forecast utilisation at the horizon.",
        LINK_LABELS,
    )
    horizon = _gauge("netpilot_forecast_horizon_seconds", "Horizon of the forecasts.", [])
    risk = _gauge(
        "netpilot_link_fault_risk_ratio", "Predicted probability of failure.", LINK_LABELS
    )
    for f in forecasts:
        fc.add_metric([f.link, f.src, f.dst], f.utilisation)
    if forecasts:
        horizon.add_metric([], forecasts[0].horizon_s)
    for r in risks:
        risk.add_metric([r.link, r.src, r.dst], r.risk)
    return [fc, horizon, risk]
