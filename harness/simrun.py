"""A running simulation seen through telemetry: simulator -> collector -> processor -> exporter.

`SimRuntime.tick()` advances the simulator one step, gathers every router's state (in-process, or
through any `Collector`), updates the telemetry store and the Prometheus metrics, the baseline
forecast and fault risk (`telemetry.linkmodels`: the trained models, or the baseline stand-ins by
default), and keeps the history `netpilot report` plots.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from controller.desired import NetworkConfig
from controller.devicestate import DeviceState
from harness.netsim import NetworkSimulator, Routing, StepSummary
from telemetry.collectors import Collector, ProviderCollector
from telemetry.events import TopologyEvent
from telemetry.exporter import IntentSla, LinkForecast, LinkRisk, NetpilotMetrics
from telemetry.history import History
from telemetry.linkmodels import BaselineLinkModels, LinkModels
from telemetry.processor import LinkTelemetry, TelemetryProcessor
from telemetry.store import RingStore


class SimRuntime:
    def __init__(
        self,
        sim: NetworkSimulator,
        metrics: NetpilotMetrics | None = None,
        collector: Collector | None = None,
        on_event: Callable[[TopologyEvent], None] | None = None,
        models: LinkModels | None = None,
    ) -> None:
        self.sim = sim
        self.metrics = metrics
        self.collector = collector or ProviderCollector(sim, sim.devices())
        self.store = RingStore()
        self.events: list[TopologyEvent] = []
        self.on_event = on_event
        self.processor = TelemetryProcessor(sim.index.topology, self.store, self._event)
        self.models: LinkModels = models or BaselineLinkModels()
        self.history = History()
        self.last_sla: list[IntentSla] = []
        self.last_risks: list[LinkRisk] = []
        self.last_forecasts: list[LinkForecast] = []
        self.last_states: list[DeviceState] = []
        """The last round's router reports (their uplink probes feed brownout switching)."""
        self.clock = time.perf_counter
        self.before_tick: Callable[[], object] | None = None
        """Called before each step, e.g. to pull configs committed to the NETCONF routers."""
        self._routing: Routing | None = None
        self._paths: dict[str, tuple[int, ...]] = {}
        if metrics is not None:
            for intent in sim.scenario.intents:
                metrics.path_changes.labels(intent.name)

    def apply(self, configs: NetworkConfig) -> None:
        """Install desired configs in the simulated network, timed as a transaction."""
        start = self.clock()
        self.sim.set_network_config(configs)
        if self.metrics is not None:
            self.metrics.record_transaction(self.clock() - start, "committed")

    def _track_paths(self) -> None:
        routing = self.sim.routing()
        probes = self.sim.probes
        if routing is self._routing or probes is None:
            return
        self._routing = routing
        table = routing.table
        for k, intent in enumerate(probes.intents):
            f = probes.first_probe + k
            links = tuple(sorted(set(table.link[table.flow == f].tolist())))
            before = self._paths.get(intent.name)
            if before is not None and before != links and self.metrics is not None:
                self.metrics.path_changes.labels(intent.name).inc()
            self._paths[intent.name] = links

    def _event(self, event: TopologyEvent) -> None:
        self.events.append(event)
        if self.metrics is not None:
            self.metrics.topology_events.labels(event.kind).inc()
        if self.on_event is not None:
            self.on_event(event)

    def tick(self) -> StepSummary:
        if self.before_tick is not None:
            self.before_tick()
        summary = self.sim.step()
        self._track_paths()
        result = self.collector.collect()
        self.last_states = result.states
        for state in result.states:
            self.processor.ingest(state)
        links = self.processor.snapshot()
        self.last_sla = self.sim.sla()
        forecasts, self.last_risks = self.models.update(links, self.sim.step_s)
        self.last_forecasts = forecasts
        if self.metrics is not None:
            m = self.metrics
            m.record_collection(result.duration_s, result.errors)
            m.set_links(links)
            m.set_intents(self.last_sla)
            m.set_forecasts(forecasts)
            m.set_risks(self.last_risks)
            m.set_sim_time(self.sim.t)
        self._remember(links, forecasts)
        return summary

    def _remember(self, links: list[LinkTelemetry], forecasts: list[LinkForecast]) -> None:
        h = self.history
        if not h.links:
            h.links = [f"{lt.src}>{lt.link}" for lt in links]
            h.intents = [s.name for s in self.last_sla]
            h.forecast_steps, h.forecast_label = self.models.horizon_steps, self.models.label
        h.t.append(self.sim.t)
        h.utilisation.append(np.array([lt.utilisation or 0.0 for lt in links]))
        made = {(f.src, f.link): f.utilisation for f in forecasts}
        h.forecast.append(np.array([made.get((lt.src, lt.link), np.nan) for lt in links]))
        h.sla_met.append(np.array([s.met for s in self.last_sla], dtype=bool))
        h.latency_s.append(np.array([s.latency_s or np.nan for s in self.last_sla]))
