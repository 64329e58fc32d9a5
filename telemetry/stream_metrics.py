"""Prometheus series of the streaming collector, read from its health at scrape time.

    register_stream_metrics(registry, collector)

| series | type | labels |
| --- | --- | --- |
| `netpilot_gnmi_stream_up` | gauge: 1 while the device's stream is connected | `device` |
| `netpilot_gnmi_notifications_total` | counter: notifications received | `device` |
| `netpilot_gnmi_samples_total` | counter: samples applied | `device` |
| `netpilot_gnmi_stream_restarts_total` | counter: streams given up and started again | `device` |
| `netpilot_gnmi_sample_age_seconds` | gauge: since the last sample (none before it) | `device` |
| `netpilot_gnmi_update_lag_seconds` | gauge: arrival - device timestamp (last update) | `device` |
| `netpilot_gnmi_lldp_changes_total` | counter: LLDP neighbour changes received | `device` |
| `netpilot_topology_mismatch` | gauge: 1 per link/router of a mismatch | `kind`, `link`, `a`, `b` |
| `netpilot_topology_mismatches_total` | counter: mismatches that appeared | `kind` |
| `netpilot_topology_links` | gauge: file links by the routers' word | `state` |

The alert rules (deploy/rules/netpilot-alerts.yml, group `netpilot-gnmi`) fire on a stream
down or without a sample for a minute, on restarts, on lag and on a topology mismatch.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from controller.discovery_watch import DiscoveryWatch
from telemetry.stream_collector import StreamCollector


class StreamMetrics(Collector):
    def __init__(self, collector: StreamCollector) -> None:
        self.collector = collector

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "netpilot_gnmi_stream_up", "1 while the device's gNMI stream is up", labels=["device"]
        )
        notes = CounterMetricFamily(
            "netpilot_gnmi_notifications", "gNMI notifications received", labels=["device"]
        )
        samples = CounterMetricFamily(
            "netpilot_gnmi_samples", "gNMI samples applied", labels=["device"]
        )
        restarts = CounterMetricFamily(
            "netpilot_gnmi_stream_restarts", "gNMI streams restarted", labels=["device"]
        )
        age = GaugeMetricFamily(
            "netpilot_gnmi_sample_age_seconds",
            "Seconds since the device's last gNMI sample",
            labels=["device"],
        )
        lag = GaugeMetricFamily(
            "netpilot_gnmi_update_lag_seconds",
            "Arrival time minus the device's timestamp of the last gNMI notification",
            labels=["device"],
        )
        lldp = CounterMetricFamily(
            "netpilot_gnmi_lldp_changes", "LLDP neighbour changes received", labels=["device"]
        )
        now = self.collector.clock()
        for name, stream in sorted(list(self.collector.streams.items())):
            h = stream.health
            up.add_metric([name], 1.0 if h.connected else 0.0)
            notes.add_metric([name], h.notifications)
            samples.add_metric([name], h.samples)
            restarts.add_metric([name], h.restarts)
            lldp.add_metric([name], h.lldp_changes)
            if h.last_sample is not None:
                age.add_metric([name], max(0.0, now - h.last_sample))
            if h.lag_s is not None:
                lag.add_metric([name], h.lag_s)
        yield from (up, notes, samples, restarts, age, lag, lldp)
        if self.collector.discovery is not None:
            yield from discovery_metrics(self.collector.discovery)


def discovery_metrics(watch: DiscoveryWatch) -> Iterator[Metric]:
    mismatch = GaugeMetricFamily(
        "netpilot_topology_mismatch",
        "1 per link or router the routers' neighbour tables and the topology file disagree on",
        labels=["kind", "link", "a", "b"],
    )
    for m in watch.diff.mismatches:
        mismatch.add_metric([m.kind, m.link, m.a, m.b], 1.0)
    total = CounterMetricFamily(
        "netpilot_topology_mismatches", "Topology mismatches that appeared", labels=["kind"]
    )
    for kind in ("routers-only", "file-only", "router-only"):
        total.add_metric([kind], watch.events_total[kind])
    links = GaugeMetricFamily(
        "netpilot_topology_links", "Topology file links by the routers' word", labels=["state"]
    )
    d = watch.diff
    for state, n in (("confirmed", d.confirmed), ("seen", d.seen), ("down", d.down),
                     ("unverified", len(d.unverified))):  # fmt: skip
        links.add_metric([state], n)
    yield from (mismatch, total, links)


def register_stream_metrics(registry: CollectorRegistry, collector: object) -> bool:
    """Register the series for a `StreamCollector` (True); another collector: nothing."""
    if not isinstance(collector, StreamCollector):
        return False
    registry.register(StreamMetrics(collector))
    return True
