"""The correlator inside `controller run`: fed by the engine's events, ticked, read by the API.

    incidents = IncidentService(engine, time.time, audit=store.audit)
    engine.listeners.append(incidents.on_event)     # `attach` does this
    task = asyncio.create_task(incidents.run())     # locates settled incidents every tick_s

Every change of an incident (opened, located, relocated, merged, resolved) is also an engine
event of kind `incident` (GET /v1/events, the console's timeline) and, once located or
resolved, a line in the store's audit log (actor `correlator`). The incidents stay in memory:
the open ones and the last `history` resolved ones (CorrelatorConfig).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Any

from controller.engine import Engine, EngineEvent
from controller.incident_correlator import Correlator, CorrelatorConfig
from controller.incident_feed import symptoms
from controller.incident_model import Change, Incident, Symptom

Clock = Callable[[], float]
Audit = Callable[[str, str, str, str], None]
TICK_S = 0.2
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
        tick_s: float = TICK_S,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.correlator = Correlator(engine.topology, config)
        self.audit = audit
        self.tick_s = tick_s
        self.opened = 0
        self.resolved = 0
        self._lock = threading.Lock()
        self._audits: list[tuple[str, str, str]] = []

    def attach(self) -> IncidentService:
        self.engine.listeners.append(self.on_event)
        return self

    # -- input -------------------------------------------------------------------------------
    def on_event(self, event: EngineEvent) -> None:
        """An engine listener: never raises into the engine."""
        if event.kind == "incident":
            return
        try:
            for symptom in symptoms(event, self.engine.placements):
                self.observe(symptom)
        except Exception:  # a bug here must not break a reconcile round
            log.exception("incident correlation failed on %s", event)

    def observe(self, symptom: Symptom) -> list[Change]:
        with self._lock:
            changes = self.correlator.observe(symptom)
        self._publish(changes)
        return changes

    def tick(self, now: float | None = None) -> list[Change]:
        with self._lock:
            changes = self.correlator.tick(self.clock() if now is None else now)
        self._publish(changes)
        return changes

    async def run(self) -> None:
        """Tick every `tick_s` and write the audit lines, until cancelled."""
        while True:
            await asyncio.sleep(self.tick_s)
            self.tick()
            await self._flush_audit()

    # -- output ------------------------------------------------------------------------------
    def _publish(self, changes: list[Change]) -> None:
        for change in changes:
            self.opened += change.what == "opened"
            self.resolved += change.what == "resolved"
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
