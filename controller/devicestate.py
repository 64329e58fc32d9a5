"""Device operational state: the data model of what a router reports (pure dataclasses, no I/O).

Routers produce it (the simulated ones in harness/ render it from the simulation), the southbound
parses it from NETCONF `<get>` replies (controller/southbound/state_xml.py, per the netpilot YANG
module's config-false part), telemetry turns it into rates and link state, and the models read its
optics and error fields. It lives in the pure core so that none of those has to import another.
Counters are cumulative and may wrap (64-bit) or reset on restart; collectors compute rates.

Interface naming: a router's interface for a directed link is named by the link id (unique among
a router's outgoing links), so `InterfaceState.name == Link.id` for `Link.src == device`.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class QueueStats:
    """One class queue on one interface."""

    service_class: str
    queue: int
    tx_octets: int = 0
    tx_packets: int = 0
    dropped_packets: int = 0
    depth_bytes: int = 0
    delay_s: float = 0.0


@dataclass(frozen=True)
class InterfaceState:
    name: str
    oper_up: bool = True
    speed_bps: float = 0.0
    in_octets: int = 0
    out_octets: int = 0
    in_packets: int = 0
    out_packets: int = 0
    in_errors: int = 0
    out_errors: int = 0
    in_discards: int = 0
    out_discards: int = 0
    crc_errors: int = 0
    rx_power_dbm: float | None = None
    tx_bias_ma: float | None = None
    delay_s: float | None = None
    queues: tuple[QueueStats, ...] = ()


@dataclass(frozen=True)
class PolicyState:
    """Operational state of one SR policy at its head end."""

    color: int
    endpoint: str
    up: bool
    active_candidate_path: str | None = None


@dataclass(frozen=True)
class UplinkProbe:
    """One window of active (TWAMP-light style) probes on an uplink, from the branch router:
    mean one-way delay, jitter (RFC 3550 interarrival estimate) and loss of `sent` probes."""

    link: str
    seq: int
    """Window number: a new window has a higher one (the router reports its last few)."""
    at: float
    delay_s: float
    jitter_s: float
    loss: float
    sent: int


@dataclass(frozen=True)
class Neighbor:
    """An LLDP neighbour seen on one of the router's interfaces: the neighbour's system name
    and the port it sent from (the reverse link's id, with netpilot's interface naming)."""

    interface: str
    system: str
    port: str


@dataclass(frozen=True)
class DeviceState:
    device: str
    timestamp: float
    boot_id: int = 0
    interfaces: tuple[InterfaceState, ...] = ()
    sr_policies: tuple[PolicyState, ...] = field(default=())
    probes: tuple[UplinkProbe, ...] = ()
    neighbors: tuple[Neighbor, ...] = ()  # LLDP
