"""A scenario file played on the Linux data plane: cuts, flaps, brownouts, surges, unreachables.

    play = KernelScenario(load_scenario(path), plane, provider, traffic)
    play.apply(t)        # t: scenario seconds; returns what changed, as event-log lines

The scenario is evaluated with the flow-level simulator's own `FaultPlan` (harness/scenario.py),
and what it says at time t is made real:

- a physical link down (`link_down`, `flap`, `node_down`, a degradation's `fail_at`): both veths
  `ip link set down` (the run reconverges on the netlink notification, as for a manual cut);
- `capacity_loss` (a brownout): the veth's tbf rate cut to the remaining fraction, restored after;
- `degrade`/`decoy` of `rx_power` or `tx_bias`: the optics the router reports drift;
- `surge`: a traffic flow (harness/trafficgen.py) from `src` to `dst` in its class, at `peak`
  times the data plane's rate scale (10 Gbit/s links are shaped to 10 Mbit/s), ramping as given;
- `device_unreachable`: returned as `unreachable`/`reachable` lines; the run stops that
  router's NETCONF server answering, its kernel keeps forwarding.

Loss, delay and CRC errors need netem, which this kernel lacks (../shared/STACK.md): a scenario
with a `brownout` (loss/delay/jitter) or a `crc`/`latency` degradation is refused at start with
one line naming the event.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from controller.errors import UsageError
from controller.intents import SERVICE_CLASSES
from harness.dataplane import LinuxDataPlane
from harness.dataplane_router import KernelState
from harness.scenario import FaultPlan, Scenario, surges, unreachable_at
from harness.trafficgen import Flow, TrafficGen, flow_addresses

NO_NETEM = ("crc", "latency")
PLAYABLE = frozenset({"link_down", "link_up", "node_down", "node_up", "flap", "capacity_loss",
                      "surge", "device_unreachable", "degrade", "decoy"})  # fmt: skip
HINT = ("on --dataplane linux use link_down, flap, node_down, capacity_loss (a brownout of "
        "capacity), surge, device_unreachable or an rx_power/tx_bias degrade")  # fmt: skip


def check_playable(scenario: Scenario) -> None:
    """UsageError (one line) for an event this kernel cannot make real: loss, delay and CRC
    errors need netem (a `brownout` of loss/delay/jitter, a crc or latency degradation)."""
    for i, ev in enumerate(scenario.events):
        kind = str(getattr(ev, "kind", "?"))
        signal = getattr(ev, "signal", None)
        if kind not in PLAYABLE or signal in NO_NETEM:
            what = f"a {kind} of {signal}" if signal else f"a {kind}"
            raise UsageError(
                f"--scenario events[{i}]: {what} needs netem (loss, delay or errors on a veth), "
                f"which this kernel lacks; {HINT}"
            )


class KernelScenario:
    def __init__(
        self, scenario: Scenario, plane: LinuxDataPlane, provider: KernelState,
        traffic: TrafficGen | None,
    ) -> None:  # fmt: skip
        check_playable(scenario)
        self.scenario = scenario
        self.plane = plane
        self.provider = provider
        self.faults = FaultPlan(scenario, plane.plan.index)
        self.surges = surges(scenario)
        self.traffic = traffic
        self.down: set[str] = set()
        self.factor: dict[tuple[str, str], float] = {}
        self.unreachable: set[str] = set()
        topo = plane.topology
        if self.surges and traffic is not None:
            for k, s in enumerate(self.surges):
                src, dst = flow_addresses(topo, s.src, s.dst, ())
                traffic.add(
                    Flow(f"surge-{k}", s.src, s.dst, src, dst, SERVICE_CLASSES[s.cls].dscp, 0)
                )

    def apply(self, t: float) -> list[dict[str, Any]]:
        """Make the scenario's state at time `t` real; event-log lines of what changed."""
        st = self.faults.at(t)
        idx = self.plane.plan.index
        up = st.link_up & st.node_up[idx.src] & st.node_up[idx.dst]
        lines: list[dict[str, Any]] = []
        down = {idx.links[i].id for i in np.flatnonzero(~up)}
        for link_id in sorted(down - self.down):
            self.plane.set_link(link_id, up=False, reconverge=False)
        for link_id in sorted(self.down - down):
            self.plane.set_link(link_id, up=True, reconverge=False)
        self.down = down
        for i, link in enumerate(idx.links):
            key = (link.src, link.id)
            factor = float(st.capacity_factor[i])
            if factor != self.factor.get(key, 1.0):
                self.plane.set_capacity(link.src, link.id, factor)
                lines.append({"kind": "capacity", "link": link.id, "src": link.src,
                              "factor": round(factor, 4)})  # fmt: skip
                self.factor[key] = factor
            drift = (float(st.rx_power_offset_db[i]), float(st.tx_bias_offset_ma[i]))
            if drift != (0.0, 0.0) or key in self.provider.optics:
                self.provider.optics[key] = drift
        lines += self._surges(t)
        lines += self._reachability(t)
        return lines

    def _surges(self, t: float) -> list[dict[str, Any]]:
        if self.traffic is None:
            return []
        for k, s in enumerate(self.surges):
            self.traffic.set_rate(f"surge-{k}", s.at_time(t) * self.plane.rate_scale)
        return []

    def _reachability(self, t: float) -> list[dict[str, Any]]:
        now = unreachable_at(self.scenario, t)
        lines = [{"kind": "unreachable", "node": n} for n in sorted(now - self.unreachable)]
        lines += [{"kind": "reachable", "node": n} for n in sorted(self.unreachable - now)]
        self.unreachable = now
        return lines
