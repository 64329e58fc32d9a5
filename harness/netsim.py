"""Flow-level network simulator: a simulated clock, traffic, routing, queues, faults, counters.

    index = LinkIndex(topology)
    sim = NetworkSimulator(index, GravityTraffic(index, rng, 5e9), rng=rng, step_s=10)
    sim.run(3600)                       # one simulated hour in well under a second
    sim.device_state("r1")              # what r1 reports (controller/devicestate.DeviceState)

Each `step()` advances the clock by `step_s`, evaluates the scenario's faults, reroutes when the
set of links/routers that are up or the installed SR policies changed, asks the traffic source
(plus the scenario's surges) for the rates, solves queues and drops (harness/flowsolve) and adds
the step to the routers' counters. The simulator is the operational-state provider of the
simulated routers (`device_state(name)`); `apply_config` installs a router's desired config (its
SR policies and steering).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from controller.desired import DeviceConfig, NetworkConfig
from controller.devicestate import DeviceState
from controller.errors import NotFoundError
from controller.topology import LinkState, Topology
from harness.classes import ClassTable
from harness.counters import Counters
from harness.devstate import render_device
from harness.flowsolve import FlowSolution, RouteTable, solve
from harness.probes import WithProbes
from harness.routing import Hop, IgpRouting, LinkIndex
from harness.scenario import FaultPlan, FaultState, Scenario, surges
from harness.steering import ActivePolicy, activate, choose_policy
from harness.surge import SurgingTraffic
from harness.traffic import TrafficSource
from harness.uplink_probes import UplinkProber
from telemetry.exporter import IntentSla


@dataclass(frozen=True)
class SimEvent:
    """Something that changed at simulated time `t`: link/node down or up, reroute."""

    t: float
    kind: str
    target: str


@dataclass(frozen=True)
class StepSummary:
    t: float
    offered_bps: float
    delivered_bps: float
    dropped_bps: float
    max_utilisation: float
    events: tuple[SimEvent, ...] = ()


@dataclass
class Routing:
    table: RouteTable
    igp: IgpRouting
    policies: dict[tuple[str, int, str], ActivePolicy] = field(default_factory=dict)


class NetworkSimulator:
    """The whole simulated network; deterministic for a given traffic source and `rng`."""

    def __init__(
        self,
        index: LinkIndex,
        traffic: TrafficSource,
        *,
        rng: np.random.Generator,
        scenario: Scenario | None = None,
        step_s: float = 10.0,
        classes: ClassTable | None = None,
        counter_start: int = 0,
        start_time: float = 0.0,
    ) -> None:
        self.index = index
        self.rng = rng
        self.classes = classes or ClassTable()
        self.scenario = scenario or Scenario()
        self.plan = FaultPlan(self.scenario, index)  # checks the scenario against the topology
        self.traffic: TrafficSource = traffic
        if surges(self.scenario):  # the scenario's extra demand rides on the given traffic
            self.traffic = SurgingTraffic(traffic, surges(self.scenario), index)
        self.probes: WithProbes | None = None
        if self.scenario.intents:
            self.probes = WithProbes(self.traffic, list(self.scenario.intents), index, self.classes)
            self.traffic = self.probes
        self.step_s = step_s
        self.t = start_time
        self.configs: dict[str, DeviceConfig] = {}
        self.counters = Counters(index.n_links, index.n_nodes, self.classes, counter_start)
        self.events: list[SimEvent] = []
        self.faults: FaultState = self.plan.at(self.t)
        self.uplink_probes = UplinkProber(index, self.plan)
        """Branch routers' active uplink probes (harness/uplink_probes.py)."""
        self._routing: Routing | None = None
        self._route_key: bytes = b""
        self.solution: FlowSolution | None = None
        self.optics_noise = np.zeros((2, index.n_links))
        self.steps = 0
        self.lock = threading.RLock()
        """Held while stepping and while rendering a router's state (routers run elsewhere)."""

    # -- configuration -------------------------------------------------------------------------
    def apply_config(self, device: str, config: DeviceConfig) -> None:
        if device not in self.index.node_idx:
            raise NotFoundError(f"unknown device {device!r} in the simulated network")
        with self.lock:
            self.configs[device] = config
            self._routing = None

    def set_network_config(self, configs: NetworkConfig) -> None:
        for device, config in configs.items():
            self.apply_config(device, config)

    # -- running -------------------------------------------------------------------------------
    def step(self) -> StepSummary:
        with self.lock:
            return self._step()

    def _step(self) -> StepSummary:
        self.t += self.step_s
        self.steps += 1
        previous = self.faults
        self.faults = self.plan.at(self.t)
        new_events = self._transitions(previous, self.faults)
        routing = self.routing()
        rates = self.traffic.rates(self.t)
        f = self.faults
        up = routing.igp.up
        capacity = np.where(up, self.index.capacity * f.capacity_factor, 0.0)
        sol = solve(
            routing.table,
            rates=rates,
            flow_cls=self.traffic.flows.cls,
            capacity=capacity,
            error_ratio=f.error_ratio,
            link_delay_s=self.index.delay + f.extra_delay_s,
            classes=self.classes,
        )
        self.solution = sol
        self.counters.add(
            self.step_s, sol.queues.served, sol.queues.dropped, sol.delivered_link, sol.corrupted
        )
        self.optics_noise = self.rng.normal(0.0, 1.0, (2, self.index.n_links))
        self.events += new_events
        util = sol.queues.served.sum(axis=1) / np.where(capacity > 0, capacity, np.inf)
        return StepSummary(
            t=self.t,
            offered_bps=float(rates.sum()),
            delivered_bps=float(sol.flow_delivered.sum()),
            dropped_bps=float(sol.flow_dropped.sum()),
            max_utilisation=float(util.max()) if len(util) else 0.0,
            events=tuple(new_events),
        )

    def run(
        self, duration_s: float, on_step: Callable[[StepSummary], None] | None = None
    ) -> list[StepSummary]:
        steps = max(0, round(duration_s / self.step_s))
        out = []
        for _ in range(steps):
            summary = self.step()
            out.append(summary)
            if on_step is not None:
                on_step(summary)
        return out

    def _transitions(self, before: FaultState, after: FaultState) -> list[SimEvent]:
        events = []
        idx = self.index
        for i in np.flatnonzero(before.node_up != after.node_up):
            kind = "node_up" if after.node_up[i] else "node_down"
            events.append(SimEvent(self.t, kind, idx.nodes[i]))
            if after.node_up[i]:
                n = int(i)
                self.counters.restart(n, np.flatnonzero(idx.src == n), np.flatnonzero(idx.dst == n))
        seen = set()
        for i in np.flatnonzero(before.link_up != after.link_up):
            link = idx.links[i]
            if link.id in seen:
                continue
            seen.add(link.id)
            events.append(SimEvent(self.t, "link_up" if after.link_up[i] else "link_down", link.id))
        return events

    # -- routing -------------------------------------------------------------------------------
    def routing(self) -> Routing:
        f = self.faults
        key = f.link_up.tobytes() + f.node_up.tobytes()
        if self._routing is None or key != self._route_key:
            self._routing = self._build_routing(f)
            self._route_key = key
        return self._routing

    def _build_routing(self, f: FaultState) -> Routing:
        idx = self.index
        igp = IgpRouting(idx, f.link_up, f.node_up)
        flows = self.traffic.flows
        chosen = self._steered(flows.src, flows.dst, flows.cls)
        policies = self._activate(igp, chosen, flows.dst)
        cache: dict[tuple[int, int], list[Hop]] = {}
        links, fl, fr, lv = [], [], [], []
        routed = np.zeros(len(flows), dtype=bool)
        for i in range(len(flows)):
            s, d = int(flows.src[i]), int(flows.dst[i])
            if not (f.node_up[s] and f.node_up[d]) or not igp.reachable(s, d):
                continue
            key = chosen[i]
            active = policies.get(key) if key is not None else None
            if active is not None and active.up:
                hops = active.hops_by_dst[d]
            else:
                cached = cache.get((s, d))
                if cached is None:
                    cached = cache[(s, d)] = igp.spread(s, d)[0]
                hops = cached
            routed[i] = True
            for lk, frac, lvl in hops:
                links.append(lk)
                fl.append(i)
                fr.append(frac)
                lv.append(lvl)
        table = RouteTable(
            np.array(links, dtype=np.int64),
            np.array(fl, dtype=np.int64),
            np.array(fr, dtype=float),
            np.array(lv, dtype=np.int64),
            len(flows),
            routed,
        )
        return Routing(table, igp, policies)

    def _steered(
        self, src: np.ndarray, dst: np.ndarray, cls: np.ndarray
    ) -> list[tuple[str, int, str] | None]:
        out: list[tuple[str, int, str] | None] = [None] * len(src)
        if not any(c.sr_policies for c in self.configs.values()):
            return out
        for i in range(len(src)):
            head = self.index.nodes[int(src[i])]
            config = self.configs.get(head)
            if config is None or not config.sr_policies:
                continue
            policy = choose_policy(config, self.index, int(dst[i]), int(cls[i]), self.classes)
            if policy is not None:
                out[i] = (head, policy.color, policy.endpoint)
        return out

    def _activate(
        self, igp: IgpRouting, chosen: list[tuple[str, int, str] | None], dst: np.ndarray
    ) -> dict[tuple[str, int, str], ActivePolicy]:
        wanted: dict[tuple[str, int, str], set[int]] = {}
        for config in self.configs.values():
            for p in config.sr_policies:
                wanted.setdefault((config.device, p.color, p.endpoint), set())
        for i, key in enumerate(chosen):
            if key is not None:
                wanted[key].add(int(dst[i]))
        out = {}
        for key, dsts in wanted.items():
            head = key[0]
            policy = next(
                p for p in self.configs[head].sr_policies if (p.color, p.endpoint) == key[1:]
            )
            out[key] = activate(self.index, igp, head, policy, dsts)
        return out

    # -- views ---------------------------------------------------------------------------------
    def topology(self) -> Topology:
        """The topology with the links that are down now marked down."""
        down = {self.index.links[i].id for i in np.flatnonzero(~self.routing().igp.up)}
        topo = self.index.topology
        for link_id in sorted(down):
            topo = topo.with_link_state(link_id, LinkState.DOWN)
        return topo

    def devices(self) -> list[str]:
        return list(self.index.nodes)

    def device_state(self, name: str) -> DeviceState:
        """What router `name` reports now (the simulated routers' state provider)."""
        if name not in self.index.node_idx:
            raise NotFoundError(f"unknown device {name!r} in the simulated network")
        with self.lock:
            return render_device(self, name)

    def flow_index(self, src: str, dst: str, service_class: str) -> int | None:
        flows = self.traffic.flows
        s, d = self.index.node_idx.get(src), self.index.node_idx.get(dst)
        c = self.classes.index(service_class)
        hits = np.flatnonzero((flows.src == s) & (flows.dst == d) & (flows.cls == c))
        return int(hits[0]) if len(hits) else None

    def sla(self) -> list[IntentSla]:
        """Measured latency and loss of each watched intent's probe, against its SLA."""
        sol = self.solution
        if self.probes is None or sol is None:
            return []
        out = []
        for k, intent in enumerate(self.probes.intents):
            f = self.probes.first_probe + k
            latency = float(sol.flow_delay_s[f])
            loss = float(sol.flow_loss[f])
            ok = loss <= intent.max_loss and (
                intent.max_latency is None or latency <= intent.max_latency
            )
            out.append(
                IntentSla(
                    intent.name,
                    ok,
                    latency if np.isfinite(latency) else None,
                    intent.max_latency,
                    loss,
                    float(sol.flow_jitter_s[f]),
                )
            )
        return out
