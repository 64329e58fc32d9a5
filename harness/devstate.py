"""Render one router's operational state (controller/devicestate.DeviceState) from the simulation.

A router's interface for directed link l (l.src == router) is named l.id. It transmits l's
traffic (out counters, per-class queues, discards) and receives the reverse direction's traffic
(in counters; corrupted frames count as in-errors and CRC errors). Optics: receive power is a
healthy -3 dBm minus any drift a fault injects, transmit bias 35 mA plus any climb, each with a
little noise; a down link reads -40 dBm.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from controller.desired import DeviceConfig
from controller.devicestate import (
    DeviceState,
    InterfaceState,
    Neighbor,
    PolicyState,
    QueueStats,
    UplinkProbe,
)
from harness.classes import ClassTable
from harness.counters import Counters
from harness.flowsolve import FlowSolution
from harness.routing import IgpRouting, LinkIndex
from harness.scenario import FaultState
from harness.steering import ActivePolicy

RX_POWER_DBM = -3.0
TX_BIAS_MA = 35.0
MASK64 = (1 << 64) - 1


class RoutingView(Protocol):
    """The routing a simulator computed (a `harness.netsim.Routing`)."""

    @property
    def igp(self) -> IgpRouting: ...

    @property
    def policies(self) -> dict[tuple[str, int, str], ActivePolicy]: ...


class ProbeView(Protocol):
    """A branch router's active uplink probes (a `harness.uplink_probes.UplinkProber`)."""

    def at(self, device: str, t: float) -> tuple[UplinkProbe, ...]: ...


class SimView(Protocol):
    """What rendering a router's state reads from the simulator (a `NetworkSimulator`).

    A protocol, so that harness/netsim.py imports this module and not the other way round.
    """

    @property
    def t(self) -> float: ...

    @property
    def index(self) -> LinkIndex: ...

    @property
    def classes(self) -> ClassTable: ...

    @property
    def counters(self) -> Counters: ...

    @property
    def faults(self) -> FaultState: ...

    @property
    def optics_noise(self) -> np.ndarray: ...

    @property
    def solution(self) -> FlowSolution | None: ...

    @property
    def configs(self) -> dict[str, DeviceConfig]: ...

    def routing(self) -> RoutingView: ...

    @property
    def uplink_probes(self) -> ProbeView: ...


def _queues(sim: SimView, i: int) -> tuple[QueueStats, ...]:
    c = sim.counters
    sol = sim.solution
    out = []
    for k, spec in enumerate(sim.classes.specs):
        out.append(
            QueueStats(
                service_class=spec.name,
                queue=spec.queue,
                tx_octets=int(c.tx_octets[i, k]),
                tx_packets=int(c.tx_packets[i, k]),
                dropped_packets=int(c.drop_packets[i, k]),
                depth_bytes=int(sol.queues.depth_bits[i, k] / 8) if sol else 0,
                delay_s=float(sol.queues.delay_s[i, k]) if sol else 0.0,
            )
        )
    return tuple(out)


def _sum64(row: np.ndarray) -> int:
    return int(sum(int(x) for x in row) & MASK64)


def _interface(sim: SimView, i: int, rev: int | None, up: bool) -> InterfaceState:
    c, f, idx = sim.counters, sim.faults, sim.index
    noise = sim.optics_noise
    rx_octets = rx_packets = rx_err = 0
    rx_power = None
    if rev is not None:
        rx_octets = _sum64(c.rx_octets[rev])
        rx_packets = _sum64(c.rx_packets[rev])
        rx_err = _sum64(c.rx_errors[rev])
        rx_power = RX_POWER_DBM + f.rx_power_offset_db[rev] + 0.05 * noise[0, rev]
        if not up:
            rx_power = -40.0
    sol = sim.solution
    delay = float(idx.delay[i] + f.extra_delay_s[i])
    if sol is not None and sol.queues.served[i].sum() > 0:
        w = sol.queues.served[i] / sol.queues.served[i].sum()
        delay += float((w * sol.queues.delay_s[i]).sum())
    return InterfaceState(
        name=idx.links[i].id,
        oper_up=up,
        speed_bps=float(idx.capacity[i]),
        in_octets=rx_octets,
        out_octets=_sum64(c.tx_octets[i]),
        in_packets=rx_packets,
        out_packets=_sum64(c.tx_packets[i]),
        in_errors=rx_err,
        out_errors=0,
        in_discards=0,
        out_discards=_sum64(c.drop_packets[i]),
        crc_errors=rx_err,
        rx_power_dbm=None if rx_power is None else round(float(rx_power), 3),
        tx_bias_ma=round(float(TX_BIAS_MA + f.tx_bias_offset_ma[i] + 0.2 * noise[1, i]), 3),
        delay_s=delay,
        queues=_queues(sim, i),
    )


def _policies(sim: SimView, name: str) -> tuple[PolicyState, ...]:
    config = sim.configs.get(name)
    if config is None:
        return ()
    routing = sim.routing()
    out = []
    for p in config.sr_policies:
        active = routing.policies.get((name, p.color, p.endpoint))
        out.append(
            PolicyState(
                color=p.color,
                endpoint=p.endpoint,
                up=bool(active and active.up),
                active_candidate_path=active.candidate if active else None,
            )
        )
    return tuple(out)


def render_device(sim: SimView, name: str) -> DeviceState:
    idx = sim.index
    n = idx.node_idx[name]
    up_links = sim.routing().igp.up
    interfaces, neighbors = [], []
    for i in idx.out_links[n]:
        link = idx.links[i]
        rev = idx.link_idx.get((link.dst, link.src, link.id))
        interfaces.append(_interface(sim, i, rev, bool(up_links[i])))
        if up_links[i]:  # LLDP: the neighbour's port carries the same link id
            neighbors.append(Neighbor(link.id, link.dst, link.id))
    return DeviceState(
        device=name,
        timestamp=sim.t,
        boot_id=int(sim.counters.boot_id[n]),
        interfaces=tuple(interfaces),
        sr_policies=_policies(sim, name),
        probes=sim.uplink_probes.at(name, sim.t),
        neighbors=tuple(neighbors),
    )
