"""What the incident correlator reads and writes: symptoms in, incidents out (docs/incidents.md).

A `Symptom` is one observation with the time it was made: a link down or up, a loss alarm (and
its clearing), an intent's SLA miss, a device unreachable (and reachable again). An `Incident`
groups the symptoms of one cause, names its probable root cause (`Cause`, with the other
candidates ranked after it) and keeps the evidence and its times: first seen (earliest
symptom), identified (the incident opened), located (root cause named), resolved.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

SymptomKind = Literal[
    "link_down", "link_up", "loss", "loss_clear", "sla_miss", "unreachable", "reachable"
]
SYMPTOM_KINDS: tuple[str, ...] = SymptomKind.__args__  # type: ignore[attr-defined]
CauseKind = Literal["srlg", "linecard", "node", "link"]
CAUSE_KINDS: tuple[CauseKind, ...] = ("srlg", "linecard", "node", "link")
State = Literal["open", "resolved"]


MissReason = Literal["latency", "loss", "unreachable"]


@dataclass(frozen=True)
class SlaFigures:
    """An SLA miss as measured: what broke (`reason`), the path's measured latency and loss
    (loss 1.0 when unreachable) and the intent's SLA (None: no bound)."""

    reason: MissReason
    latency_s: float | None
    loss: float
    max_latency_s: float | None
    max_loss: float | None
    source: str = "telemetry"
    """Who measured it: `telemetry` (link delay and loss along the path), `link-state` (a
    router reported a link of the path down) or `probes` (branch uplink probes)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "reason": self.reason,
            "source": self.source,
            "measured": {"latency_ms": _ms(self.latency_s), "loss": round(self.loss, 6)},
            "sla": {"max_latency_ms": _ms(self.max_latency_s), "max_loss": self.max_loss},
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> SlaFigures:
        measured, sla = raw["measured"], raw["sla"]
        latency, bound = _s(measured["latency_ms"]), _s(sla["max_latency_ms"])
        source = raw.get("source", "telemetry")
        return cls(raw["reason"], latency, float(measured["loss"]), bound, sla["max_loss"], source)


@dataclass(frozen=True)
class Symptom:
    """`subject`: the link (link_*, loss*), the device (unreachable, reachable) or the intent
    (sla_miss); `links`: the links an SLA miss's path crosses; `detail`: who said it and how;
    `sla`: an SLA miss's measured figures and the SLA they break."""

    at: float
    kind: SymptomKind
    subject: str
    links: tuple[str, ...] = ()
    detail: str = ""
    sla: SlaFigures | None = None

    @property
    def touches(self) -> tuple[str, ...]:
        """The links this symptom is about."""
        if self.kind in ("sla_miss",):
            return self.links
        if self.kind in ("unreachable", "reachable"):
            return ()
        return (self.subject,)


@dataclass(frozen=True)
class Cause:
    """A candidate root cause: `members` are the links it takes down; `explains` how many of the
    incident's down links it accounts for; `seen` the share of its members seen down."""

    kind: CauseKind
    name: str
    members: frozenset[str]
    explains: int = 0
    seen: float = 0.0
    confidence: float = 0.0
    where: str = ""
    """The router of a node or a line card ('' otherwise)."""

    @property
    def key(self) -> tuple[str, str]:
        return (self.kind, self.name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "confidence": round(self.confidence, 3),
            "explains": self.explains,
            "members": sorted(self.members),
            "members_down": round(self.seen, 3),
            **({"router": self.where} if self.where else {}),
        }


@dataclass
class Incident:
    id: str
    identified_at: float
    first_seen: float
    state: State = "open"
    root: Cause | None = None
    ranking: list[Cause] = field(default_factory=list)
    evidence: list[Symptom] = field(default_factory=list)
    links: set[str] = field(default_factory=set)
    """Links seen down in this incident (whether or not they are back up)."""
    devices: set[str] = field(default_factory=set)
    """Devices seen unreachable in this incident."""
    lossy: set[str] = field(default_factory=set)
    """Links with a loss alarm that has not cleared."""
    last_symptom: float = 0.0
    located_at: float | None = None
    resolved_at: float | None = None
    revisions: int = 0
    """Times the root cause changed after it was located."""
    reopened: int = 0
    """Times it was reopened (a link of it down again soon after it resolved)."""

    def to_dict(self) -> dict[str, Any]:
        root = self.root.to_dict() if self.root is not None else None
        return {
            "id": self.id,
            "state": self.state,
            "root_cause": root,
            "ranking": [c.to_dict() for c in self.ranking],
            "first_seen": self.first_seen,
            "identified_at": self.identified_at,
            "located_at": self.located_at,
            "resolved_at": self.resolved_at,
            "links": sorted(self.links),
            "devices": sorted(self.devices),
            "revisions": self.revisions,
            "reopened": self.reopened,
            "evidence": [_evidence(s) for s in self.evidence],
        }

    def summary(self) -> str:
        """One line: `inc-3 srlg conduit-dc1-dc2 (2 links down, 5 symptoms)`."""
        what = f"{self.root.kind} {self.root.name}" if self.root else "cause not named yet"
        return f"{self.id} {what} ({len(self.links)} links down, {len(self.evidence)} symptoms)"


@dataclass(frozen=True)
class Change:
    """What happened to an incident: opened, updated, located, relocated, resolved."""

    what: str
    incident: str
    at: float
    text: str


def incident_number(incident_id: str) -> int:
    """The N of an incident id `inc-N` (0 for an id of another shape): the order it is kept in."""
    _, _, number = incident_id.rpartition("-")
    return int(number) if number.isdigit() else 0


def _evidence(s: Symptom) -> dict[str, Any]:
    out: dict[str, Any] = {"at": s.at, "kind": s.kind, "subject": s.subject}
    if s.links:
        out["links"] = list(s.links)
    if s.detail:
        out["detail"] = s.detail
    if s.sla is not None:
        out.update(s.sla.to_dict())
    return out


def symptom_from_dict(raw: Mapping[str, Any]) -> Symptom:
    """The inverse of an evidence entry (`Incident.to_dict()["evidence"][i]`)."""
    sla = SlaFigures.from_dict(raw) if "measured" in raw else None
    return Symptom(float(raw["at"]), raw["kind"], raw["subject"], tuple(raw.get("links", ())),
                   raw.get("detail", ""), sla)  # fmt: skip


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1e3, 3)


def _s(ms: float | None) -> float | None:
    return None if ms is None else ms / 1e3
