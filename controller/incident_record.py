"""Incidents as the store keeps them (docs/incidents.md, "Kept across restarts").

`to_record(incident)` is the API's view (`Incident.to_dict()`) plus what the correlator needs to
carry on with it after a restart (`lossy`, `last_symptom`); `from_record` is its inverse. The
store sees plain JSON-able dicts: `controller.store_api.IncidentRow` adds the id's number and the
state it files them by.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from controller.incident_model import Cause, Incident, symptom_from_dict


def to_record(incident: Incident) -> dict[str, Any]:
    return {
        **incident.to_dict(),
        "lossy": sorted(incident.lossy),
        "last_symptom": incident.last_symptom,
    }


def from_record(raw: Mapping[str, Any]) -> Incident:
    root = raw.get("root_cause")
    return Incident(
        id=raw["id"],
        identified_at=float(raw["identified_at"]),
        first_seen=float(raw["first_seen"]),
        state=raw["state"],
        root=_cause(root) if root else None,
        ranking=[_cause(c) for c in raw.get("ranking", [])],
        evidence=[symptom_from_dict(e) for e in raw.get("evidence", [])],
        links=set(raw.get("links", [])),
        devices=set(raw.get("devices", [])),
        lossy=set(raw.get("lossy", [])),
        last_symptom=float(raw.get("last_symptom", raw["identified_at"])),
        located_at=raw.get("located_at"),
        resolved_at=raw.get("resolved_at"),
        revisions=int(raw.get("revisions", 0)),
        reopened=int(raw.get("reopened", 0)),
    )


def _cause(raw: Mapping[str, Any]) -> Cause:
    return Cause(
        kind=raw["kind"],
        name=raw["name"],
        members=frozenset(raw.get("members", [])),
        explains=int(raw.get("explains", 0)),
        seen=float(raw.get("members_down", 0.0)),
        confidence=float(raw.get("confidence", 0.0)),
        where=raw.get("router") or "",
    )
