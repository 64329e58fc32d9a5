"""Requests and results of path computation, shared by the engine, the compiler and the CLI."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from controller.topology import LinkKey, UplinkPolicy

Objective = Literal["igp", "te", "latency", "hops"]
Disjointness = Literal["link", "node", "srlg"]


@dataclass(frozen=True)
class PathRequest:
    """What one intent asks of the network. Priorities follow RSVP-TE: 0 is highest, 7 lowest."""

    name: str
    src: str
    dst: str
    bandwidth_bps: float = 0.0
    max_latency_s: float | None = None
    max_hops: int | None = None
    include_any: frozenset[str] = frozenset()
    include_all: frozenset[str] = frozenset()
    exclude_any: frozenset[str] = frozenset()
    exclude_nodes: frozenset[str] = frozenset()
    exclude_links: frozenset[str] = frozenset()
    exclude_srlgs: frozenset[str] = frozenset()
    objective: Objective = "igp"
    setup_priority: int = 7
    hold_priority: int = 7
    disjoint: Disjointness | None = None
    service_class: str = ""
    """Looks up the site's uplink policy for this class (`Node.uplinks`)."""
    uplinks: UplinkPolicy | None = None
    """The class default or, with `uplinks_from_intent`, the intent's own policy (which wins
    over the site's)."""
    uplinks_from_intent: bool = False
    transports: frozenset[str] | None = None
    """Only links with one of these transports, or none, may carry it (set per uplink tier)."""
    metered: bool = True
    """False: never on metered links."""


@dataclass(frozen=True)
class Path:
    """A loop-free path as directed link keys, with its figures."""

    nodes: tuple[str, ...]
    links: tuple[LinkKey, ...]
    latency_s: float
    cost: float
    sids: tuple[str, ...] = ()

    @property
    def hops(self) -> int:
        return len(self.links)


@dataclass(frozen=True)
class Placement:
    """Where one request went: its primary path and, with protection, a backup."""

    request: PathRequest
    primary: Path
    backup: Path | None = None
    shared_risks: tuple[str, ...] = ()
    shares: tuple[tuple[Path, int], ...] = ()
    """Load-sharing over several uplinks: (path, weight) pairs, the primary first; empty when
    the primary carries everything."""
    tier: str = ""
    """The uplink tier that carries it (e.g. `private-line`), when a policy applied."""

    @property
    def paths(self) -> tuple[Path, ...]:
        """Every path that carries its traffic (the shares, or the primary)."""
        return tuple(p for p, _ in self.shares) if self.shares else (self.primary,)


@dataclass
class PlacementResult:
    """Outcome of placing many requests: placed, unplaced with the reason, preempted names."""

    placed: dict[str, Placement] = field(default_factory=dict)
    unplaced: dict[str, str] = field(default_factory=dict)
    preempted: list[str] = field(default_factory=list)
