"""Prometheus series of the streaming collector, read from its health at scrape time.

    register_stream_metrics(registry, collector)

| series | type | labels |
| --- | --- | --- |
| `netpilot_gnmi_stream_up` | gauge: 1 while the device's stream is connected | `device` |
| `netpilot_gnmi_notifications_total` | counter: notifications received | `device` |
| `netpilot_gnmi_samples_total` | counter: samples applied | `device` |
| `netpilot_gnmi_stream_restarts_total` | counter: streams given up and started again | `device` |
| `netpilot_gnmi_sample_age_seconds` | gauge: since the last sample (none before it) | `device` |

A stale-stream alert is `netpilot_gnmi_sample_age_seconds > 3 * <interval>` or
`netpilot_gnmi_stream_up == 0` for a minute.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

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
        now = self.collector.clock()
        for name, stream in sorted(self.collector.streams.items()):
            h = stream.health
            up.add_metric([name], 1.0 if h.connected else 0.0)
            notes.add_metric([name], h.notifications)
            samples.add_metric([name], h.samples)
            restarts.add_metric([name], h.restarts)
            if h.last_sample is not None:
                age.add_metric([name], max(0.0, now - h.last_sample))
        yield from (up, notes, samples, restarts, age)


def register_stream_metrics(registry: CollectorRegistry, collector: object) -> bool:
    """Register the series for a `StreamCollector` (True); another collector: nothing."""
    if not isinstance(collector, StreamCollector):
        return False
    registry.register(StreamMetrics(collector))
    return True
