"""Fault scenarios: a YAML file of timed events, validated with pydantic, evaluated at time t.

Example (times take units: 90s, 10m, 2h):

    name: fibre-cut
    intents:                      # flows whose SLA the simulation reports
      - {name: trading, src: "0", dst: "9", service_class: voice, max_latency: 30ms}
    events:
      - {kind: link_down, link: "0-2", at: 10m, until: 20m}
      - {kind: flap, link: "1-6", at: 30m, period: 1m, count: 3}
      - {kind: capacity_loss, link: "3-4", at: 5m, fraction: 0.5}
      - {kind: degrade, link: "0-9", signal: rx_power, at: 1h, ramp: 30m, amount: 8, fail_at: 1h40m,
         repair_at: 2h}
      - {kind: decoy, link: "2-5", signal: crc, at: 1h, ramp: 20m, amount: 1e-4}
      - {kind: surge, src: "0", dst: "9", peak: 17G, at: 40m, ramp: 10m, until: 55m, class: test}
      - {kind: device_unreachable, node: "3", at: 2m, until: 3m}

Signals of `degrade` and `decoy` (the precursors of a failure, or look-alikes that recover):
`crc` (packet error ratio reaching `amount`, rising exponentially), `rx_power` (optical receive
power drifting down by `amount` dB), `tx_bias` (laser bias climbing by `amount` mA to a plateau),
`latency` (delay creeping up by `amount`, a duration). `fail_at` takes the link down;
`repair_at` ends the degradation (part replaced: link up, signals healthy). A decoy rises and
falls back by the end of its ramp and never fails.

`surge` adds `peak` bit/s of traffic from `src` to `dst` in service class `class` (default
test), ramping in over `ramp` from `at` and gone at `until` (harness/surge.py). A
`device_unreachable` router stops answering NETCONF from `at` to `until` (for good without
`until`) while its forwarding plane keeps working; only `netpilot network run` enforces it.
A `brownout` impairs an uplink that stays up, as its branch router's active probes see it
(harness/uplink_probes.py): `loss` (0..1), extra `delay` and `jitter` (durations), e.g.
`{kind: brownout, link: BR1-internet, loss: 0.05, delay: 20ms, jitter: 5ms, at: 1m, until: 5m}`.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import pydantic
import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from controller.errors import NotFoundError, UsageError, ValidationError
from controller.textfile import CONFIG_LIMIT, StrictLoader, read_text, yaml_problem
from controller.units import parse_bandwidth, parse_duration
from harness.routing import LinkIndex
from harness.surge import Surge


class ScenarioError(ValidationError):
    """A scenario file that cannot be read, or that does not fit the topology (exit code 2)."""

    exit_code = 2


def _duration(value: Any) -> float:
    try:
        return parse_duration(value)
    except UsageError as error:
        raise ValueError(str(error).split(": ", 1)[-1]) from None


Duration = Annotated[float, BeforeValidator(_duration)]


def _bandwidth(value: Any) -> float:
    try:
        return parse_bandwidth(value)
    except UsageError as error:
        raise ValueError(str(error).split(": ", 1)[-1]) from None


Bandwidth = Annotated[float, BeforeValidator(_bandwidth)]
ServiceClass = Literal["voice", "production", "video", "bigdata", "office", "test"]


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    at: Duration


class LinkDown(_Event):
    kind: Literal["link_down"]
    link: str
    until: Duration | None = None


class LinkUp(_Event):
    kind: Literal["link_up"]
    link: str


class NodeDown(_Event):
    kind: Literal["node_down"]
    node: str
    until: Duration | None = None


class NodeUp(_Event):
    kind: Literal["node_up"]
    node: str


class Flap(_Event):
    kind: Literal["flap"]
    link: str
    period: Duration = Field(gt=0)
    count: int = Field(default=3, ge=1)


class CapacityLoss(_Event):
    kind: Literal["capacity_loss"]
    link: str
    fraction: float = Field(gt=0, le=1)
    until: Duration | None = None


Signal = Literal["crc", "rx_power", "tx_bias", "latency"]


def _magnitude(signal: str, amount: float | str) -> float:
    if signal == "latency":
        return _duration(amount)
    try:
        value = float(amount)
    except ValueError:
        raise ValueError(f"{amount!r} is not a number") from None
    if signal == "crc" and not 0 <= value <= 1:
        raise ValueError(f"a crc amount is a packet error ratio in 0..1, got {value}")
    return value


class Degrade(_Event):
    kind: Literal["degrade"]
    link: str
    signal: Signal
    ramp: Duration = Field(gt=0)
    amount: float | str
    shape: Literal["ramp", "plateau"] = "ramp"
    fail_at: Duration | None = None
    repair_at: Duration | None = None

    def magnitude(self) -> float:
        return _magnitude(self.signal, self.amount)


class Decoy(_Event):
    kind: Literal["decoy"]
    link: str
    signal: Signal
    ramp: Duration = Field(gt=0)
    amount: float | str

    def magnitude(self) -> float:
        return _magnitude(self.signal, self.amount)


class TrafficSurge(_Event):
    """Extra traffic (`peak` bit/s) from `src` to `dst` in `class`, ramping in from `at`."""

    kind: Literal["surge"]
    src: str
    dst: str
    peak: Bandwidth = Field(gt=0)
    ramp: Duration = Field(default=0.0, ge=0)
    until: Duration
    cls: ServiceClass = Field(default="test", alias="class")

    @model_validator(mode="after")
    def _ordered(self) -> TrafficSurge:
        if self.until <= self.at:
            raise ValueError(f"until ({self.until:g}s) must come after at ({self.at:g}s)")
        if self.src == self.dst:
            raise ValueError(f"src and dst are both {self.src!r}; give two different routers")
        return self

    def surge(self) -> Surge:
        return Surge(self.src, self.dst, self.peak, self.at, self.ramp, self.until, self.cls)


class DeviceUnreachable(_Event):
    """Router `node` stops answering NETCONF from `at` to `until`; it keeps forwarding."""

    kind: Literal["device_unreachable"]
    node: str
    until: Duration | None = None

    @model_validator(mode="after")
    def _ordered(self) -> DeviceUnreachable:
        if self.until is not None and self.until <= self.at:
            raise ValueError(f"until ({self.until:g}s) must come after at ({self.at:g}s)")
        return self


class Brownout(_Event):
    """An uplink that stays up but loses, delays and jitters (what its probes measure)."""

    kind: Literal["brownout"]
    link: str
    loss: float = Field(default=0.0, ge=0, le=1)
    delay: Duration = Field(default=0.0, ge=0)
    jitter: Duration = Field(default=0.0, ge=0)
    until: Duration | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Brownout:
        if self.until is not None and self.until <= self.at:
            raise ValueError(f"until ({self.until:g}s) must come after at ({self.at:g}s)")
        if self.loss == 0 and self.delay == 0 and self.jitter == 0:
            raise ValueError("a brownout needs loss, delay or jitter, e.g. loss: 0.05")
        return self


Event = Annotated[
    LinkDown
    | LinkUp
    | NodeDown
    | NodeUp
    | Flap
    | CapacityLoss
    | Degrade
    | Decoy
    | TrafficSurge
    | DeviceUnreachable
    | Brownout,
    Field(discriminator="kind"),
]


class WatchIntent(BaseModel):
    """A flow whose latency and loss the simulation reports against an SLA."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    src: str
    dst: str
    service_class: ServiceClass = "production"
    max_latency: Duration | None = None
    max_loss: float = Field(default=0.01, ge=0, le=1)


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = "scenario"
    description: str = ""
    intents: list[WatchIntent] = []
    events: list[Event] = []


_KINDS = {
    "link_down",
    "link_up",
    "node_down",
    "node_up",
    "flap",
    "capacity_loss",
    "degrade",
    "decoy",
    "surge",
    "device_unreachable",
    "brownout",
}


def _problems(error: pydantic.ValidationError) -> list[str]:
    out = []
    for item in error.errors():
        loc = ""
        for part in item["loc"]:
            if isinstance(part, int):
                loc += f"[{part}]"
            elif part not in _KINDS:
                loc += f".{part}" if loc else str(part)
        msg = item["msg"].removeprefix("Value error, ")
        if item["type"] == "union_tag_invalid":
            msg = f"unknown kind; use one of {', '.join(sorted(_KINDS))}"
        out.append(f"{loc or 'scenario'}: {msg}")
    return out


def parse_scenario(data: Any, source: str = "scenario") -> Scenario:
    """Validate a parsed YAML document; raise ScenarioError naming each bad field."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ScenarioError(source, ["the file must be a mapping with 'events:' (and 'intents:')"])
    try:
        scenario = Scenario.model_validate(data)
    except pydantic.ValidationError as error:
        raise ScenarioError(source, _problems(error)) from None
    bad = []
    for i, ev in enumerate(scenario.events):
        if isinstance(ev, Degrade | Decoy):
            try:
                ev.magnitude()
            except ValueError as error:
                bad.append(f"events[{i}].amount: {error}")
    if bad:
        raise ScenarioError(source, bad)
    return scenario


def load_scenario(path: Path) -> Scenario:
    if not path.is_file():
        raise NotFoundError(f"scenario file not found: {path}")
    text = read_text(path, "scenario", CONFIG_LIMIT)  # size-checked before reading, UTF-8
    try:
        data = yaml.load(text, Loader=StrictLoader)  # a SafeLoader subclass
    except yaml.YAMLError as error:
        raise ScenarioError(str(path), [f"not valid YAML: {yaml_problem(error, text)}"]) from None
    return parse_scenario(data, str(path))


def _unknown(kind: str, name: str, known: set[str], topology: str) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"e.g. {', '.join(sorted(known)[:3])}"
    return f"unknown {kind} {name!r} in topology {topology!r}; {hint}"


def check_against(scenario: Scenario, index: LinkIndex, source: str = "scenario") -> None:
    """Every link, node and endpoint must exist in the topology; the message names both."""
    links = {lk.id for lk in index.links}
    nodes = set(index.node_idx)
    topology = index.topology.name
    problems = []
    for i, ev in enumerate(scenario.events):
        link = getattr(ev, "link", None)
        if link is not None and link not in links:
            problems.append(f"events[{i}].link: {_unknown('link', link, links, topology)}")
        for end in ("node", "src", "dst"):
            node = getattr(ev, end, None)
            if node is not None and node not in nodes:
                problems.append(f"events[{i}].{end}: {_unknown('node', node, nodes, topology)}")
    for i, intent in enumerate(scenario.intents):
        for end in ("src", "dst"):
            name = getattr(intent, end)
            if name not in nodes:
                problems.append(f"intents[{i}].{end}: {_unknown('node', name, nodes, topology)}")
    if problems:
        raise ScenarioError(source, problems)


def surges(scenario: Scenario) -> list[Surge]:
    """The scenario's traffic surges, in file order."""
    return [ev.surge() for ev in scenario.events if isinstance(ev, TrafficSurge)]


def unreachable_at(scenario: Scenario, t: float) -> set[str]:
    """Routers whose NETCONF server does not answer at time t (`device_unreachable`)."""
    return {
        ev.node
        for ev in scenario.events
        if isinstance(ev, DeviceUnreachable) and ev.at <= t and (ev.until is None or t < ev.until)
    }


@dataclass
class FaultState:
    """Per directed link (and node) at one instant."""

    link_up: np.ndarray
    node_up: np.ndarray
    capacity_factor: np.ndarray
    error_ratio: np.ndarray
    rx_power_offset_db: np.ndarray
    tx_bias_offset_ma: np.ndarray
    extra_delay_s: np.ndarray
    probe_loss: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """Per directed link: brownout loss of the uplink's probes (empty: none)."""
    probe_jitter_s: np.ndarray = field(default_factory=lambda: np.zeros(0))


def _progress(ev: Degrade | Decoy, t: float) -> float:
    x = (t - ev.at) / ev.ramp
    if x <= 0:
        return 0.0
    if isinstance(ev, Decoy):
        return math.sin(math.pi * x) if x < 1 else 0.0
    if ev.shape == "plateau":
        return 1.0 - math.exp(-3.0 * x)
    x = min(x, 1.0)
    if ev.signal == "crc":
        return (math.exp(5.0 * x) - 1.0) / (math.exp(5.0) - 1.0)
    return x


class FaultPlan:
    """Evaluates a scenario's events at any time t for one LinkIndex."""

    def __init__(self, scenario: Scenario, index: LinkIndex) -> None:
        check_against(scenario, index)
        self.scenario = scenario
        self.index = index
        self._dirs = {lk.id: index.links_of_id(lk.id) for lk in index.links}
        self._state_events = sorted(
            [e for e in scenario.events if isinstance(e, LinkDown | LinkUp | NodeDown | NodeUp)],
            key=lambda e: e.at,
        )

    def at(self, t: float) -> FaultState:
        idx = self.index
        n_links = idx.n_links
        st = FaultState(
            link_up=np.ones(n_links, dtype=bool),
            node_up=np.ones(idx.n_nodes, dtype=bool),
            capacity_factor=np.ones(n_links),
            error_ratio=np.zeros(n_links),
            rx_power_offset_db=np.zeros(n_links),
            tx_bias_offset_ma=np.zeros(n_links),
            extra_delay_s=np.zeros(n_links),
            probe_loss=np.zeros(n_links),
            probe_jitter_s=np.zeros(n_links),
        )
        self._apply_states(st, t)
        for ev in self.scenario.events:
            self._apply_one(st, ev, t)
        return st

    def _apply_states(self, st: FaultState, t: float) -> None:
        for ev in self._state_events:
            if ev.at > t:
                break
            up = isinstance(ev, LinkUp | NodeUp)
            if isinstance(ev, LinkDown | NodeDown) and ev.until is not None and t >= ev.until:
                up = True
            if isinstance(ev, LinkDown | LinkUp):
                st.link_up[self._dirs[ev.link]] = up
            else:
                st.node_up[self.index.node_idx[ev.node]] = up

    def _apply_one(self, st: FaultState, ev: Event, t: float) -> None:
        if isinstance(ev, Brownout):
            self._brownout(st, ev, t)
        elif isinstance(ev, Flap):
            k = (t - ev.at) / ev.period
            if 0 <= k < ev.count and (k % 1.0) < 0.5:
                st.link_up[self._dirs[ev.link]] = False
        elif isinstance(ev, CapacityLoss):
            if ev.at <= t and (ev.until is None or t < ev.until):
                st.capacity_factor[self._dirs[ev.link]] *= 1.0 - ev.fraction
        elif isinstance(ev, Degrade | Decoy):
            if isinstance(ev, Degrade) and ev.repair_at is not None and t >= ev.repair_at:
                return
            dirs = self._dirs[ev.link]
            value = ev.magnitude() * _progress(ev, t)
            if ev.signal == "crc":
                st.error_ratio[dirs] = 1 - (1 - st.error_ratio[dirs]) * (1 - min(value, 1.0))
            elif ev.signal == "rx_power":
                st.rx_power_offset_db[dirs] -= value
            elif ev.signal == "tx_bias":
                st.tx_bias_offset_ma[dirs] += value
            else:
                st.extra_delay_s[dirs] += value
            if isinstance(ev, Degrade) and ev.fail_at is not None and t >= ev.fail_at:
                st.link_up[dirs] = False

    def _brownout(self, st: FaultState, ev: Brownout, t: float) -> None:
        if ev.at <= t and (ev.until is None or t < ev.until):
            dirs = self._dirs[ev.link]
            st.probe_loss[dirs] = 1 - (1 - st.probe_loss[dirs]) * (1 - ev.loss)
            st.probe_jitter_s[dirs] += ev.jitter
            st.extra_delay_s[dirs] += ev.delay
