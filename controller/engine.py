"""The reconcile engine: intents + topology + telemetry -> desired config -> one transaction.

On every trigger (intent change, topology event, telemetry event, timer) `reconcile` runs one
round: plan placements (`controller.planner`), compile (`controller.compiler`), diff against the
last installed revision, record the revision, hand the changed devices to the southbound as one
transaction, then record the outcome and the intents' new states. Moving intents go
make-before-break: a transitional revision keeps the old primary as a lower-preference candidate
path, the final revision removes it.

Hysteresis: `optimize` moves a healthy intent only when it has held its path for `hold_time_s`
and the new path is better by `improvement` (fraction of cost). Broken paths and SLA violations
move at once. The engine takes a clock; tests drive it without sleeping.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from controller.avoid import Avoidance, AvoidConfig
from controller.compiler import CompileItem, compile_network
from controller.configdiff import changed_devices, network_diff
from controller.desired import DeviceConfig
from controller.errors import NetpilotError, ValidationError
from controller.intents import Intent, IntentState, PrefixMap, now_utc
from controller.pathing.types import Path, Placement
from controller.planner import (
    LEG,
    Candidate,
    Health,
    LinkMeasure,
    Placer,
    Planner,
    RoundResult,
    joined,
    path_figures,
)
from controller.southbound.base import Southbound
from controller.store import IntentRecord, Store
from controller.topology import LinkState, Topology

Clock = Callable[[], float]
WAITING = "waiting for its time window"
RETRY = frozenset({IntentState.ACCEPTED, IntentState.FAILED, IntentState.COMPILED})


@dataclass(frozen=True)
class EngineConfig:
    hold_time_s: float = 300.0
    improvement: float = 0.10
    tick_s: float = 60.0
    max_moves_per_round: int = 50
    debounce_s: float = 0.2
    optimize_batch: int = 200
    avoid: AvoidConfig = field(default_factory=AvoidConfig)


@dataclass(frozen=True)
class EngineEvent:
    at: float
    kind: str
    cause: str
    detail: str = ""


@dataclass
class ReconcileReport:
    cause: str
    revisions: list[int] = field(default_factory=list)
    installed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    moved: list[str] = field(default_factory=list)
    withdrawn: list[str] = field(default_factory=list)
    committed: bool = True


def default_placer() -> Placer:
    """`place()`, re-encoding kept SID lists whenever the IGP changed (see igp_placer)."""
    from controller.igp_placer import IgpAwarePlacer

    placer: Placer = IgpAwarePlacer()
    return placer


class Engine:
    """Joins store, planner, compiler and southbound. One reconcile at a time."""

    def __init__(
        self,
        topology: Topology,
        store: Store,
        southbound: Southbound,
        clock: Clock,
        *,
        placer: Placer | None = None,
        config: EngineConfig | None = None,
        prefixes: Mapping[str, str] | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        self.topology = topology
        self.store = store
        self.southbound = southbound
        self.clock = clock
        self.placer = placer or default_placer()
        self.config = config or EngineConfig()
        self.prefixes = PrefixMap(_node_prefixes(topology) | dict(prefixes or {}))
        self.log = logger or logging.getLogger("netpilot.engine")
        self.measures: dict[str, LinkMeasure] = {}
        self.events: deque[EngineEvent] = deque(maxlen=1000)
        self.ready = False
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._causes: list[str] = []
        self._placements: dict[str, Placement] = {}
        self._installed: dict[str, DeviceConfig] = {}
        self._force: set[str] = set()
        self._retry_failed = True  # failed intents are retried after events, not on every change
        self._cursor = 0
        self.avoid: dict[str, Avoidance] = {}
        """Links to leave before they hurt, by `link/reason` (see `controller.avoid`)."""

    # -- lifecycle ---------------------------------------------------------------------------
    def load(self) -> None:
        """Load state from the store and abort the revisions a crash left pending."""
        aborted = self.store.recover()
        if aborted:
            self._event("recover", "startup", f"aborted pending revisions {aborted}")
        self._placements = self.store.placements()
        self._installed = self.store.installed_configs()

    async def start(self) -> ReconcileReport:
        """`load`, then reconcile once."""
        self.load()
        report = await self.reconcile("startup")
        self.ready = True
        return report

    def notify(self, cause: str) -> None:
        """Ask the run loop for a reconcile (coalesces bursts)."""
        self._causes.append(cause)
        self._wake.set()

    async def run(self) -> None:
        """Reconcile on every notification and on the tick (which also runs `optimize`)."""
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.config.tick_s)
            except TimeoutError:
                self._retry_failed = True
                await self.reconcile("timer")
                await self.optimize("timer")
                continue
            await asyncio.sleep(self.config.debounce_s)  # let a burst of changes coalesce
            self._wake.clear()
            causes, self._causes = self._causes, []
            await self.reconcile("; ".join(dict.fromkeys(causes)) or "notified")

    # -- events ------------------------------------------------------------------------------
    async def set_topology(self, topology: Topology, cause: str) -> ReconcileReport:
        self.topology = topology
        self._retry_failed = True
        self._event("topology", cause)
        return await self.reconcile(cause)

    async def link_state(self, link_id: str, state: LinkState, cause: str) -> ReconcileReport:
        topo = self.topology.with_link_state(link_id, state)
        report = await self.set_topology(topo, cause)
        if state is LinkState.UP:
            more = await self.optimize(cause)
            report.revisions += more.revisions
            report.moved += more.moved
        return report

    async def link_measured(
        self, link_id: str, delay_s: float | None, loss: float | None, cause: str
    ) -> ReconcileReport:
        self.measures[link_id] = LinkMeasure(delay_s, loss)
        self._retry_failed = True
        self._event("telemetry", cause, f"{link_id}: delay={delay_s} loss={loss}")
        return await self.reconcile(cause)

    async def link_risk(self, link_id: str, risk: float, cause: str) -> ReconcileReport | None:
        """Fault risk of a link: above `risk_on`, protected and high-priority intents leave it."""
        cfg = self.config.avoid
        return await self._avoidance(link_id, "risk", risk, (cfg.risk_on, cfg.risk_off), cause)

    async def link_forecast(
        self, link_id: str, utilisation: float, cause: str
    ) -> ReconcileReport | None:
        """Forecast utilisation of a link: above `forecast_on`, bigdata and office leave it."""
        cfg = self.config.avoid
        bounds = (cfg.forecast_on, cfg.forecast_off)
        return await self._avoidance(link_id, "forecast", utilisation, bounds, cause)

    async def _avoidance(
        self, link_id: str, reason: str, value: float, bounds: tuple[float, float], cause: str
    ) -> ReconcileReport | None:
        """Start avoiding above `on`; stop below `off` once held for `hold_time_s`. Returns the
        reconcile report when intents were re-placed, else None."""
        on, off = bounds
        key = f"{link_id}/{reason}"
        now = self.clock()
        current = self.avoid.get(key)
        if current is None and value >= on:
            entry = Avoidance(link_id, reason, value, now, cause)
            self.avoid[key] = entry
            why = f"{entry.describe()} ({cause})"
            self._event("avoid", why)
            await asyncio.to_thread(self.store.audit, "engine", f"avoid-{reason}", link_id, why)
            return await self.reconcile(why)
        if current is not None and value < off and now - current.since >= self.config.hold_time_s:
            del self.avoid[key]
            why = f"{reason} on {link_id} cleared at {value:.2f} ({cause})"
            self._event("avoid-clear", why)
            await asyncio.to_thread(self.store.audit, "engine", f"clear-{reason}", link_id, why)
        return None

    def _event(self, kind: str, cause: str, detail: str = "") -> None:
        self.events.append(EngineEvent(self.clock(), kind, cause, detail))
        self.log.info("%s: %s %s", kind, cause, detail)

    # -- hysteresis --------------------------------------------------------------------------
    async def optimize(self, cause: str) -> ReconcileReport:
        """Move healthy intents whose hold time passed to paths better by `improvement`."""
        async with self._lock:
            movers = await asyncio.to_thread(self._better_paths)
        if not movers:
            return ReconcileReport(cause)
        self._force |= set(movers)
        self._event("optimize", cause, f"moving {len(movers)}: {', '.join(sorted(movers)[:5])}")
        return await self.reconcile(f"{cause}: re-optimise")

    def _better_paths(self) -> list[str]:
        """Healthy intents past their hold time whose fresh path is better by `improvement`."""
        now = self.clock()
        records = {r.name: r for r in self.store.list_intents()}
        current = self.placements()
        eligible = set()
        for name in current:
            record = records.get(name)
            if record is None or record.state is not IntentState.INSTALLED:
                continue
            since = record.moved_at if record.moved_at is not None else record.created_at
            if now - since >= self.config.hold_time_s:
                eligible.add(name)
        if not eligible:
            return []
        eligible = self._window(sorted(eligible))
        candidates, _ = self._candidates(records.values())
        forced = [
            Candidate(c.intent, c.intent.name in eligible or c.needs_placement) for c in candidates
        ]
        kept = {n: p for n, p in self._placements.items() if n.split(LEG)[0] not in eligible}
        fresh = self._planner().plan(forced, kept).placements
        gains = []
        for name in sorted(eligible):
            old, new = current[name], fresh.get(name)
            if new is not None and new.primary.cost < old.primary.cost * (
                1 - self.config.improvement
            ):
                gains.append((new.primary.cost / max(old.primary.cost, 1e-12), name))
        return [name for _, name in sorted(gains)[: self.config.max_moves_per_round]]

    def _window(self, names: list[str]) -> set[str]:
        """A rotating slice of `optimize_batch` names, so each timer round stays cheap."""
        size = self.config.optimize_batch
        if len(names) <= size:
            return set(names)
        start = self._cursor % len(names)
        self._cursor = start + size
        return set((names[start:] + names[:start])[:size])

    # -- the round ---------------------------------------------------------------------------
    def _planner(self) -> Planner:
        return Planner(
            self.topology, self.placer, self.prefixes, dict(self.measures), dict(self.avoid)
        )

    def _candidates(self, records: Iterable[IntentRecord]) -> tuple[list[Candidate], set[str]]:
        when = now_utc(self.clock())
        candidates, waiting = [], set()
        for record in records:
            if record.state in (IntentState.WITHDRAWING, IntentState.WITHDRAWN):
                continue
            if not record.intent.active_at(when):
                waiting.add(record.name)
                continue
            if record.state is IntentState.FAILED and not self._retry_failed:
                continue
            retry = record.state in RETRY
            needs = retry or record.name in self._force
            candidates.append(Candidate(record.intent, needs, keep_if_unplaced=not retry))
        return candidates, waiting

    async def reconcile(self, cause: str) -> ReconcileReport:
        async with self._lock:
            return await self._reconcile(cause)

    async def _reconcile(self, cause: str) -> ReconcileReport:
        records = await asyncio.to_thread(self._records)
        if any(r.state is IntentState.WITHDRAWING for r in records.values()):
            self._retry_failed = True  # freed bandwidth may fit what failed
        candidates, waiting = self._candidates(records.values())
        planned = await asyncio.to_thread(
            self._planner().plan, candidates, self._placements, self._retry_failed
        )
        self._force.clear()
        self._retry_failed = False
        report = ReconcileReport(cause, moved=sorted(planned.moved), failed=planned.failed)
        gone = {n for n in self._placements if n not in planned.raw}
        withdrawing = [n for n, r in records.items() if r.state is IntentState.WITHDRAWING]
        pre = self._pre_states(records, planned, cause)
        await asyncio.to_thread(lambda: self.store.set_states(pre))
        if planned.moved:
            await self._transaction(records, planned, report, transitional=True)
        await self._transaction(records, planned, report, transitional=False)
        if not report.committed:
            self._retry_failed = True
        if report.committed:
            self._placements = dict(planned.raw)
            report.withdrawn = withdrawing
            await asyncio.to_thread(
                lambda: self.store.set_states(
                    self._post_states(records, planned, waiting, gone, cause)
                )
            )
            if planned.moved:
                await asyncio.to_thread(self.store.mark_moved, planned.moved)
            report.installed = sorted(planned.placements)
        self._event("reconcile", cause, _summary(report))
        if report.revisions or report.failed or report.withdrawn:
            await asyncio.to_thread(
                self.store.audit, "engine", "reconcile", cause, _summary(report)
            )
        return report

    def _records(self) -> dict[str, IntentRecord]:
        return {r.name: r for r in self.store.list_intents()}

    def _changes(
        self, records: Mapping[str, IntentRecord], planned: RoundResult, transitional: bool
    ) -> tuple[dict[str, DeviceConfig], dict[str, Any]]:
        """Compile and diff against what is installed: (changed devices, their diff)."""
        desired = compile_network(self.topology, self._items(records, planned, transitional))
        changed = changed_devices(self._installed, desired)
        old = {d: c for d, c in self._installed.items() if d in changed}
        return changed, network_diff(old, changed)

    def _items(
        self, records: Mapping[str, IntentRecord], planned: RoundResult, transitional: bool
    ) -> list[CompileItem]:
        return [
            CompileItem(
                records[name].intent,
                placement,
                records[name].color,
                planned.moved.get(name) if transitional else None,
            )
            for name, placement in sorted(planned.placements.items())
        ]

    async def _transaction(
        self,
        records: Mapping[str, IntentRecord],
        planned: RoundResult,
        report: ReconcileReport,
        transitional: bool,
    ) -> None:
        if not report.committed:
            return
        changed, diff = await asyncio.to_thread(self._changes, records, planned, transitional)
        if not changed:
            if not transitional:
                changes = _placement_changes(self._placements, planned)
                await asyncio.to_thread(self.store.save_placements, changes)
            return
        previous = {d: self._installed.get(d, DeviceConfig(device=d)) for d in changed}
        why = f"{report.cause} (make-before-break step 1)" if transitional else report.cause
        revision = await asyncio.to_thread(
            self.store.begin_revision, changed, diff, why, uuid.uuid4().hex
        )
        result = await self.southbound.apply(revision, changed, previous)
        report.revisions.append(revision)
        if result.committed:
            self._installed.update(changed)
            placements = {} if transitional else _placement_changes(self._placements, planned)
            await asyncio.to_thread(
                lambda: self.store.finish_revision(revision, True, placements=placements)
            )
            return
        error = "; ".join(
            f"{d}: {result.devices[d].error or 'failed'}" for d in result.failed_devices
        )
        report.committed = False
        touched = [*_placement_changes(self._placements, planned), *planned.moved]
        states = [(n, IntentState.FAILED, f"southbound: {error}") for n in sorted(set(touched))]
        await asyncio.to_thread(
            lambda: self.store.finish_revision(
                revision, False, error or "not committed", states=states
            )
        )

    def _pre_states(
        self, records: Mapping[str, IntentRecord], planned: RoundResult, cause: str = ""
    ) -> list[tuple[str, IntentState, str]]:
        out: list[tuple[str, IntentState, str]] = []
        for name, reason in sorted(planned.failed.items()):
            out.append((name, IntentState.FAILED, reason))
        for name in sorted(planned.placements):
            state = records[name].state
            if state in RETRY:
                out.append((name, IntentState.COMPILED, "placed and compiled"))
                out.append((name, IntentState.INSTALLING, "installing"))
            elif name in planned.moved:
                why = f"moving to a new path: {cause}" if cause else "moving to a new path"
                out.append((name, IntentState.INSTALLING, why))
        return out

    def _post_states(
        self,
        records: Mapping[str, IntentRecord],
        planned: RoundResult,
        waiting: set[str],
        gone: set[str],
        cause: str = "",
    ) -> list[tuple[str, IntentState, str]]:
        out: list[tuple[str, IntentState, str]] = []
        health = Health(self.topology, self.measures)
        for name in sorted(planned.placements):
            placement = planned.placements[name]
            problem = planned.kept_on_backup.get(name) or health.problem(
                records[name].intent, placement
            )
            if problem:
                out.append((name, IntentState.DEGRADED, problem))
            else:
                moved = name in planned.moved and planned.moved[name] != placement.primary
                why = f"installed; moved: {cause}" if moved and cause else "installed"
                if not moved and records[name].state is IntentState.INSTALLED:
                    why = records[name].reason or why  # keep the cause of the last move
                out.append((name, IntentState.INSTALLED, why))
        for name in sorted(records):
            record = records[name]
            if record.state is IntentState.WITHDRAWING:
                out.append((name, IntentState.WITHDRAWN, record.reason or "deleted"))
            elif name in waiting:
                out.append((name, IntentState.ACCEPTED, WAITING))
        return out

    # -- what-if and status ------------------------------------------------------------------
    def plan(self, intents: Iterable[Intent], prune: bool) -> dict[str, Any]:
        """Dry run of a declarative set: intent changes and per-device config diff."""
        records = {r.name: r for r in self.store.list_intents()}
        wanted = {i.name: i for i in intents}
        changes, items_in = _intent_changes(records, wanted, prune)
        when = now_utc(self.clock())
        waiting = sorted(i.name for i in items_in if not i.active_at(when))
        items_in = [i for i in items_in if i.name not in waiting]
        candidates = [Candidate(i, changes[i.name] != "unchanged") for i in items_in]
        planner = self._planner()
        names = {i.name for i in items_in}
        kept = {n: p for n, p in self._placements.items() if n.split(LEG)[0] in names}
        planned = planner.plan(candidates, kept)
        colors = _colors(records, wanted)
        items = [
            CompileItem(wanted.get(n) or records[n].intent, p, colors[n])
            for n, p in sorted(planned.placements.items())
        ]
        desired = compile_network(self.topology, items)
        return {
            "changes": [{"name": n, "action": a} for n, a in sorted(changes.items())],
            "unplaced": planned.failed,
            "waiting": waiting,
            "moved": sorted(planned.moved),
            "devices": network_diff(self._installed, desired),
        }

    def check(self, intent: Intent) -> Intent:
        """Refuse an intent whose endpoints or waypoints are not in the topology (422)."""
        problems: list[str] = []
        planner = self._planner()
        ends: list[str] = []
        for where, endpoint in (("src", intent.src), ("dst", intent.dst)):
            try:
                ends.append(planner.resolve(endpoint, where))
            except NetpilotError as error:
                problems.append(str(error))
        if len(ends) == 2 and ends[0] == ends[1]:
            problems.append(f"dst: {ends[1]!r} is also the source; an intent joins two nodes")
        problems += [
            f"waypoints: unknown node {w!r}"
            for w in intent.waypoints
            if w not in self.topology.nodes
        ]
        if problems:
            raise ValidationError(f"intent {intent.name!r}", problems)
        return intent

    def placement(self, name: str) -> Placement | None:
        return joined(self._placements, only=name).get(name)

    def placements(self) -> dict[str, Placement]:
        """Installed placements by intent (waypoint legs joined)."""
        return joined(self._placements)

    def raw_placements(self) -> dict[str, Placement]:
        """Installed placements as the placer holds them (waypoint legs apart)."""
        return dict(self._placements)

    def planner(self) -> Planner:
        return self._planner()

    def measured(self, path: Path) -> tuple[float, float]:
        return path_figures(path, self.measures, self.topology)


def _intent_changes(
    records: Mapping[str, IntentRecord], wanted: Mapping[str, Intent], prune: bool
) -> tuple[dict[str, str], list[Intent]]:
    changes: dict[str, str] = {}
    items: list[Intent] = []
    for name, intent in wanted.items():
        old = records.get(name)
        live = old is not None and old.state is not IntentState.WITHDRAWING
        if not live:
            changes[name] = "create"
        elif old is not None and old.intent.spec() != intent.spec():
            changes[name] = "update"
        else:
            changes[name] = "unchanged"
        items.append(intent)
    for name, record in records.items():
        if name in wanted or record.state is IntentState.WITHDRAWING:
            continue
        if prune:
            changes[name] = "delete"
        else:
            items.append(record.intent)
    return changes, items


def _colors(records: Mapping[str, IntentRecord], wanted: Mapping[str, Intent]) -> dict[str, int]:
    colors = {n: r.color for n, r in records.items()}
    top = max([*colors.values(), 998])
    for name in sorted(wanted):
        if name not in colors:
            top += 2
            colors[name] = top
    return colors


def _placement_changes(
    old: Mapping[str, Placement], planned: RoundResult
) -> dict[str, Placement | None]:
    out: dict[str, Placement | None] = {n: p for n, p in planned.raw.items() if old.get(n) != p}
    out.update({n: None for n in old if n not in planned.raw})
    return out


def _summary(report: ReconcileReport) -> str:
    return (
        f"revisions={report.revisions} installed={len(report.installed)} "
        f"failed={len(report.failed)} moved={len(report.moved)} committed={report.committed}"
    )


def _node_prefixes(topology: Topology) -> dict[str, str]:
    out: dict[str, str] = {}
    for node in topology.nodes.values():
        out[node.loopback] = node.name
        out[node.locator] = node.name
    return out
