"""The engine's events as the correlator's symptoms (docs/incidents.md, "In the controller").

`symptoms(event, placements)` reads one `EngineEvent`:

- `topology` (`Engine.link_state`, from gNMI or a poll), cause `... R reports L down` (or
  `up`): `link_down` (`link_up`) L, and an `sla_miss` for every intent whose primary path
  crossed L when it went down (its traffic is lost until the engine moves it);
- `telemetry` (`Engine.link_measured`), detail `L: delay=... loss=X` with X above 0.1 %:
  `loss` L (a BFD-style loss alarm); `back to normal` in the cause: `loss_clear` L;
- `device-stale` / `device-recovered` (the telemetry loop): `unreachable` / `reachable`.

The texts are the ones the engine and the telemetry loop write (and tests/test_incident_feed.py
makes them with the real engine); anything else is not a symptom.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from controller.engine import EngineEvent
from controller.incident_model import Symptom, SymptomKind
from controller.pathing.types import Placement

LOSS_ALARM = 0.001
"""Loss above this is a loss alarm (the telemetry loop's own SLA threshold, signals.py)."""
REPORTS = re.compile(r"(?:^|: )(?P<device>[^\s:]+) reports (?P<link>\S+) (?P<state>down|up)$")
MEASURED = re.compile(r"^(?P<link>\S+): delay=\S+ loss=(?P<loss>\S+)$")
STALE = re.compile(r"telemetry: (?P<device>\S+) (?:is stale|answers again)$")

Placements = Callable[[], Mapping[str, Placement]]


def symptoms(event: EngineEvent, placements: Placements) -> list[Symptom]:
    """The symptoms in `event` (none for most events)."""
    if event.kind == "topology":
        return _link_state(event, placements)
    if event.kind == "telemetry":
        return _measured(event)
    if event.kind in ("device-stale", "device-recovered"):
        found = STALE.search(event.cause)
        if found is None:
            return []
        kind: SymptomKind = "unreachable" if event.kind == "device-stale" else "reachable"
        return [Symptom(event.at, kind, found["device"], detail=event.detail or event.cause)]
    return []


def _link_state(event: EngineEvent, placements: Placements) -> list[Symptom]:
    found = REPORTS.search(event.cause)
    if found is None:
        return []
    link = found["link"]
    if found["state"] == "up":
        return [Symptom(event.at, "link_up", link, detail=event.cause)]
    out = [Symptom(event.at, "link_down", link, detail=event.cause)]
    for name, placement in sorted(placements().items()):
        path = tuple(key[2] for key in placement.primary.links)
        if link in path:
            why = f"primary path crossed {link} when it went down (traffic lost until moved)"
            out.append(Symptom(event.at, "sla_miss", name, path, why))
    return out


def _measured(event: EngineEvent) -> list[Symptom]:
    found = MEASURED.match(event.detail)
    if found is None:
        return []
    link = found["link"]
    if "back to normal" in event.cause:
        return [Symptom(event.at, "loss_clear", link, detail=event.cause)]
    try:
        loss = float(found["loss"])
    except ValueError:
        return []
    if loss <= LOSS_ALARM:
        return []
    return [Symptom(event.at, "loss", link, detail=event.cause)]
