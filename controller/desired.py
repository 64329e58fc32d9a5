"""Desired per-device configuration: what the compiler produces and the southbound installs.

Plain frozen dataclasses with a deterministic order (tuples sorted by key) so that two compiles of
the same input are equal and diffs are minimal. Rendering to YANG-modelled XML lives in
`controller/southbound`; nothing here knows about NETCONF.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SegmentList:
    """An explicit SRv6 segment list; `weight` splits traffic across lists of one candidate path."""

    name: str
    sids: tuple[str, ...]
    weight: int = 1


@dataclass(frozen=True)
class CandidatePath:
    """Higher preference wins while valid (RFC 9256)."""

    name: str
    preference: int
    segment_lists: tuple[SegmentList, ...]


@dataclass(frozen=True)
class SrPolicy:
    """SR policy at a head end, keyed by (color, endpoint) as in the IETF SR-policy model."""

    color: int
    endpoint: str
    name: str
    candidate_paths: tuple[CandidatePath, ...]
    bandwidth_bps: float = 0.0
    binding_sid: str | None = None

    @property
    def key(self) -> tuple[int, str]:
        return (self.color, self.endpoint)


@dataclass(frozen=True)
class SteeringRule:
    """Traffic matching every given field goes into policy (color, endpoint): DSCP, destination
    prefix and, for application classification, IP protocol (IANA number), destination ports
    (`"443"` or a range `"16384-32767"`) and source prefixes (any of them)."""

    name: str
    color: int
    endpoint: str
    dscp: int | None = None
    prefix: str | None = None
    protocol: int | None = None
    ports: tuple[str, ...] = ()
    src_prefixes: tuple[str, ...] = ()

    def __post_init__(self) -> None:  # JSON gives lists: keep equal configs equal
        object.__setattr__(self, "ports", tuple(self.ports))
        object.__setattr__(self, "src_prefixes", tuple(self.src_prefixes))


@dataclass(frozen=True)
class QosQueue:
    """One class queue on every interface: strict priority or a weight, optional rate limit."""

    service_class: str
    queue: int
    dscp: tuple[int, ...]
    priority: bool = False
    weight: int = 1
    rate_limit_bps: float | None = None


@dataclass(frozen=True)
class QosShare:
    """A class's share of one interface, following what is placed there (controller/qos.py):
    a guaranteed rate, a scheduling weight and, for classes that must not exceed it, a policer."""

    interface: str
    service_class: str
    guaranteed_bps: float
    weight: int = 1
    policer_bps: float | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.interface, self.service_class)


@dataclass(frozen=True)
class DeviceConfig:
    """Everything netpilot manages on one router."""

    device: str
    sr_policies: tuple[SrPolicy, ...] = ()
    steering: tuple[SteeringRule, ...] = ()
    qos: tuple[QosQueue, ...] = field(default=())
    shares: tuple[QosShare, ...] = ()


NetworkConfig = dict[str, DeviceConfig]
"""Device name -> its desired config; a network-wide revision."""
