"""Placing many requests as a PCE does: by priority then bandwidth, CSPF on residual capacity.

Requests are taken by setup priority (0 first), then larger bandwidth first, then name. Each gets
a CSPF path against the bandwidth it may use (capacity minus holdings of equal or higher hold
priority); if the path then crosses links without enough free bandwidth, the weakest holders there
are preempted (reported in `preempted`) and re-placed at the end if room remains. Requests with
`disjoint` get a backup path (min-cost disjoint pair, or the most disjoint pair with its shared
risks); both paths hold the bandwidth (1+1 standby). Paths carry their SRv6 SID lists.

`existing` placements are kept when their request is unchanged and their paths are still up,
within the constraints and within the free bandwidth; only the others are recomputed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from controller.errors import PathError, ValidationError
from controller.pathing.cspf import (
    Bounds,
    Room,
    cspf_links,
    link_allowed,
    path_cost,
    static_mask,
)
from controller.pathing.disjoint import disjoint_pair
from controller.pathing.graph import PathGraph
from controller.pathing.ledger import Ledger, Parts
from controller.pathing.sids import IgpRouting, with_sids
from controller.pathing.tiered import conflicts, place_tiers
from controller.pathing.tiers import applied_policy
from controller.pathing.types import PathRequest, Placement, PlacementResult
from controller.topology import Topology


def place(
    topology: Topology,
    requests: Sequence[PathRequest],
    existing: Mapping[str, Placement] | None = None,
    *,
    resegment: bool = False,
) -> PlacementResult:
    """Place `requests` on `topology`, keeping still-valid `existing` placements.

    Kept placements are returned as the same objects. With `resegment`, their SID lists are
    re-encoded for today's IGP (a new object when the list changed): after a link change an old
    list can steer traffic off the recorded path (check with `sids.expand`).
    """
    _check_requests(topology, requests)
    planner = Planner.of(topology)
    kept = planner.keep(requests, existing or {}, resegment=resegment)
    for req in sorted(requests, key=order_key):
        if req.name not in kept:
            planner.place_one(req)
    planner.retry_preempted(requests)
    return planner.result


def unknown_endpoints(topology: Topology, req: PathRequest) -> str | None:
    """Why `req` cannot be placed on `topology` at all (an endpoint is not in it), or None."""
    missing = [end for end in (req.src, req.dst) if end not in topology.nodes]
    if not missing:
        return None
    return f"{req.name}: unknown node {missing[0]!r} in topology {topology.name!r}"


def order_key(req: PathRequest) -> tuple[int, float, str]:
    return (req.setup_priority, -req.bandwidth_bps, req.name)


def _check_requests(topology: Topology, requests: Sequence[PathRequest]) -> None:
    problems = [
        f"request name {n!r} is used {c} times; names must be unique"
        for n, c in Counter(r.name for r in requests).items()
        if c > 1
    ]
    for r in requests:
        for label, value in (
            ("setup_priority", r.setup_priority),
            ("hold_priority", r.hold_priority),
        ):
            if not 0 <= value <= 7:
                problems.append(f"request {r.name!r}: {label} must be 0..7, got {value}")
        if r.bandwidth_bps < 0:
            problems.append(f"request {r.name!r}: bandwidth must be >= 0")
    if problems:
        raise ValidationError("path requests", problems)


@dataclass
class Planner:
    """Mutable working state of one placement run (graph, ledger, IGP routing, result)."""

    graph: PathGraph
    routing: IgpRouting
    ledger: Ledger
    result: PlacementResult = field(default_factory=PlacementResult)
    _masks: dict[tuple[object, ...], np.ndarray] = field(default_factory=dict)
    _preempted_by: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, topology: Topology) -> Planner:
        graph = PathGraph.of(topology)
        return cls(graph=graph, routing=IgpRouting(graph), ledger=Ledger(graph))

    # -- keeping what still works ----------------------------------------------------------------
    def keep(
        self,
        requests: Sequence[PathRequest],
        existing: Mapping[str, Placement],
        *,
        resegment: bool = False,
    ) -> set[str]:
        kept: set[str] = set()
        for req in sorted(requests, key=order_key):
            old = existing.get(req.name)
            if old is None or old.request != req:
                continue
            parts = self._still_valid(req, old)
            current = old if parts is None or not resegment else self._resegment(old)
            if parts is not None and current is not None:
                self.ledger.reserve(req.name, req.hold_priority, 0.0, (), parts)
                self.result.placed[req.name] = current
                kept.add(req.name)
        return kept

    def _resegment(self, old: Placement) -> Placement | None:
        """`old` with SID lists re-encoded for today's IGP (the same object if unchanged), or
        None when a list no longer fits the head end's max SID depth."""
        try:
            primary = with_sids(self.routing, old.primary)
            backup = None if old.backup is None else with_sids(self.routing, old.backup)
            shares = tuple((with_sids(self.routing, p), w) for p, w in old.shares)
        except PathError:
            return None
        old_backup = () if old.backup is None else old.backup.sids
        if (
            primary.sids == old.primary.sids
            and (backup is None or backup.sids == old_backup)
            and [p.sids for p, _ in shares] == [p.sids for p, _ in old.shares]
        ):
            return old
        if shares:
            primary = shares[0][0]
        return replace(old, primary=primary, backup=backup, shares=shares)

    def _still_valid(self, req: PathRequest, old: Placement) -> Parts | None:
        """What `old` holds, if it may stay: its paths up, legal and within the free bandwidth."""
        if old.shares:
            total = sum(w for _, w in old.shares)
            weighted = [(p, req.bandwidth_bps * w / total) for p, w in old.shares]
        else:
            weighted = [(p, req.bandwidth_bps) for p in (old.primary, old.backup) if p]
        parts: list[tuple[float, list[int]]] = []
        for path, bandwidth in weighted:
            ids = [self.graph.link_index.get(k, -1) for k in path.links]
            if -1 in ids or not Bounds.of(req).met(self.graph, ids):
                return None
            if self.graph.crossed_non_transit(ids):
                return None  # e.g. stored before the transit policy existed
            if not all(link_allowed(self.graph.links[e], req) for e in ids):
                return None
            parts.append((bandwidth, ids))
        if not old.shares:  # primary and backup hold the bandwidth once on a common link
            parts = [(req.bandwidth_bps, [e for _, ids in parts for e in ids])]
        return parts if self.ledger.fits(parts) else None

    # -- placing one request ---------------------------------------------------------------------
    def mask(self, req: PathRequest) -> np.ndarray:
        key = (
            req.include_any,
            req.include_all,
            req.exclude_any,
            req.exclude_nodes,
            req.exclude_links,
            req.exclude_srlgs,
            req.transports,
            req.metered,
        )
        cached = self._masks.get(key)
        if cached is None:
            cached = self._masks[key] = np.asarray(static_mask(self.graph, req), dtype=bool)
        return cached

    def place_one(self, req: PathRequest) -> bool:
        available = self.ledger.available(req.setup_priority)
        try:
            missing = unknown_endpoints(self.graph.topology, req)
            if missing is not None:
                raise PathError(missing)
            placement, parts = self.compute(req, available)
        except PathError as error:
            reason = str(error)
            if req.name in self._preempted_by:
                reason = f"preempted by {self._preempted_by[req.name]}, then: {reason}"
            self.result.unplaced[req.name] = reason
            self.result.placed.pop(req.name, None)
            return False
        self._preempt_for(req, parts)
        self.ledger.reserve(req.name, req.hold_priority, 0.0, (), parts)
        self.result.placed[req.name] = placement
        self.result.unplaced.pop(req.name, None)
        return True

    def compute(self, req: PathRequest, available: Room) -> tuple[Placement, Parts]:
        """The placement of `req` on `available` bandwidth and what it would hold; under an
        uplink policy the first tier that is up and fits."""
        applied = applied_policy(self.graph.topology, req)
        if applied is None:
            placement, links = self.compute_plain(req, available)
            return placement, [(req.bandwidth_bps, links)]
        return place_tiers(self, req, applied, available)

    def compute_plain(self, req: PathRequest, available: Room) -> tuple[Placement, list[int]]:
        if req.disjoint is None:
            links = cspf_links(self.graph, req, available=available, mask=self.mask(req))
            primary = self.graph.make_path(links, cost=path_cost(self.graph, req, links))
            return Placement(req, with_sids(self.routing, primary)), links
        try:
            pair = disjoint_pair(self.graph, req, req.disjoint, available, mask=self.mask(req))
        except PathError:
            links = cspf_links(self.graph, req, available=available, mask=self.mask(req))
            primary = self.graph.make_path(links, cost=path_cost(self.graph, req, links))
            note = ("no backup: no second path with the bandwidth and constraints",)
            return Placement(req, with_sids(self.routing, primary), None, note), links
        ids = [[self.graph.link_index[k] for k in p.links] for p in (pair.primary, pair.backup)]
        bounds = Bounds.of(req)
        if not (bounds.met(self.graph, ids[0]) and bounds.met(self.graph, ids[1])):
            return self._bounded_pair(req, available)
        placement = Placement(
            req,
            with_sids(self.routing, pair.primary),
            with_sids(self.routing, pair.backup),
            pair.shared_risks,
        )
        return placement, ids[0] + ids[1]

    def _bounded_pair(self, req: PathRequest, available: Room) -> tuple[Placement, list[int]]:
        """Disjoint pair violates a bound: best bounded primary, then a disjoint bounded backup."""
        links = cspf_links(self.graph, req, available=available, mask=self.mask(req))
        primary = with_sids(
            self.routing, self.graph.make_path(links, path_cost(self.graph, req, links))
        )
        on_primary = [self.graph.links[e] for e in links]
        avoid = [
            ok and not conflicts(self.graph.links[e], on_primary, req.disjoint or "link")
            for e, ok in enumerate(self.mask(req))
        ]
        try:
            second = cspf_links(self.graph, req, available=available, mask=avoid)
        except PathError:
            return Placement(req, primary, None, ("no disjoint backup within the bounds",)), links
        backup = self.graph.make_path(second, path_cost(self.graph, req, second))
        return Placement(req, primary, with_sids(self.routing, backup)), links + second

    def _preempt_for(self, req: PathRequest, parts: Parts) -> None:
        for bandwidth, links in parts:
            if bandwidth <= 0:
                continue
            for victim in self.ledger.victims(links, bandwidth, req.setup_priority):
                self.ledger.release(victim)
                self.result.placed.pop(victim, None)
                self.result.preempted.append(victim)
                self._preempted_by[victim] = req.name

    def retry_preempted(self, requests: Sequence[PathRequest]) -> None:
        """Re-place preempted requests (once, in priority order) where room remains."""
        by_name = {r.name: r for r in requests}
        for name in sorted(self._preempted_by, key=lambda n: order_key(by_name[n])):
            if name not in self.result.placed and name in by_name:
                self.place_one(by_name[name])
