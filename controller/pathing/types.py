"""Requests and results of path computation, shared by the engine, the compiler and the CLI."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from controller.topology import LinkKey

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


@dataclass
class PlacementResult:
    """Outcome of placing many requests: placed, unplaced with the reason, preempted names."""

    placed: dict[str, Placement] = field(default_factory=dict)
    unplaced: dict[str, str] = field(default_factory=dict)
    preempted: list[str] = field(default_factory=list)
