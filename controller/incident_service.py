"""The correlator inside `controller run`: fed by the engine's events, ticked, read by the API.

    incidents = IncidentService(engine, time.time, audit=store.audit, store=store)
    engine.listeners.append(incidents.on_event)     # `attach` does this
    task = asyncio.create_task(incidents.run())     # locates settled incidents every tick_s

Every change of an incident (opened, located, relocated, merged, resolved) is also an engine
event of kind `incident` (GET /v1/events, the console's timeline) and, once located or
resolved, a line in the store's audit log (actor `correlator`). With a `store`, the incidents
are kept in it (`IntentStore.save_incidents`: every incident that changed, each tick) and read
back when the service starts, so a restarted controller lists them and carries on numbering;
the store keeps the open ones and the last `history` resolved ones (CorrelatorConfig).

SLA misses are measured (`controller.incident_sla`): each intent's SLA comes from the store's
intents, re-read after a reconcile (at most every `SLA_REFRESH_S`), the class's otherwise.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Callable
from typing import Any

from controller.engine import Engine, EngineEvent
from controller.incident_correlator import Correlator, CorrelatorConfig
from controller.incident_feed import symptoms
from controller.incident_model import Change, Incident, Symptom
from controller.incident_record import from_record, to_record
from controller.incident_sla import Target, targets_from
from controller.store_api import IntentRecord, IntentStore

Clock = Callable[[], float]
Audit = Callable[[str, str, str, str], None]
TICK_S = 0.2
SLA_REFRESH_S = 2.0
AUDITED = ("located", "relocated", "resolved")

log = logging.getLogger("netpilot.incidents")


class IncidentService:
    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        *,
        config: CorrelatorConfig | None = None,
        audit: Audit | None = None,
        store: IntentStore | None = None,
        tick_s: float = TICK_S,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.correlator = Correlator(engine.topology, config)
        self.audit = audit
        self.store = store
        self.tick_s = tick_s
        self.opened = 0
        self.resolved = 0
        self.sla: dict[str, Target] = {}
        """Each intent's SLA by name (read from the store; see `refresh_sla`)."""
        self._targets = targets_from(self.sla)
        self._sla_stale = True
        self._sla_read = float("-inf")
        self._lock = threading.Lock()
        self._audits: list[tuple[str, str, str]] = []
        self._saved: dict[str, str] = {}
        """Incident id -> the JSON last written to the store (what changed since)."""
        self._dirty: set[str] = set()
        self._gone: set[str] = set()
        self._observed = False
        if store is not None:
            self._restore(store)

    def attach(self) -> IncidentService:
        self.engine.listeners.append(self.on_event)
        return self

    # -- input -------------------------------------------------------------------------------
    def on_event(self, event: EngineEvent) -> None:
        """An engine listener: never raises into the engine."""
        if event.kind == "incident":
            return
        if event.kind == "reconcile":
            self._sla_stale = True
        try:
            for symptom in symptoms(event, self.engine, self._targets):
                self.observe(symptom)
        except Exception:  # a bug here must not break a reconcile round
            log.exception("incident correlation failed on %s", event)

    def observe(self, symptom: Symptom) -> list[Change]:
        with self._lock:
            self._observed = True
            changes = self.correlator.observe(symptom)
        self._publish(changes)
        return changes

    def tick(self, now: float | None = None) -> list[Change]:
        with self._lock:
            changes = self.correlator.tick(self.clock() if now is None else now)
        self._publish(changes)
        return changes

    async def run(self) -> None:
        """Tick every `tick_s`, write the audit lines and the changed incidents, re-read the
        intents' SLAs after a reconcile; until cancelled. Started when this replica leads: if
        it has heard nothing yet, it reads the store again first (a follower that took over
        carries on with what the old leader kept)."""
        if self.store is not None and not self._observed:
            await asyncio.to_thread(self._restore, self.store)
        while True:
            await asyncio.sleep(self.tick_s)
            self.tick()
            await self._flush_audit()
            await self.flush()
            await self._refresh_sla()

    # -- output ------------------------------------------------------------------------------
    def _publish(self, changes: list[Change]) -> None:
        for change in changes:
            self.opened += change.what == "opened"
            self.resolved += change.what == "resolved"
            (self._gone if change.what == "merged" else self._dirty).add(change.incident)
            self.engine.record(EngineEvent(change.at, "incident", change.text, change.incident))
            log.info("incident %s: %s", change.what, change.text)
            if change.what in AUDITED and self.audit is not None:
                self._audits.append((f"incident-{change.what}", change.incident, change.text))

    async def _flush_audit(self) -> None:
        entries, self._audits = self._audits, []
        for action, target, text in entries:
            try:
                await asyncio.to_thread(self._audit_one, action, target, text)
            except Exception:  # the store may be away; the incident stays in memory
                log.warning("could not audit %s %s", action, target, exc_info=True)

    def _audit_one(self, action: str, target: str, text: str) -> None:
        assert self.audit is not None
        self.audit("correlator", action, target, text)

    # -- the store ---------------------------------------------------------------------------
    def _restore(self, store: IntentStore) -> None:
        """The incidents a previous run kept (unreadable ones are skipped, with a warning)."""
        try:
            rows = store.load_incidents()
        except Exception:
            log.warning("could not read the stored incidents; starting with none", exc_info=True)
            return
        kept = []
        for row in rows:
            try:
                kept.append(from_record(row))
            except (KeyError, TypeError, ValueError) as error:
                log.warning("skipped a stored incident %s: %r", row.get("id", "?"), error)
        fresh = Correlator(self.engine.topology, self.correlator.config)
        fresh.restore(kept, self.clock())
        with self._lock:
            if self._observed:  # heard something meanwhile: keep what it decided
                return
            self.correlator = fresh
            self._saved = {i.id: json.dumps(to_record(i), sort_keys=True) for i in kept}
        try:
            self._read_sla(store.list_intents())
        except Exception:
            log.warning("could not read the intents' SLAs", exc_info=True)

    async def flush(self) -> None:
        """Write every incident that changed since the last flush (and drop merged ones)."""
        if self.store is None:
            return
        with self._lock:
            rows, gone = self._changed(), sorted(self._gone)
            self._gone.clear()
        if not rows and not gone:
            return
        keep = self.correlator.config.history
        try:
            await asyncio.to_thread(self.store.save_incidents, [r for _, r in rows], gone, keep)
        except Exception:  # the store may be away: written again at the next flush
            log.warning("could not save %d incidents", len(rows), exc_info=True)
            with self._lock:
                self._gone.update(gone)
                self._dirty.update(i for i, _ in rows)
            return
        for incident_id, row in rows:
            self._saved[incident_id] = json.dumps(row, sort_keys=True)
        for incident_id in gone:
            self._saved.pop(incident_id, None)

    def _changed(self) -> list[tuple[str, dict[str, Any]]]:
        """(id, record) of the open incidents and the ones a change named, if they differ
        from what was written (an SLA miss joining changes no state but is evidence)."""
        wanted = self._dirty | set(self.correlator.open)
        self._dirty = set()
        out = []
        for inc in self.correlator.incidents():
            if inc.id not in wanted:
                continue
            row = to_record(inc)
            if json.dumps(row, sort_keys=True) != self._saved.get(inc.id):
                out.append((inc.id, row))
        return out

    async def _refresh_sla(self) -> None:
        now = self.clock()
        if self.store is None or not self._sla_stale or now - self._sla_read < SLA_REFRESH_S:
            return
        self._sla_stale, self._sla_read = False, now
        try:
            records = await asyncio.to_thread(self.store.list_intents)
        except Exception:
            log.warning("could not read the intents' SLAs", exc_info=True)
            self._sla_stale = True
            return
        self._read_sla(records)

    def _read_sla(self, records: list[IntentRecord]) -> None:
        fresh = {r.name: Target(r.intent.max_latency_s, r.intent.max_loss) for r in records}
        self.sla.clear()
        self.sla.update(fresh)

    # -- views -------------------------------------------------------------------------------
    def incidents(self, state: str = "all", limit: int = 100) -> list[Incident]:
        with self._lock:
            chosen = [i for i in self.correlator.incidents() if state in ("all", i.state)]
        return chosen[:limit]

    def view(self, state: str = "all", limit: int = 100) -> list[dict[str, Any]]:
        with self._lock:
            chosen = [i for i in self.correlator.incidents() if state in ("all", i.state)]
            return [i.to_dict() for i in chosen[:limit]]

    def open_by_kind(self) -> dict[str, int]:
        with self._lock:
            counts: dict[str, int] = {}
            for inc in self.correlator.open.values():
                kind = inc.root.kind if inc.root is not None else "unknown"
                counts[kind] = counts.get(kind, 0) + 1
            return counts
