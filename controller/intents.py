"""Intents: what a network engineer asks of the network, validated once at the door.

An `Intent` names two endpoints, a bandwidth, a service class and optional constraints. Defaults
for priority, DSCP, queue and SLA come from one table, `SERVICE_CLASSES`, and can be overridden per
intent. `to_path_request` turns an intent into the `PathRequest` that path computation places.

Units inside are bit/s and seconds; the model also accepts "10M", "2G", "150ms" at the door.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from controller.errors import NetpilotError
from controller.intent_schema import BANDWIDTH, DURATION, PREFIX, endpoint_schema
from controller.pathing.types import PathRequest
from controller.pathing.uplinks import UplinkSpec, parse_policy
from controller.topology import UplinkPolicy
from controller.units import parse_bandwidth, parse_duration

ServiceClass = Literal["voice", "production", "video", "bigdata", "office", "test"]
Protection = Literal["none", "path", "1+1"]
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"


@dataclass(frozen=True)
class ClassDefaults:
    """Per-class defaults: RSVP-TE style priority (0 highest), DSCP, egress queue and SLA."""

    priority: int
    dscp: int
    queue: int
    strict_priority: bool
    weight: int
    max_latency_s: float | None
    max_loss: float | None
    uplinks: UplinkPolicy | None = None
    """Which branch uplinks the class uses, in order (overridable per site and per intent)."""


_LEASED_FIRST = parse_policy({"prefer": ["private-line", "mpls-vpn"]})
SERVICE_CLASSES: dict[str, ClassDefaults] = {
    # ITU-T G.114: one-way mouth-to-ear under 150 ms; EF (RFC 3246) in a strict-priority queue.
    # Branch uplinks: voice and production on the leased line, then the carrier VPN.
    "voice": ClassDefaults(0, 46, 7, True, 1, 0.150, 0.01, _LEASED_FIRST),
    # Core banking / payments: AF31, tight latency, near-zero loss.
    "production": ClassDefaults(1, 26, 6, False, 40, 0.050, 0.001, _LEASED_FIRST),
    # Interactive video (AF41, RFC 4594 multimedia conferencing): 200 ms, 0.5 % loss.
    "video": ClassDefaults(2, 34, 5, False, 25, 0.200, 0.005),
    # Office applications (AF21, transactional data).
    # Office over the internet, then 5G: the leased lines stay free for what needs them.
    "office": ClassDefaults(
        4, 18, 3, False, 15, 0.300, 0.01, parse_policy({"prefer": ["internet", "5g"]})
    ),
    # Bulk replication / analytics (AF11, high-throughput data): no latency bound.
    # Bulk never on metered (volume-billed) links such as 5G.
    "bigdata": ClassDefaults(5, 10, 2, False, 15, None, 0.01, parse_policy({"metered": False})),
    # Test traffic (CS1, lower effort, RFC 8622 style scavenger).
    "test": ClassDefaults(7, 8, 1, False, 5, None, 0.05, parse_policy({"metered": False})),
}


class IntentState(StrEnum):
    ACCEPTED = "accepted"
    COMPILED = "compiled"
    INSTALLING = "installing"
    INSTALLED = "installed"
    VERIFIED = "verified"  # installed, and read back from the devices: they hold what was pushed
    DEGRADED = "degraded"
    FAILED = "failed"
    WITHDRAWING = "withdrawing"
    WITHDRAWN = "withdrawn"


ACTIVE_STATES = frozenset(
    {
        IntentState.COMPILED,
        IntentState.INSTALLING,
        IntentState.INSTALLED,
        IntentState.VERIFIED,
        IntentState.DEGRADED,
    }
)
INSTALLED_STATES = frozenset({IntentState.INSTALLED, IntentState.VERIFIED})
"""On its path and healthy: installed, verified or not (what optimize and the checks count)."""


def _bandwidth(value: Any) -> float:
    if isinstance(value, str | int | float):
        try:
            return parse_bandwidth(value, "bandwidth")
        except NetpilotError as error:  # pydantic names the field: drop the parser's prefix
            raise ValueError(str(error).removeprefix("bandwidth: ")) from None
    raise ValueError("expected a bandwidth like 10M, 2.5G or a number of bit/s")


def _duration(value: Any) -> float:
    if isinstance(value, str | int | float):
        try:
            return parse_duration(value, "duration")
        except NetpilotError as error:
            raise ValueError(str(error).removeprefix("duration: ")) from None
    raise ValueError("expected a duration like 20ms or a number of seconds")


def _latency(value: Any) -> float:
    if isinstance(value, str | int | float):
        try:
            return parse_duration(value, "latency", positive=True)
        except NetpilotError as error:
            raise ValueError(str(error).removeprefix("latency: ")) from None
    raise ValueError("expected a latency like 150ms or a number of seconds")


Bandwidth = Annotated[float, BeforeValidator(_bandwidth), Field(ge=0, le=1e13), BANDWIDTH]
Duration = Annotated[float, BeforeValidator(_duration), Field(ge=0, le=3600), DURATION]
Latency = Annotated[float, BeforeValidator(_latency), Field(gt=0, le=3600), DURATION]
"""A latency bound: positive (a bound of 0 fits no path)."""
NodeName = Annotated[str, Field(min_length=1, max_length=64)]
"""A node as an intent names it; whether the topology has it is checked at the door
(`controller.intentcheck`), since the model does not know the topology."""


class Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Endpoint(Frozen):
    """A node, or prefixes that the controller maps to a node (longest match); both allowed."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=endpoint_schema)
    node: str | None = Field(default=None, min_length=1, max_length=64)
    prefixes: tuple[str, ...] = Field(default=(), max_length=64)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        """`DC1` means a node, `10.1.0.0/16` a prefix."""
        if isinstance(value, str):
            return {"prefixes": [value]} if "/" in value else {"node": value}
        return value

    @field_validator("prefixes")
    @classmethod
    def _prefixes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        out = []
        for text in value:
            try:
                out.append(str(ipaddress.ip_network(text, strict=False)))
            except ValueError:
                raise ValueError(f"{text!r} is not an IP prefix; write e.g. 10.1.0.0/16") from None
        return tuple(out)

    @model_validator(mode="after")
    def _one_needed(self) -> Endpoint:
        if self.node is None and not self.prefixes:
            raise ValueError("give a node name or at least one prefix")
        return self


class Sla(Frozen):
    """Per-intent SLA; a missing value means the class default."""

    max_latency: Latency | None = None
    max_loss: float | None = Field(default=None, ge=0, le=1)


PROTOCOLS = {"icmp": 1, "tcp": 6, "udp": 17, "icmpv6": 58, "sctp": 132}
"""IP protocols by name (IANA numbers); a number 0..255 names any other."""
PORTED = frozenset({6, 17, 132})
"""Protocols with ports (tcp, udp, sctp)."""


def _whole(value: Any) -> Any:
    """JSON numbers such as 17.0 are integers."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _protocol(value: Any) -> int:
    value = _whole(value)
    if isinstance(value, bool):
        raise ValueError("expected a protocol name (tcp, udp, ...) or number 0..255")
    if isinstance(value, int) and 0 <= value <= 255:
        return value
    if isinstance(value, str) and value.lower() in PROTOCOLS:
        return PROTOCOLS[value.lower()]
    raise ValueError(
        f"{value!r} is not an IP protocol; use {', '.join(PROTOCOLS)} or a number 0..255"
    )


_PORT = r"(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})"
PORT_RANGE_PATTERN = f"^{_PORT}(-{_PORT})?$"


def _port_range(value: Any) -> str:
    """A port (1..65535) or range as `lo-hi` (either order)."""
    value = _whole(value)
    ok = isinstance(value, int | str) and not isinstance(value, bool)
    text = str(value).strip() if ok else ""
    if not re.match(PORT_RANGE_PATTERN, text):
        raise ValueError(
            f"{value!r} is not a port or range of ports 1..65535; write e.g. 443 or 16384-32767"
        )
    low, _, high = text.partition("-")
    lo, hi = sorted((int(low), int(high or low)))
    return str(lo) if lo == hi else f"{lo}-{hi}"


Protocol = Annotated[
    int,
    BeforeValidator(_protocol),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": 0, "maximum": 255},
                {"type": "string", "enum": sorted(PROTOCOLS)},
            ]
        }
    ),
]
PortRange = Annotated[
    str,
    BeforeValidator(_port_range),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": 1, "maximum": 65535},
                {"type": "string", "pattern": PORT_RANGE_PATTERN},
            ]
        }
    ),
]


def _prefix_list(value: tuple[str, ...]) -> tuple[str, ...]:
    out = []
    for text in value:
        try:
            out.append(str(ipaddress.ip_network(text, strict=False)))
        except ValueError:
            raise ValueError(f"{text!r} is not an IP prefix; write e.g. 10.1.0.0/16") from None
    return tuple(out)


class Match(Frozen):
    """Application classification besides DSCP: IP protocols, destination ports, prefixes."""

    # an empty match would steer all traffic: JSON Schema says "one field, not empty" as the
    # model's `_not_empty` does
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "anyOf": [
                {"required": [k], "properties": {k: {"minItems": 1}}}
                for k in ("protocols", "ports", "src_prefixes", "dst_prefixes")
            ]
        },
    )

    protocols: tuple[Protocol, ...] = Field(default=(), max_length=8)
    ports: tuple[PortRange, ...] = Field(default=(), max_length=32)
    src_prefixes: tuple[str, ...] = Field(
        default=(), max_length=64, json_schema_extra={"items": PREFIX}
    )
    dst_prefixes: tuple[str, ...] = Field(
        default=(), max_length=64, json_schema_extra={"items": PREFIX}
    )

    @field_validator("src_prefixes", "dst_prefixes")
    @classmethod
    def _prefixes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _prefix_list(value)

    @model_validator(mode="after")
    def _not_empty(self) -> Match:
        if not (self.protocols or self.ports or self.src_prefixes or self.dst_prefixes):
            raise ValueError(
                "match is empty: give protocols, ports or prefixes to match "
                "(src_prefixes, dst_prefixes), or leave match out"
            )
        return self

    def rule_protocols(self) -> tuple[int | None, ...]:
        """The protocols rules are made for: as given; ports alone mean tcp and udp."""
        if self.protocols:
            return tuple(dict.fromkeys(self.protocols))
        return (6, 17) if self.ports else (None,)

    def ports_of(self, protocol: int | None) -> tuple[str, ...]:
        """Ports bind only the protocols that have them (tcp, udp, sctp)."""
        return self.ports if protocol in PORTED else ()


class Affinities(Frozen):
    include_any: tuple[str, ...] = Field(default=(), max_length=32)
    include_all: tuple[str, ...] = Field(default=(), max_length=32)
    exclude_any: tuple[str, ...] = Field(default=(), max_length=32)


_HHMM = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DAYS: tuple[Day, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class TimeWindow(Frozen):
    """Active from `start` to `end` (UTC, HH:MM; may cross midnight) on `days` (all if empty)."""

    start: str = Field(json_schema_extra={"pattern": _HHMM.pattern})
    end: str = Field(json_schema_extra={"pattern": _HHMM.pattern})
    days: tuple[Day, ...] = ()

    @field_validator("start", "end")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        if not _HHMM.match(value):
            raise ValueError(f"{value!r} is not a time; write HH:MM in UTC, e.g. 22:00")
        return value

    def contains(self, when: datetime) -> bool:
        minute = when.hour * 60 + when.minute
        start, end = _minutes(self.start), _minutes(self.end)
        day = DAYS[when.weekday()]
        if start <= end:
            return start <= minute < end and (not self.days or day in self.days)
        if minute >= start:  # evening part of an overnight window
            return not self.days or day in self.days
        yesterday = DAYS[(when.weekday() - 1) % 7]
        return minute < end and (not self.days or yesterday in self.days)


def _minutes(hhmm: str) -> int:
    return int(hhmm[:2]) * 60 + int(hhmm[3:])


class Intent(Frozen):
    """One intent. Unknown keys are refused; every error names its field."""

    name: str = Field(pattern=NAME_PATTERN)
    src: Endpoint
    dst: Endpoint
    bandwidth: Bandwidth = 0.0
    service_class: ServiceClass = "office"
    priority: int | None = Field(default=None, ge=0, le=7)
    dscp: int | None = Field(default=None, ge=0, le=63)
    sla: Sla = Sla()
    protection: Protection = "none"
    disjoint_from: tuple[str, ...] = Field(
        default=(),
        max_length=16,
        json_schema_extra={"items": {"type": "string", "pattern": NAME_PATTERN}},
    )
    affinities: Affinities = Affinities()
    waypoints: tuple[NodeName, ...] = Field(default=(), max_length=8)
    exclude_nodes: tuple[NodeName, ...] = Field(default=(), max_length=64)
    windows: tuple[TimeWindow, ...] = Field(default=(), max_length=16)
    uplinks: UplinkSpec | None = None
    match: Match | None = None
    description: str = Field(default="", max_length=500)

    @field_validator("disjoint_from")
    @classmethod
    def _names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for other in value:
            if not re.match(NAME_PATTERN, other):
                raise ValueError(f"{other!r} is not an intent name")
        return value

    @model_validator(mode="after")
    def _self_consistent(self) -> Intent:
        if self.name in self.disjoint_from:
            raise ValueError("disjoint_from: an intent cannot be disjoint from itself")
        return self

    # -- effective values (class defaults unless overridden) ---------------------------------
    @property
    def defaults(self) -> ClassDefaults:
        return SERVICE_CLASSES[self.service_class]

    @property
    def effective_priority(self) -> int:
        return self.defaults.priority if self.priority is None else self.priority

    @property
    def effective_dscp(self) -> int:
        return self.defaults.dscp if self.dscp is None else self.dscp

    @property
    def max_latency_s(self) -> float | None:
        return self.defaults.max_latency_s if self.sla.max_latency is None else self.sla.max_latency

    @property
    def max_loss(self) -> float | None:
        return self.defaults.max_loss if self.sla.max_loss is None else self.sla.max_loss

    @property
    def uplink_policy(self) -> UplinkPolicy | None:
        """The intent's own uplink policy, else its class's."""
        return self.defaults.uplinks if self.uplinks is None else self.uplinks.policy()

    def active_at(self, when: datetime) -> bool:
        return not self.windows or any(w.contains(when) for w in self.windows)

    def spec(self) -> dict[str, Any]:
        """Canonical JSON-able form (defaults omitted) used for storage and comparison."""
        return self.model_dump(mode="json", exclude_defaults=True)


class IntentFile(Frozen):
    """The declarative file `netpilot intent apply -f` reads."""

    intents: tuple[Intent, ...] = Field(default=(), max_length=100_000)

    @model_validator(mode="after")
    def _unique(self) -> IntentFile:
        seen: set[str] = set()
        for intent in self.intents:
            if intent.name in seen:
                raise ValueError(f"intent name {intent.name!r} appears twice; names are unique")
            seen.add(intent.name)
        return self


class PrefixMap:
    """Longest-prefix match from IP prefixes to nodes (site prefixes, loopbacks, locators)."""

    def __init__(self, entries: Mapping[str, str]) -> None:
        self._nets = sorted(
            ((ipaddress.ip_network(p, strict=False), node) for p, node in entries.items()),
            key=lambda item: -item[0].prefixlen,
        )

    def lookup(self, prefix: str) -> str | None:
        net = ipaddress.ip_network(prefix, strict=False)
        for candidate, node in self._nets:
            if net.version == candidate.version and net.subnet_of(candidate):  # type: ignore[arg-type]
                return node
        return None


def resolve_node(endpoint: Endpoint, prefixes: PrefixMap, field: str) -> str:
    """The node an endpoint sits on; prefixes are looked up when no node is named."""
    if endpoint.node is not None:
        return endpoint.node
    for prefix in endpoint.prefixes:
        node = prefixes.lookup(prefix)
        if node is not None:
            return node
    raise UnresolvedEndpoint(
        f"{field}: no node owns {', '.join(endpoint.prefixes)}; name the node or add the prefix "
        "to the controller's prefix map (--prefixes)"
    )


class UnresolvedEndpoint(NetpilotError):
    """An endpoint prefix maps to no node."""


def to_path_request(
    intent: Intent,
    resolve: Callable[[Endpoint, str], str],
    exclude_links: frozenset[str] = frozenset(),
    exclude_nodes: frozenset[str] = frozenset(),
) -> PathRequest:
    """The PathRequest that places `intent`; protection asks for an SRLG-disjoint backup
    (no shared link or shared-risk group; the placer reports shared risks it cannot avoid)."""
    priority = intent.effective_priority
    return PathRequest(
        name=intent.name,
        src=resolve(intent.src, "src"),
        dst=resolve(intent.dst, "dst"),
        bandwidth_bps=intent.bandwidth,
        max_latency_s=intent.max_latency_s,
        include_any=frozenset(intent.affinities.include_any),
        include_all=frozenset(intent.affinities.include_all),
        exclude_any=frozenset(intent.affinities.exclude_any),
        exclude_nodes=frozenset(intent.exclude_nodes) | exclude_nodes,
        exclude_links=exclude_links,
        objective="latency" if intent.service_class in ("voice", "production") else "igp",
        setup_priority=priority,
        hold_priority=priority,
        disjoint="srlg" if intent.protection != "none" else None,
        service_class=intent.service_class,
        uplinks=intent.uplink_policy,
        uplinks_from_intent=intent.uplinks is not None,
    )


def now_utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def class_table_markdown() -> str:
    """The service-class table as Markdown (docs/intents.md embeds it; a test keeps them equal)."""
    rows = [
        "| class | priority | DSCP | queue | scheduling | max latency | max loss | uplinks |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, c in SERVICE_CLASSES.items():
        sched = "strict priority" if c.strict_priority else f"weight {c.weight}"
        latency = "none" if c.max_latency_s is None else f"{c.max_latency_s * 1e3:g} ms"
        loss = "none" if c.max_loss is None else f"{c.max_loss:.1%}"
        uplinks = "any" if c.uplinks is None else c.uplinks.text()
        rows.append(
            f"| {name} | {c.priority} | {c.dscp} | {c.queue} | {sched} | {latency} | {loss} "
            f"| {uplinks} |"
        )
    return "\n".join(rows)


def field_table_markdown() -> str:
    """The intent fields as Markdown, from the model itself."""
    rows = ["| field | type | default | meaning |", "| --- | --- | --- | --- |"]
    for name, info in Intent.model_fields.items():
        annotation = getattr(info.annotation, "__name__", None) or str(info.annotation)
        annotation = annotation.replace("typing.", "").replace("controller.intents.", "")
        annotation = annotation.replace("controller.pathing.uplinks.", "")
        annotation = annotation.replace(" | ", " or ")
        default = info.get_default()
        if info.is_required():
            shown = "required"
        elif isinstance(default, BaseModel):
            shown = "class default" if name == "sla" else "none"
        else:
            shown = "none" if default in (None, ()) else repr(default)
        rows.append(f"| `{name}` | `{annotation}` | {shown} | {FIELD_HELP.get(name, '')} |")
    return "\n".join(rows)


FIELD_HELP = {
    "name": "unique; letters, digits, `_.-`, up to 63 characters",
    "src": "head end: a node (`DC1`), a prefix (`10.1.0.0/16`) or `{node, prefixes}`",
    "dst": "tail end, same forms; its prefixes also become steering rules",
    "bandwidth": "bit/s or `10M`, `2.5G`; reserved along the path (and the backup)",
    "service_class": "voice, production, video, bigdata, office or test (table below)",
    "priority": "override the class priority (0 highest .. 7 lowest; preemption)",
    "dscp": "override the class DSCP (0..63) used for steering and its queue",
    "sla": "`max_latency` (`150ms`) and `max_loss` (0..1); class defaults otherwise",
    "protection": "`none`, `path` (SRLG-disjoint backup candidate path) or `1+1` (twin policy)",
    "disjoint_from": "other intents whose primary links this one must avoid",
    "affinities": "`include_any`, `include_all`, `exclude_any` link affinities",
    "waypoints": "nodes to pass through in order (placed leg by leg)",
    "exclude_nodes": "nodes the path must not cross",
    "windows": "active only in these UTC windows (`start`, `end` HH:MM, optional `days`)",
    "uplinks": "branch uplinks in order (`prefer`), `exclude`, `metered`; site, class otherwise",
    "match": "application: `protocols`, `ports` (`443`, `16384-32767`), `src_prefixes`, "
    "`dst_prefixes`",
    "description": "free text",
}
