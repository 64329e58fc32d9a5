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

Verification: after every committed transaction the engine reads back the devices it touched;
intents whose devices all hold what was pushed go `installed` -> `verified`. A device that differs
becomes the engine's view of it (so the next diff re-pushes it) and a retry is scheduled, at most
`verify_retries` times in a row per device. `check_drift` does the same for every managed device.

Supervision: every round (reconcile, optimize, drift check) is counted in `stats`; a round that
raises is logged with its traceback, recorded as a `round-error` event, and its cause is retried
by `run` after a capped exponential back-off; `health()` turns not ready after
`unhealthy_after` failed rounds in a row and ready again after a good one.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import time
import uuid
from collections import deque
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Collection,
    Iterable,
    Mapping,
    Sequence,
)
from dataclasses import dataclass, field
from typing import Any

from controller.avoid import Avoidance, AvoidConfig
from controller.compiler import CompileItem, compile_network
from controller.configdiff import changed_devices, network_diff
from controller.desired import DeviceConfig
from controller.errors import ValidationError
from controller.failpoints import Failpoints
from controller.gradual import release_each
from controller.intentcheck import GONE, in_batch, intent_problems
from controller.intents import INSTALLED_STATES, Intent, IntentState, PrefixMap, now_utc
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
from controller.qos import LinkKey
from controller.southbound.base import KnowsDevices, Southbound
from controller.store_api import IntentRecord, IntentStore
from controller.supervision import UNHEALTHY_AFTER, EngineStats, backoff_s, health
from controller.topology import LinkState, Topology
from controller.uplink_sla import Move, apply_moves, at_sites
from controller.verify_push import (
    DeviceBook,
    base_reason,
    changed_colors,
    intent_colors,
    intent_devices,
    owners,
    verified_reason,
)
from controller.verify_readback import DriftReport, Readback

Clock = Callable[[], float]
WAITING = "waiting for its time window"
RETRY = frozenset({IntentState.ACCEPTED, IntentState.FAILED, IntentState.COMPILED})
MAX_RETRY_CAUSES = 32
MAX_PROBLEMS = 100
"""Problems listed when a set of intents is refused; the rest are counted."""
StateUpdate = tuple[str, IntentState, IntentState, str]
"""(name, from_state, to_state, reason): a compare-and-set state change."""


@dataclass(frozen=True)
class EngineConfig:
    hold_time_s: float = 300.0
    improvement: float = 0.10
    tick_s: float = 60.0
    max_moves_per_round: int = 50
    debounce_s: float = 0.2
    optimize_batch: int = 200
    avoid: AvoidConfig = field(default_factory=AvoidConfig)
    verify: bool = True
    """Read back the devices after every commit (intents go `verified`)."""
    verify_retries: int = 3
    """Re-pushes / re-reads of a device that fails verification, in a row, before giving up."""
    verify_retry_s: float = 1.0
    """Delay before a verification retry, times the device's attempt number."""
    retry_backoff_s: float = 1.0
    """After a failed round: first back-off; doubles per failure in a row ..."""
    retry_backoff_max_s: float = 30.0
    """... up to this."""
    unhealthy_after: int = UNHEALTHY_AFTER
    """Failed rounds in a row after which `health()` says not ready."""


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
    devices: list[str] = field(default_factory=list)
    """Devices a committed transaction of this round changed."""
    verified: list[str] = field(default_factory=list)
    """Devices read back holding what was committed to them."""
    verify_failed: dict[str, str] = field(default_factory=dict)
    """Devices that differed or could not be read back, with what differs."""


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
        store: IntentStore,
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
        self._link_seen: dict[str, float] = {}
        """When each link's applied state was observed (monotonic), to drop stale signals."""
        self.events: deque[EngineEvent] = deque(maxlen=1000)
        self.listeners: list[Callable[[EngineEvent], None]] = []
        """Told every event as it is recorded (the incident correlator: incident_feed.py)."""
        self.ready = False
        self.stats = EngineStats()
        self.failpoints = Failpoints()
        """Armed only by the composition root from NETPILOT_FAILPOINTS (tests of supervision)."""
        self.book = DeviceBook(retries=self.config.verify_retries)
        self.readback = Readback(southbound, self.book, self.stats, self._event)
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self._causes: list[str] = []
        self._retry_causes: list[str] = []
        self._retry_at = 0.0  # time.monotonic() when the retry causes are due
        self._backoff_until = 0.0  # no round before this (time.monotonic()) after a failure
        self._last_failure: BaseException | None = None
        self._placements: dict[str, Placement] = {}
        self._installed: dict[str, DeviceConfig] = {}
        """What the engine believes each device holds: the base of the next diff."""
        self._committed: dict[str, DeviceConfig] = {}
        """What the engine last committed to each device (what drift and verify compare with)."""
        self._force: set[str] = set()
        self._retry_failed = True  # failed intents are retried after events, not on every change
        self._cursor = 0
        self.avoid: dict[str, Avoidance] = {}
        """Links to leave before they hurt, by `link/reason` (see `controller.avoid`)."""
        self.demand: Callable[[], Mapping[LinkKey, Mapping[str, float]]] | None = None
        """Per directed link and class, the forecast p90 (else measured) demand the queue
        shares follow (`controller.qos_forecast`; set by the live telemetry)."""

    # -- lifecycle ---------------------------------------------------------------------------
    def load(self, recover: bool = True) -> None:
        """Load state from the store and abort the revisions a crash left pending (not with
        `recover=False`: a reader beside a running leader, e.g. the CLI on an etcd store)."""
        aborted = self.store.recover() if recover else []
        if aborted:
            self._event("recover", "startup", f"aborted pending revisions {aborted}")
        self._placements = self.store.placements()
        self._installed = self.store.installed_configs()
        self._committed = dict(self._installed)
        self.book.revision = self.store.installed_revisions()
        self.book.verified.clear()

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
        """Reconcile on every notification and on the tick (which also runs `optimize`).

        Supervised: a round that raises is recorded (see `_round`) and never ends the loop; its
        cause is retried after the back-off, during which no round runs (notifications wait and
        join the retry). Ends on `stop()` or cancellation.
        """
        while not self._stop.is_set():
            pause = self._backoff_until - time.monotonic()
            if pause > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), timeout=pause)
                continue
            due = self._retry_at - time.monotonic() if self._retry_causes else self.config.tick_s
            woke = await self._wait(min(self.config.tick_s, max(due, 0.0)))
            if self._stop.is_set():
                break
            if woke:
                await asyncio.sleep(self.config.debounce_s)  # let a burst of changes coalesce
                self._wake.clear()
            causes, self._causes = self._causes, []
            if self._retry_causes and time.monotonic() >= self._retry_at:
                causes += self._retry_causes
                self._retry_causes = []
            if causes:
                cause = "; ".join(dict.fromkeys(causes))
                await self._supervised(self.reconcile(cause))
            elif not woke:
                await self._supervised(self._timer())

    def stop(self) -> None:
        """Ask `run` to return after the current round (cancelling its task works too)."""
        self._stop.set()
        self._wake.set()

    def health(self) -> tuple[bool, str]:
        """(ready, why): not ready until loaded, and after `unhealthy_after` failed rounds in a
        row (`"3 consecutive failed rounds: <last error>"`); a good round makes it ready again."""
        return health(self.ready, self.stats, self.config.unhealthy_after)

    async def _wait(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self._wake.wait(), timeout=timeout)
        except TimeoutError:
            return False
        return True

    async def _timer(self) -> None:
        self._retry_failed = True
        await self.reconcile("timer")
        await self.optimize("timer")

    async def _supervised(self, round_: Awaitable[object]) -> None:
        try:
            await round_
        except Exception as error:
            if error is not self._last_failure:  # raised outside a guarded round
                self._round_failed("run loop", error, retry=False)

    @contextlib.asynccontextmanager
    async def _round(
        self, cause: str, *, retry: bool = True, clears: bool = True
    ) -> AsyncIterator[None]:
        """Count and time one round; a round that raises is recorded, then re-raised. Only a
        good reconcile (`clears`) ends a streak of failures: a drift check or an optimize pass
        that works says nothing about the rounds that install."""
        start = time.perf_counter()
        self.stats.rounds += 1
        try:
            yield
        except Exception as error:
            self._round_failed(cause, error, retry=retry)
            raise
        else:
            if clears:
                self.stats.consecutive_errors = 0
        finally:
            self.stats.last_round_s = time.perf_counter() - start

    def _round_failed(self, cause: str, error: Exception, *, retry: bool) -> None:
        text = _error_text(error)
        stats = self.stats
        stats.round_errors += 1
        stats.consecutive_errors += 1
        stats.last_error = text
        self._last_failure = error
        self.log.exception("engine round failed (cause: %s): %s", cause, text)
        self._event("round-error", cause, text, log=False)
        if retry:
            delay = backoff_s(
                stats.consecutive_errors,
                self.config.retry_backoff_s,
                self.config.retry_backoff_max_s,
            )
            self._retry_later(cause, delay)
            self._backoff_until = self._retry_at  # nothing runs before the retry is due

    def _retry_later(self, cause: str, delay_s: float) -> None:
        """Have `run` reconcile for `cause` in `delay_s` (causes coalesce; the latest due wins)."""
        due = time.monotonic() + delay_s
        self._retry_at = max(self._retry_at, due) if self._retry_causes else due
        if cause not in self._retry_causes and len(self._retry_causes) < MAX_RETRY_CAUSES:
            self._retry_causes.append(cause)
        self._wake.set()  # let `run` recompute its deadline

    # -- events ------------------------------------------------------------------------------
    async def set_topology(self, topology: Topology, cause: str) -> ReconcileReport:
        self.topology = topology
        self._retry_failed = True
        self._event("topology", cause)
        return await self.reconcile(cause)

    async def link_state(
        self, link_id: str, state: LinkState, cause: str, observed_at: float | None = None
    ) -> ReconcileReport:
        """Apply a link's state. `observed_at` (time.monotonic() when it was seen; now when not
        given) orders the sources: a polled state queued behind reconciles is dropped when a
        newer observation of that link (a gNMI change) has already been applied."""
        seen = time.monotonic() if observed_at is None else observed_at
        if seen < self._link_seen.get(link_id, float("-inf")):
            detail = f"{link_id} {state.value}: superseded by a newer change"
            self._event("stale-signal", cause, detail)
            return ReconcileReport(cause, committed=False)
        self._link_seen[link_id] = seen
        topo = self.topology.with_link_state(link_id, state)
        report = await self.set_topology(topo, cause)
        if state is LinkState.UP:
            more = await self.optimize(cause)
            report.revisions += more.revisions
            report.moved += more.moved
        return report

    def links_changed_within(self, seconds: float) -> set[str]:
        """Links whose state changed (as observed) in the last `seconds` of monotonic time."""
        since = time.monotonic() - seconds
        return {link for link, seen in self._link_seen.items() if seen >= since}

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

    async def uplink_sla(self, moves: Sequence[Move], cause: str) -> ReconcileReport | None:
        """Brownout switching (issue 20): each move of `controller.uplink_sla` keeps a class off
        an uplink (its intents leave it, the policy's next tier takes them) or lets it back (its
        intents at that uplink's site are placed again, make-before-break); the reconcile's cause,
        so each intent's history, names the probe figures. None when nothing was placed."""
        touched = apply_moves(self.avoid, moves, self.clock())
        entries = []
        for move in moves:
            what = f"{move.service_class} {'off' if move.kind == 'off' else 'back to'} {move.link}"
            self._event(f"sla-{move.kind}", move.cause, what)
            entries.append(("engine", f"sla-{move.kind}", move.link, what))
        await asyncio.to_thread(self._audit_all, entries)  # one thread hop for the batch
        names = at_sites(self._placements, self.topology, moves, touched)
        if not names:
            return None
        if any(m.kind == "back" for m in moves):  # back only past the hold time, as `optimize`
            back = {n.split(LEG)[0] for n in names}  # would; the timer's optimize takes the rest
            self._force |= await asyncio.to_thread(self._past_hold, back)
        return await self.reconcile(cause)

    def _audit_all(self, entries: list[tuple[str, str, str, str]]) -> None:
        for entry in entries:
            self.store.audit(*entry)

    def _past_hold(self, names: set[str]) -> set[str]:
        """Those of `names` that have held their path for `hold_time_s` (flap damping)."""
        now = self.clock()
        past = set()
        for name in names:
            record = self.store.get_intent(name)
            since = record.moved_at if record.moved_at is not None else record.created_at
            if now - since >= self.config.hold_time_s:
                past.add(name)
        return past

    def _event(self, kind: str, cause: str, detail: str = "", *, log: bool = True) -> None:
        self.record(EngineEvent(self.clock(), kind, cause, detail))
        if log:
            self.log.info("%s: %s %s", kind, cause, detail)

    def record(self, event: EngineEvent) -> None:
        """Keep `event` (GET /v1/events) and tell the listeners."""
        self.events.append(event)
        for listener in self.listeners:
            listener(event)

    # -- hysteresis --------------------------------------------------------------------------
    async def optimize(self, cause: str) -> ReconcileReport:
        """Move healthy intents whose hold time passed to paths better by `improvement`."""
        async with self._lock, self._round(f"{cause}: optimize", retry=False, clears=False):
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
            if record is None or record.state not in INSTALLED_STATES:
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
        async with self._lock, self._round(cause):
            return await self._reconcile(cause)

    async def _reconcile(self, cause: str) -> ReconcileReport:
        self.failpoints.hit("engine-round")
        records = await asyncio.to_thread(self._records)
        before = dict(self._installed)
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
        await self._write_states(records, pre)
        if planned.moved:
            await self._transaction(records, planned, report, transitional=True)
        await self._transaction(records, planned, report, transitional=False)
        if not report.committed:
            self._retry_failed = True
        if report.committed:
            self._placements = dict(planned.raw)
            report.withdrawn = withdrawing
            colors = changed_colors(before, self._installed, report.devices)
            touched = {n for n, r in records.items() if colors.intersection(intent_colors(r.color))}
            post = self._post_states(records, planned, waiting, gone, cause, touched=touched)
            await self._write_states(records, post)
            if planned.moved:
                await asyncio.to_thread(self.store.mark_moved, planned.moved)
            report.installed = sorted(planned.placements)
            if self.config.verify:
                await self._verify(records, post, report)
        self._event("reconcile", cause, _summary(report))
        if report.revisions or report.failed or report.withdrawn:
            await asyncio.to_thread(
                self.store.audit, "engine", "reconcile", cause, _summary(report)
            )
        return report

    def _demand(self) -> Mapping[LinkKey, Mapping[str, float]] | None:
        return None if self.demand is None else self.demand()

    def _records(self) -> dict[str, IntentRecord]:
        return {r.name: r for r in self.store.list_intents()}

    async def _write_states(
        self, records: Mapping[str, IntentRecord], updates: list[tuple[str, IntentState, str]]
    ) -> None:
        """Write a round's states, each only while its intent is still at the version the round
        read: a write the API acknowledged since then is never undone (issue 13)."""
        stale = await asyncio.to_thread(self.store.set_states, updates, _versions(records))
        self._superseded(stale)

    def _superseded(self, names: list[str]) -> None:
        """Intents changed (or deleted) while a round worked on them: the next round takes them."""
        if names:
            self.stats.superseded += len(names)
            detail = f"{', '.join(names[:10])}{' ...' if len(names) > 10 else ''}"
            self._event("superseded", "changed while a round ran", detail, log=False)
            self.notify("changed during a round")

    def _changes(
        self, records: Mapping[str, IntentRecord], planned: RoundResult, transitional: bool
    ) -> tuple[dict[str, DeviceConfig], dict[str, Any]]:
        """Compile and diff against what is installed: (changed devices, their diff)."""
        items = self._items(records, planned, transitional)
        desired = compile_network(self.topology, items, self._demand())
        changed = self._deliverable(changed_devices(self._installed, desired))
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
        report.revisions.append(revision)
        self.stats.transactions += 1
        try:
            result = await self.southbound.apply(revision, changed, previous)
        except Exception as raised:  # outcome unknown: close the revision, read the devices again
            self.book.recheck.update(changed)
            error = f"raised {_error_text(raised)}"
            await self._not_committed(records, revision, planned, report, error)
            raise
        if result.committed:
            self._installed.update(changed)
            self._committed.update(changed)
            self.book.committed(changed, revision)
            report.devices = sorted({*report.devices, *changed})
            placements = {} if transitional else _placement_changes(self._placements, planned)
            await asyncio.to_thread(
                lambda: self.store.finish_revision(revision, True, placements=placements)
            )
            return
        self.stats.device_errors += len(result.failed_devices)
        error = "; ".join(
            f"{d}: {result.devices[d].error or 'failed'}" for d in result.failed_devices
        )
        await self._not_committed(records, revision, planned, report, error or "not committed")

    async def _not_committed(
        self,
        records: Mapping[str, IntentRecord],
        revision: int,
        planned: RoundResult,
        report: ReconcileReport,
        error: str,
    ) -> None:
        """Close a revision that did not commit; the intents it carried fail with the error."""
        report.committed = False
        self._retry_failed = True
        self.stats.transaction_failures += 1
        touched = [*_placement_changes(self._placements, planned), *planned.moved]
        states = [(n, IntentState.FAILED, f"southbound: {error}") for n in sorted(set(touched))]
        versions = _versions(records)
        await asyncio.to_thread(
            lambda: self.store.finish_revision(
                revision, False, error, states=states, versions=versions
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
        *,
        touched: set[str] | None = None,
    ) -> list[tuple[str, IntentState, str]]:
        """States after a committed round. A verified intent stays verified unless it moved or
        its own config (policies, steering) changed on a device this round (`touched`)."""
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
                prior = records[name]
                if not moved and prior.state in INSTALLED_STATES:
                    if prior.state is IntentState.VERIFIED and name not in (touched or set()):
                        out.append((name, IntentState.VERIFIED, prior.reason))
                        continue
                    why = base_reason(prior.reason) or why  # keep the cause of the last move
                out.append((name, IntentState.INSTALLED, why))
        for name in sorted(records):
            record = records[name]
            if record.state is IntentState.WITHDRAWING:
                out.append((name, IntentState.WITHDRAWN, record.reason or "deleted"))
            elif name in waiting:
                out.append((name, IntentState.ACCEPTED, WAITING))
        return out

    # -- verification and drift --------------------------------------------------------------
    async def _verify(
        self,
        records: Mapping[str, IntentRecord],
        post: list[tuple[str, IntentState, str]],
        report: ReconcileReport,
    ) -> None:
        """Read back the devices this round changed (and those left unsure), then settle the
        intents: `installed` -> `verified` when all their devices hold what was pushed."""
        devices = set(report.devices) | self.book.recheck
        if devices:
            expected = {d: self._committed.get(d, DeviceConfig(device=d)) for d in devices}
            verdict = await self.readback.verify(expected, report.cause)
            report.verified = sorted(verdict.ok)
            report.verify_failed = dict(verdict.failed)
            self._installed.update(verdict.read)  # the next diff re-pushes what differs
            for name in verdict.gave_up:  # stop re-pushing; the drift watch will see it
                self._installed[name] = self._committed.get(name, DeviceConfig(device=name))
            if verdict.retry:
                attempt = max(self.book.attempts.get(d, 1) for d in verdict.retry)
                self._retry_later(
                    f"verify retry: {', '.join(sorted(verdict.retry))}",
                    self.config.verify_retry_s * attempt,
                )
        states = {n: (r.state, r.reason) for n, r in records.items()}
        states.update({n: (state, why) for n, state, why in post})
        updates = self._verified_updates(records, states)
        if updates:
            await asyncio.to_thread(self.store.set_states_from, updates, _versions(records))

    def _verified_updates(
        self,
        records: Mapping[str, IntentRecord],
        states: Mapping[str, tuple[IntentState, str]],
    ) -> list[StateUpdate]:
        """Installed intents whose devices all hold their last committed revision go verified;
        verified ones with a device seen differing go back to installed (a device not read since
        a restart is unknown: the stored state stands until the drift check reads it)."""
        bad = bool(self.book.bad)
        names = [
            n
            for n, (state, _) in states.items()
            if state is IntentState.INSTALLED or (bad and state is IntentState.VERIFIED)
        ]
        placed = self.placements() if names else {}
        names = sorted(n for n in names if n in placed and n in records)
        if not names:
            return []  # the usual round: everything verified, no device seen differing
        index = owners(self._committed)
        out: list[StateUpdate] = []
        for name in names:
            record = records[name]
            state, reason = states[name]
            devices = intent_devices(index, record.color)
            if self.book.all_hold(devices):
                if state is IntentState.INSTALLED:
                    why = verified_reason(self.book.last_revision(devices), reason)
                    out.append((name, state, IntentState.VERIFIED, why))
            elif state is IntentState.VERIFIED and self.book.any_bad(devices):
                out.append((name, state, IntentState.INSTALLED, base_reason(reason)))
        return out

    async def check_drift(self, repair: bool) -> DriftReport:
        """Read every managed device, compare with the last committed revision, and (`repair`)
        put drifted devices back with a new transaction. Devices that cannot be read are
        reported, never raised; an engine failure is recorded as a round error and in `error`."""
        report = DriftReport(repair=repair)
        async with self._lock:
            try:
                async with self._round("drift check", retry=False, clears=False):
                    report = await self._read_drift(repair)
            except Exception as error:
                report.error = _error_text(error)
                return report
            if repair and report.read:
                await self._repair(report)
        return report

    async def _read_drift(self, repair: bool) -> DriftReport:
        expected = {
            d: self._committed.get(d, DeviceConfig(device=d))
            for d in sorted(self._managed_devices())
        }
        report = await self.readback.drift(expected, repair)
        if repair:
            self._installed.update(report.read)  # the repair diff starts from what they hold
        records = await asyncio.to_thread(self._records)
        states = {n: (r.state, r.reason) for n, r in records.items()}
        updates = self._verified_updates(records, states)
        if updates:
            await asyncio.to_thread(self.store.set_states_from, updates, _versions(records))
        return report

    async def _repair(self, report: DriftReport) -> None:
        """One reconcile round (under the lock already held) from the devices' real state."""
        devices = sorted(report.read)
        cause = f"drift repair: {', '.join(devices)}"
        try:
            async with self._round(cause):
                result = await self._reconcile(cause)
        except Exception as error:  # recorded, and retried by `run`
            report.committed, report.error = False, _error_text(error)
            return
        report.revisions, report.committed = result.revisions, result.committed
        if not result.committed:
            return
        report.repaired = [
            d
            for d in devices
            if d in result.devices and (not self.config.verify or self.book.holds(d))
        ]
        self.stats.drift_repaired += len(report.repaired)
        if report.repaired:
            detail = f"{', '.join(report.repaired)} in revisions {result.revisions}"
            self._event("drift-repaired", cause, detail)

    def _deliverable(self, changed: dict[str, DeviceConfig]) -> dict[str, DeviceConfig]:
        """Leave out the devices the southbound does not know yet (not in the inventory) that
        would get QoS only: they get it once they join (`devices_changed`). One that would carry
        an intent's policies stays: the southbound refuses the transaction, naming it."""
        if not isinstance(self.southbound, KnowsDevices):
            return changed
        known = self.southbound.known_devices()
        return {d: c for d, c in changed.items() if d in known or c.sr_policies or c.steering}

    def devices_with_config(self) -> set[str]:
        """Devices netpilot committed config to: an inventory re-read must not drop them."""
        return {d for d, c in self._committed.items() if c != DeviceConfig(device=d)}

    def devices_changed(self, cause: str, detail: str = "") -> None:
        """The southbound's devices changed (the inventory re-read): an event, and a round
        that retries failed intents (a router added may be what they waited for)."""
        self._retry_failed = True
        self._event("inventory", cause, detail)
        self.notify(cause)

    def _managed_devices(self) -> set[str]:
        """Every device committed to, plus every topology node the southbound can reach."""
        nodes = set(self.topology.nodes)
        if isinstance(self.southbound, KnowsDevices):
            nodes &= self.southbound.known_devices()
        return set(self._committed) | nodes

    # -- what-if and status ------------------------------------------------------------------
    def plan(self, intents: Iterable[Intent], prune: bool) -> dict[str, Any]:
        """Dry run of a declarative set: intent changes and per-device config diff."""
        given = list(intents)
        records = {r.name: r for r in self.store.list_intents()}
        wanted = {i.name: i for i in given}
        # what applying would refuse, planning refuses too; with prune the set is all there is
        live = set() if prune else {n for n, r in records.items() if r.state not in GONE}
        self.check_set(given, live.__contains__)
        changes, items_in = _intent_changes(records, wanted, prune)
        when = now_utc(self.clock())
        waiting = sorted(i.name for i in items_in if not i.active_at(when))
        items_in = [i for i in items_in if i.name not in waiting]
        # stored intents left out of the set (prune=false) are kept as they are: "unchanged"
        candidates = [
            Candidate(i, changes.get(i.name, "unchanged") != "unchanged") for i in items_in
        ]
        planner = self._planner()
        names = {i.name for i in items_in}
        kept = {n: p for n, p in self._placements.items() if n.split(LEG)[0] in names}
        planned = planner.plan(candidates, kept)
        colors = _colors(records, wanted)
        items = [
            CompileItem(wanted.get(n) or records[n].intent, p, colors[n])
            for n, p in sorted(planned.placements.items())
        ]
        desired = compile_network(self.topology, items, self._demand())
        answer = {
            "changes": [{"name": n, "action": a} for n, a in sorted(changes.items())],
            "unplaced": planned.failed,
            "waiting": waiting,
            "moved": sorted(planned.moved),
            "devices": network_diff(self._installed, desired),
        }
        # a 100,000-intent plan's locals, freed in pieces (`controller.gradual`), not in one
        # cascade when this frame goes
        release_each(items, candidates, planned.placements, planned.raw, desired, records, wanted)
        release_each(given)
        return answer

    def check_set(self, intents: Sequence[Intent], live: Callable[[str], bool]) -> None:
        """`check` a whole set (a bulk apply, a plan, a file) and refuse it with every problem of
        every intent, each named `intents[k].field` (at most `MAX_PROBLEMS`, then a count), so
        one answer lists all that must be fixed. `live` says whether an intent outside the set
        exists (`disjoint_from` may name either)."""
        names = {i.name for i in intents}
        problems: list[str] = []
        bad: list[str] = []
        for k, intent in enumerate(intents):
            found = intent_problems(intent, self.topology, self.prefixes, in_batch(names, live))
            problems += [f"intents[{k}].{p}" for p in found]
            bad += [intent.name] if found else []
        if len(problems) > MAX_PROBLEMS:
            extra = len(problems) - MAX_PROBLEMS
            problems = [*problems[:MAX_PROBLEMS], f"intents: {extra} more problems not listed"]
        if problems:
            what = f"{len(bad)} of {len(intents)} intents"
            raise ValidationError(f"intent {bad[0]!r}" if len(bad) == 1 else what, problems)

    def live_intent(self, name: str) -> bool:
        """An intent of that name is stored and not on its way out."""
        record = self.store.find_intent(name)
        return record is not None and not record.deleted and record.state not in GONE

    def check(self, intent: Intent, batch: Collection[str] = ()) -> Intent:
        """Refuse (422) an intent naming a node the topology lacks (endpoints, waypoints,
        exclusions) or an intent that is neither in the store nor in `batch`, the names of the
        other intents of the same request or file (`controller.intentcheck`)."""

        problems = intent_problems(
            intent, self.topology, self.prefixes, in_batch(batch, self.live_intent)
        )
        if problems:
            raise ValidationError(f"intent {intent.name!r}", problems)
        return intent

    def snapshot(self) -> Engine:
        """An engine that reads like this one does now, for use on a worker thread (the API's
        checks, plans and what-ifs). Call it on the event loop, between two awaits of a round,
        so it is consistent. It shares the store, topology and prefix map (immutable or
        thread-safe) and owns copies of what the rounds reassign or mutate, the placer too (its
        IGP memory must not leak into the rounds); only its read methods (`check`, `plan`,
        `placement`, `planner`, ...) may be called."""
        view = copy.copy(self)
        view._placements = dict(self._placements)
        view._installed = dict(self._installed)
        view._committed = dict(self._committed)
        view.measures = dict(self.measures)
        view.avoid = dict(self.avoid)
        view.placer = copy.copy(self.placer)
        return view

    def placement(self, name: str) -> Placement | None:
        return joined(self._placements, only=name).get(name)

    def placements(self) -> dict[str, Placement]:
        """Installed placements by intent (waypoint legs joined)."""
        return joined(self._placements)

    def raw_placements(self) -> dict[str, Placement]:
        """Installed placements as the placer holds them (waypoint legs apart)."""
        return dict(self._placements)

    def installed_configs(self) -> dict[str, DeviceConfig]:
        """What the engine believes each device holds (the base of the next diff)."""
        return dict(self._installed)

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


def _versions(records: Mapping[str, IntentRecord]) -> dict[str, int]:
    return {name: record.version for name, record in records.items()}


def _error_text(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


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
