"""The incidents' Prometheus series, read at scrape time from an `IncidentService`:

- `netpilot_incidents_open{kind}`: open incidents by root-cause kind (srlg, linecard, node,
  link; `unknown` before a cause is named), every kind present (0 when none);
- `netpilot_incidents_opened_total`, `netpilot_incidents_resolved_total`;
- `netpilot_incident_last_identify_seconds`, `netpilot_incident_last_locate_seconds`: the
  latest incident's seconds from its first symptom to identified and to located (a series per
  incident would grow without bound; GET /v1/incidents has every incident's times).
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from controller.engine import Engine
from controller.incident_model import CAUSE_KINDS
from controller.incident_service import Audit, Clock, IncidentService


def register_incident_metrics(registry: CollectorRegistry, service: IncidentService) -> None:
    registry.register(_Collector(service))


class _Collector:
    def __init__(self, service: IncidentService) -> None:
        self.service = service

    def collect(self) -> Iterator[Metric]:
        s = self.service
        gauge = GaugeMetricFamily(
            "netpilot_incidents_open", "Open incidents by root-cause kind.", labels=["kind"]
        )
        counts = s.open_by_kind()
        for kind in (*CAUSE_KINDS, "unknown"):
            gauge.add_metric([kind], counts.get(kind, 0))
        yield gauge
        yield CounterMetricFamily(
            "netpilot_incidents_opened", "Incidents opened (identified).", value=s.opened
        )
        yield CounterMetricFamily(
            "netpilot_incidents_resolved", "Incidents resolved.", value=s.resolved
        )
        kept = s.incidents(limit=10_000)
        latest = sorted(kept, key=lambda i: i.identified_at)[-1:]
        identify = GaugeMetricFamily(
            "netpilot_incident_last_identify_seconds",
            "Latest incident: seconds from its first symptom to its identification.",
        )
        locate = GaugeMetricFamily(
            "netpilot_incident_last_locate_seconds",
            "Latest incident: seconds from its first symptom to its root cause named.",
        )
        if latest:
            inc = latest[0]
            identify.add_metric([], inc.identified_at - inc.first_seen)
            if inc.located_at is not None:
                locate.add_metric([], inc.located_at - inc.first_seen)
        yield identify
        yield locate

    def describe(self) -> Iterator[Metric]:
        return iter(())


def assemble_incidents(
    engine: Engine, audit: Audit | None, registry: CollectorRegistry, clock: Clock
) -> IncidentService:
    """The correlator of `controller run`: listening to `engine`, its series on `registry`, its
    incidents kept in the engine's store (read back now: a restart keeps them)."""
    service = IncidentService(engine, clock, audit=audit, store=engine.store).attach()
    register_incident_metrics(registry, service)
    return service
