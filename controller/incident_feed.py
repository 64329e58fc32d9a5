"""The engine's events as the correlator's symptoms (docs/incidents.md, "In the controller").

`symptoms(event, state, targets)` reads one `EngineEvent` (`state`: the engine, read as the
event is recorded, before the reconcile it causes moves anything):

- `topology` (`Engine.link_state`, from gNMI or a poll), cause `... R reports L down` (or
  `up`): `link_down` (`link_up`) L, and an `sla_miss` for every intent whose primary path
  crosses L and whose traffic now breaks its SLA: unreachable (no intact backup), or its backup
  measured over the SLA (`controller.incident_sla`);
- `telemetry` (`Engine.link_measured`), detail `L: delay=... loss=X` with X above 0.1 %:
  `loss` L (a BFD-style loss alarm); `back to normal` in the cause: `loss_clear` L; and, either
  way, an `sla_miss` for every intent whose traffic crosses L and whose path, as measured, now
  breaks its latency or loss bound;
- `sla-off` (`Engine.uplink_sla`: branch uplink probes broke a class's SLA): an `sla_miss` for
  each intent of the class over the uplink, with the probe's figures;
- `device-stale` / `device-recovered` (the telemetry loop): `unreachable` / `reachable`.

The texts are the ones the engine and the telemetry loop write (and tests/test_incident_feed.py
makes them with the real engine); anything else is not a symptom.
"""

from __future__ import annotations

import re

from controller.engine import EngineEvent
from controller.incident_model import Symptom, SymptomKind
from controller.incident_sla import PathState, Targets, misses_over, probe_misses

LOSS_ALARM = 0.001
"""Loss above this is a loss alarm (the telemetry loop's own SLA threshold, signals.py)."""
REPORTS = re.compile(r"(?:^|: )(?P<device>[^\s:]+) reports (?P<link>\S+) (?P<state>down|up)$")
MEASURED = re.compile(r"^(?P<link>\S+): delay=\S+ loss=(?P<loss>\S+)$")
STALE = re.compile(r"telemetry: (?P<device>\S+) (?:is stale|answers again)$")
MOVED_OFF = re.compile(r"^(?P<cls>\S+) off (?P<link>\S+)$")


def symptoms(event: EngineEvent, state: PathState, targets: Targets) -> list[Symptom]:
    """The symptoms in `event` (none for most events)."""
    if event.kind == "topology":
        return _link_state(event, state, targets)
    if event.kind == "telemetry":
        return _measured(event, state, targets)
    if event.kind == "sla-off":
        moved = MOVED_OFF.match(event.detail)
        if moved is None:
            return []
        return probe_misses(
            event.at, moved["link"], moved["cls"], event.cause, state, targets=targets
        )
    if event.kind in ("device-stale", "device-recovered"):
        found = STALE.search(event.cause)
        if found is None:
            return []
        kind: SymptomKind = "unreachable" if event.kind == "device-stale" else "reachable"
        return [Symptom(event.at, kind, found["device"], detail=event.detail or event.cause)]
    return []


def _link_state(event: EngineEvent, state: PathState, targets: Targets) -> list[Symptom]:
    found = REPORTS.search(event.cause)
    if found is None:
        return []
    link = found["link"]
    if found["state"] == "up":
        return [Symptom(event.at, "link_up", link, detail=event.cause)]
    down = Symptom(event.at, "link_down", link, detail=event.cause)
    return [down, *misses_over(event.at, link, state, targets, primary_only=True)]


def _measured(event: EngineEvent, state: PathState, targets: Targets) -> list[Symptom]:
    found = MEASURED.match(event.detail)
    if found is None:
        return []
    link = found["link"]
    misses = misses_over(event.at, link, state, targets)
    if "back to normal" in event.cause:
        return [Symptom(event.at, "loss_clear", link, detail=event.cause), *misses]
    try:
        loss = float(found["loss"])
    except ValueError:
        return misses
    if loss <= LOSS_ALARM:
        return misses
    return [Symptom(event.at, "loss", link, detail=event.cause), *misses]
