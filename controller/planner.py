"""One planning round, pure: intents + current placements + topology -> new placements.

The engine calls it on every change; `/v1/plan` calls it on a what-if set. It decides which
intents keep their path (healthy, unchanged), which must be placed (new, changed, broken by a
topology change, SLA violated by measurements, or failed before), places them with the placer
(`controller.pathing.placement.place` in the shipped engine), honours `disjoint_from` by placing
dependants second with the links of the intents they avoid excluded, and places intents with
waypoints leg by leg. Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field, replace
from itertools import pairwise

from controller.avoid import Avoidance, avoided_links
from controller.errors import NetpilotError
from controller.intents import Endpoint, Intent, PrefixMap, resolve_node, to_path_request
from controller.pathing.types import Path, PathRequest, Placement, PlacementResult
from controller.topology import Topology

Placer = Callable[
    [Topology, Sequence[PathRequest], Mapping[str, Placement] | None], PlacementResult
]
LEG = "#leg"


@dataclass(frozen=True)
class LinkMeasure:
    """Telemetry for one physical link: measured one-way delay (s) and loss ratio."""

    delay_s: float | None = None
    loss: float | None = None


@dataclass(frozen=True)
class Candidate:
    """An intent the round considers (active now, not being withdrawn)."""

    intent: Intent
    needs_placement: bool
    keep_if_unplaced: bool = False
    """Keep the current path when no better one is found (healthy or SLA-at-risk intents)."""


@dataclass
class RoundResult:
    """Placements by intent name (legs joined); `raw` as the placer holds them (legs apart)."""

    placements: dict[str, Placement] = field(default_factory=dict)
    raw: dict[str, Placement] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    moved: dict[str, Path] = field(default_factory=dict)  # name -> previous primary
    kept_on_backup: dict[str, str] = field(default_factory=dict)
    kept: set[str] = field(default_factory=set)  # no new path found; the old one stays


def broken(placement: Placement, topology: Topology) -> str | None:
    """Why a placement's primary (each of its load-shared paths) can no longer carry traffic,
    or None: a link gone or down, or a router the transit policy now forbids crossing."""
    for path in placement.paths:
        for key in path.links:
            try:
                link = topology.link(key)
            except NetpilotError:
                return f"link {key[2]} ({key[0]}->{key[1]}) no longer exists"
            if not link.is_up:
                return f"link {key[2]} ({key[0]}->{key[1]}) is down"
        crossed = [
            n for n in path.nodes[1:-1] if n in topology.nodes and not topology.nodes[n].transit
        ]
        if crossed:
            return f"path crosses non-transit router {crossed[0]}"
    return None


def path_figures(
    path: Path, measures: Mapping[str, LinkMeasure], topology: Topology
) -> tuple[float, float]:
    """(latency s, loss ratio) of a path, measured where telemetry has figures."""
    latency, delivered = 0.0, 1.0
    for key in path.links:
        measure = measures.get(key[2], LinkMeasure())
        if measure.delay_s is not None:
            latency += measure.delay_s
        else:
            with suppress(NetpilotError):
                latency += topology.link(key).delay_s
        delivered *= 1.0 - (measure.loss or 0.0)
    return latency, 1.0 - delivered


def sla_problem(
    intent: Intent, path: Path, measures: Mapping[str, LinkMeasure], topology: Topology
) -> str | None:
    latency, loss = path_figures(path, measures, topology)
    limit = intent.max_latency_s
    if limit is not None and latency > limit:
        return f"SLA at risk: latency {latency * 1e3:.1f} ms > {limit * 1e3:.1f} ms"
    max_loss = intent.max_loss
    if max_loss is not None and loss > max_loss:
        return f"SLA at risk: loss {loss:.2%} > {max_loss:.2%}"
    return None


def measured_topology(topology: Topology, measures: Mapping[str, LinkMeasure]) -> Topology:
    """The topology with measured delays in place of the configured ones."""
    changed = []
    for link in topology.links:
        delay = measures[link.id].delay_s if link.id in measures else None
        if delay is not None:
            changed.append(replace(link, delay_s=delay))
    return topology.with_links(changed) if changed else topology


class Health:
    """Fast per-round checks: is a placement broken, is its SLA at risk by measurements?"""

    def __init__(self, topology: Topology, measures: Mapping[str, LinkMeasure]) -> None:
        self.topology = topology
        self.measures = measures
        self.up = {lk.key for lk in topology.links if lk.is_up}
        self.transit = {name: bool(node.transit) for name, node in topology.nodes.items()}
        self.measured = set(measures)

    def broken(self, placement: Placement) -> bool:
        return not all(key in self.up for p in placement.paths for key in p.links) or any(
            not self.transit.get(n, True) for p in placement.paths for n in p.nodes[1:-1]
        )

    def problem(self, intent: Intent, placement: Placement) -> str | None:
        if self.broken(placement):
            return broken(placement, self.topology) or "primary path broken"
        if not any(key[2] in self.measured for key in placement.primary.links):
            return None  # nothing measured on it: the placer already checked the bounds
        return sla_problem(intent, placement.primary, self.measures, self.topology)


@dataclass
class Planner:
    topology: Topology
    placer: Placer
    prefixes: PrefixMap = field(default_factory=lambda: PrefixMap({}))
    measures: Mapping[str, LinkMeasure] = field(default_factory=dict)
    avoid: dict[str, Avoidance] = field(default_factory=dict)
    _keep: set[str] = field(default_factory=set)
    _health: Health | None = None
    _srlgs: bool | None = None

    def resolve(self, endpoint: Endpoint, where: str) -> str:
        return self.known(resolve_node(endpoint, self.prefixes, where), where)

    def known(self, node: str, where: str) -> str:
        """`node` if the topology has it (it may have lost it since the intent was accepted)."""
        if node not in self.topology.nodes:
            raise NetpilotError(f"{where}: node {node!r} is not in topology {self.topology.name!r}")
        return node

    def plan(
        self,
        candidates: Iterable[Candidate],
        current: Mapping[str, Placement],
        revalidate: bool = True,
    ) -> RoundResult:
        """Place what needs it, keep the rest.

        `current` holds the installed placements by name (waypoint legs under `name#legN`).
        Every call to the placer gets every request, with the placements to keep as `existing`,
        so that kept intents hold their bandwidth and preemption sees everyone.
        """
        cands = {c.intent.name: c for c in candidates}
        self._keep = {n for n, c in cands.items() if c.keep_if_unplaced}
        self._health = Health(self.topology, self.measures)
        decided = self._kept(cands, current)
        if not revalidate and _complete(cands, decided):
            return _all_kept(cands, decided)  # nothing to place, no event: skip the placer
        later = {n for n, c in cands.items() if any(d in cands for d in c.intent.disjoint_from)}
        first = [c.intent for n, c in cands.items() if n not in later]
        second = [c.intent for n, c in cands.items() if n in later]
        result = RoundResult()
        requests: list[PathRequest] = []
        unplaced: dict[str, str] = {}
        for batch in (first, second):
            if not batch:
                continue
            so_far = joined(decided)
            for intent in sorted(batch, key=lambda i: i.name):
                try:
                    requests.extend(self._requests(intent, so_far))
                except NetpilotError as error:
                    result.failed[intent.name] = str(error)
            topo = measured_topology(self.topology, self.measures)
            try:
                placed = self.placer(topo, requests, decided)
            except NetpilotError as error:  # the placer refused the whole batch
                result.failed.update({i.name: f"placement refused: {error}" for i in batch})
                continue
            decided = dict(placed.placed)
            unplaced.update(placed.unplaced)
        new_joined = joined(decided)
        for name in sorted(cands):
            if name not in result.failed:
                self._settle(name, new_joined, unplaced, current, result)
                _record_raw(name, result, decided, current)
        return result

    def _has_srlgs(self) -> bool:
        if self._srlgs is None:
            self._srlgs = any(link.srlgs for link in self.topology.links)
        return self._srlgs

    def _kept(
        self, cands: Mapping[str, Candidate], current: Mapping[str, Placement]
    ) -> dict[str, Placement]:
        """Current placements of the candidates that need no new path (legs apart)."""
        old_joined = joined(current)
        decided: dict[str, Placement] = {}
        for name, cand in sorted(cands.items()):
            old = old_joined.get(name)
            if not (cand.needs_placement or old is None or self._unhealthy(cand.intent, old)):
                decided.update(own_entries(current, name))
        return decided

    def _unhealthy(self, intent: Intent, placement: Placement) -> bool:
        health = self._health or Health(self.topology, self.measures)
        return health.problem(intent, placement) is not None or self.over_avoided(intent, placement)

    def over_avoided(self, intent: Intent, placement: Placement) -> bool:
        """Does the primary path use a link this intent should leave (forecast or risk)?"""
        links = avoided_links(self.avoid, intent)
        return bool(links) and any(key[2] in links for key in placement.primary.links)

    def _settle(
        self,
        name: str,
        new_joined: Mapping[str, Placement],
        unplaced: Mapping[str, str],
        current: Mapping[str, Placement],
        result: RoundResult,
    ) -> None:
        old = joined(current, only=name).get(name)
        new = new_joined.get(name)
        if new is not None and name not in unplaced:
            result.placements[name] = new
            # a re-encoded SID list on the same links is a config change, not a move
            if old is not None and old.primary.links != new.primary.links:
                result.moved[name] = old.primary
            return
        reason = _unplaced_reason(name, unplaced)
        if old is not None and name in self._keep and broken(old, self.topology) is None:
            result.placements[name] = old
            result.kept.add(name)
            return
        if old is not None and old.backup is not None and broken(old, self.topology):
            promoted = Placement(old.request, old.backup, None, old.shared_risks)
            if broken(promoted, self.topology) is None:
                result.placements[name] = promoted
                result.moved[name] = old.primary
                result.kept_on_backup[name] = f"on backup path; no new primary: {reason}"
                return
        result.failed[name] = reason

    def _requests(self, intent: Intent, placed: Mapping[str, Placement]) -> list[PathRequest]:
        exclude: set[str] = set()
        for other in intent.disjoint_from:
            if other in placed:
                exclude |= {key[2] for key in placed[other].primary.links}
        request = to_path_request(intent, self.resolve, exclude_links=frozenset(exclude))
        if request.disjoint == "srlg" and not self._has_srlgs():
            request = replace(request, disjoint="link")  # the same thing here, and far cheaper
        lossy = self._lossy_links(intent) | avoided_links(self.avoid, intent)
        if lossy:
            request = replace(request, exclude_links=request.exclude_links | lossy)
        if not intent.waypoints:
            return [request]
        via = [self.known(w, f"waypoints[{i}]") for i, w in enumerate(intent.waypoints)]
        for i, node in enumerate(via):
            if not self.topology.nodes[node].transit:  # each leg would be legal, the whole not
                raise NetpilotError(
                    f"waypoints[{i}]: {node!r} is non-transit and carries no other router's "
                    "traffic; remove the waypoint or set transit: true on it"
                )
        stops = [request.src, *via, request.dst]
        return [
            replace(request, name=f"{intent.name}{LEG}{i}", src=a, dst=b)
            for i, (a, b) in enumerate(pairwise(stops))
        ]

    def _lossy_links(self, intent: Intent) -> frozenset[str]:
        limit = intent.max_loss
        if limit is None:
            return frozenset()
        return frozenset(
            lid for lid, m in self.measures.items() if m.loss is not None and m.loss > limit
        )


def _complete(cands: Mapping[str, Candidate], decided: Mapping[str, Placement]) -> bool:
    kept = joined(decided)
    return all(name in kept for name in cands)


def _all_kept(cands: Mapping[str, Candidate], decided: Mapping[str, Placement]) -> RoundResult:
    kept = joined(decided)
    return RoundResult(placements={n: kept[n] for n in cands}, raw=dict(decided))


def _record_raw(
    name: str,
    result: RoundResult,
    decided: Mapping[str, Placement],
    current: Mapping[str, Placement],
) -> None:
    if name in result.kept_on_backup:
        result.raw[name] = result.placements[name]
    elif name in result.kept:
        result.raw.update(own_entries(current, name))
    elif name in result.placements:
        result.raw.update(own_entries(decided, name))


def _unplaced_reason(name: str, unplaced: Mapping[str, str]) -> str:
    if name in unplaced:
        return unplaced[name]
    legs = sorted(k for k in unplaced if k.startswith(f"{name}{LEG}"))
    if legs:
        return f"waypoint leg {legs[0].split(LEG)[1]}: {unplaced[legs[0]]}"
    return "no feasible path"


def own_entries(placements: Mapping[str, Placement], name: str) -> dict[str, Placement]:
    """The placer's entries for intent `name`: itself, or its waypoint legs."""
    if name in placements:
        return {name: placements[name]}
    prefix = f"{name}{LEG}"
    return {k: v for k, v in placements.items() if k.startswith(prefix)}


def joined(placements: Mapping[str, Placement], only: str | None = None) -> dict[str, Placement]:
    """Placements by intent name; waypoint legs are concatenated into one placement."""
    out: dict[str, Placement] = {}
    legs: dict[str, list[tuple[int, Placement]]] = {}
    items = own_entries(placements, only).items() if only is not None else placements.items()
    for name, placement in items:
        if LEG in name:
            base, index = name.split(LEG)
            legs.setdefault(base, []).append((int(index), placement))
        else:
            out[name] = placement
    for base, parts in legs.items():
        ordered = [p for _, p in sorted(parts)]
        if [i for i, _ in sorted(parts)] != list(range(len(parts))):
            continue
        primary = _concat([p.primary for p in ordered])
        backups = [p.backup for p in ordered]
        backup = _concat([b for b in backups if b]) if all(backups) else None
        request = replace(ordered[0].request, name=base, dst=ordered[-1].request.dst)
        out[base] = Placement(request, primary, backup)
    return out


def _concat(paths: Sequence[Path]) -> Path:
    nodes: tuple[str, ...] = paths[0].nodes
    for path in paths[1:]:
        nodes += path.nodes[1:]
    return Path(
        nodes=nodes,
        links=tuple(k for p in paths for k in p.links),
        latency_s=sum(p.latency_s for p in paths),
        cost=sum(p.cost for p in paths),
        sids=tuple(s for p in paths for s in p.sids),
    )
