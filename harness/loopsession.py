"""Everything the closed loop needs, started and stopped together (demo and scenario suite).

    with LoopSession(LoopSpec(scenario=path, netconf=True)) as session:
        for _ in range(session.steps):
            session.runner.tick()
        rows = session.timeline()

bank-wan (or another topology), gravity traffic with optional surges, the scenario's faults, the
example intents, an embedded controller on SQLite in a temp dir whose engine clock is the
simulated clock, and the southbound: NETCONF to simulated routers (telemetry polled over NETCONF
too) or the simulator in process.
"""

from __future__ import annotations

import contextlib
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from controller.errors import UsageError
from controller.intentfile import load_intents
from controller.intents import Intent
from controller.southbound.base import Southbound
from controller.southbound.netconf import NetconfSouthbound
from harness.build import SimSpec, make_traffic
from harness.closedloop import EmbeddedController
from harness.loop import LoopRunner, faults_of, surge_fault, timeline
from harness.netsim import NetworkSimulator
from harness.probes import watch_intents
from harness.routing import LinkIndex
from harness.scenario import Scenario, check_against, load_scenario
from harness.simdevices import SimDevices
from harness.simrun import SimRuntime
from harness.simsouthbound import SimSouthbound
from harness.surge import Surge, SurgingTraffic
from models.loop_models import LoopModels
from telemetry.exporter import NetpilotMetrics
from telemetry.linkmodels import LinkModels, TrainedLinkModels
from telemetry.metered import MeteredSouthbound
from topologies.loader import load as load_topology

ROOT = Path(__file__).resolve().parent.parent
BANK_INTENTS = ROOT / "topologies" / "bank-wan.intents.yaml"


@dataclass(frozen=True)
class LoopSpec:
    scenario: Path | None = None
    topology: str = "bank-wan"
    intents: Path = BANK_INTENTS
    until_s: float = 3600.0
    step_s: float = 30.0
    flows: int = 120
    load: float = 0.6
    seed: int = 1
    netconf: bool = False
    surges: tuple[Surge, ...] = ()
    hold_time_s: float = 300.0
    models: LoopModels | None = None
    """Trained forecaster and fault model (`models.loop_models`); None: the baseline stand-ins."""
    extra: dict[str, Any] = field(default_factory=dict)


class LoopSession:
    def __init__(self, spec: LoopSpec, metrics: NetpilotMetrics | None = None) -> None:
        self.spec = spec
        self.metrics = metrics
        self.intents: list[Intent] = load_intents(spec.intents)
        self._stack = contextlib.ExitStack()
        self.sim = self._simulation()
        self.devices: SimDevices | None = None

    @property
    def steps(self) -> int:
        return max(1, round(self.spec.until_s / self.spec.step_s))

    def _simulation(self) -> NetworkSimulator:
        spec = self.spec
        index = LinkIndex(load_topology(spec.topology))
        scenario = load_scenario(spec.scenario) if spec.scenario else Scenario()
        watch = watch_intents(self.intents)
        scenario = scenario.model_copy(update={"intents": [*scenario.intents, *watch]})
        check_against(scenario, index, str(spec.scenario or "scenario"))
        rng = np.random.default_rng(spec.seed)
        sim_spec = SimSpec(spec.topology, "gravity", None, spec.seed, spec.step_s, spec.flows)
        traffic = make_traffic(SimSpec(**{**sim_spec.__dict__, "load": spec.load}), index, rng)
        if spec.surges:
            traffic = SurgingTraffic(traffic, list(spec.surges), index)
        self.scenario = scenario
        return NetworkSimulator(index, traffic, rng=rng, scenario=scenario, step_s=spec.step_s)

    def __enter__(self) -> LoopSession:
        try:
            self._start()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def _start(self) -> None:
        stack, sim = self._stack, self.sim
        self.runtime = SimRuntime(sim, self.metrics, models=self._link_models())
        southbound: Southbound = SimSouthbound(sim)
        self.tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="netpilot-")))
        if self.spec.netconf:
            self.devices = stack.enter_context(SimDevices(sim, self.tmp / "devices"))
            collector = self.devices.collector()
            stack.callback(collector.close)
            self.runtime.collector = collector
            self.runtime.before_tick = self.devices.sync_configs
            assert self.devices.inventory is not None
            netconf = NetconfSouthbound(self.devices.inventory)
            stack.callback(netconf.close_sync)
            southbound = netconf
        if self.metrics is not None:
            southbound = MeteredSouthbound(southbound, self.metrics)
        self.southbound = southbound
        self.controller = EmbeddedController(
            sim.index.topology,
            self.intents,
            southbound,
            self.tmp / "netpilot.db",
            clock=lambda: sim.t,
            hold_time_s=self.spec.hold_time_s,
            debounce_s=0.0,
        )
        stack.callback(self.controller.stop)
        self.controller.start()
        self.runner = LoopRunner(self.runtime, self.controller)

    def _link_models(self) -> LinkModels | None:
        trained = self.spec.models
        if trained is None:
            return None
        if trained.step_s != self.spec.step_s:
            raise UsageError(
                f"the models were trained for a {trained.step_s:g} s telemetry interval, the loop "
                f"runs at {self.spec.step_s:g} s; retrain with `netpilot model train loop`"
            )
        return TrainedLinkModels(trained.predictor)

    def timeline(self) -> list[dict[str, Any]]:
        topo = self.sim.index.topology
        of_node: dict[str, set[str]] = {}
        for link in topo.links:
            of_node.setdefault(link.src, set()).add(link.id)
            of_node.setdefault(link.dst, set()).add(link.id)
        faults = faults_of(list(self.scenario.events), of_node)
        faults += [surge_fault(s) for s in self.spec.surges]
        return timeline(faults, self.runner, self.spec.step_s, self.sim.t)

    def classes(self) -> dict[str, str]:
        return {i.name: i.service_class for i in self.intents}
