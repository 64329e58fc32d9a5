"""What the web console shows, as JSON: the drawing of the topology, and the live state.

`topology_doc` is the static part (routers placed by `controller.api_ui_layout`, one entry per
physical link); `live_doc` is what changes: each link's state, utilisation (the busier
direction, from the latest telemetry round), fault risk, forecast and whether the engine avoids
it (`at risk`, `forecast hot`), each device's staleness, each intent's state, class, SLA asked,
planned and measured and its paths, the latest engine events and transactions. Both run on a
worker thread (the store is read); `live` is the live controller's telemetry (None without an
inventory: then there is no utilisation, risk or measured SLA, and the doc says so).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from controller.api_ui_layout import Layout
from controller.engine import Engine, EngineEvent
from controller.pathing.types import Path, Placement
from controller.store_api import IntentRecord
from controller.topology import Topology


class _Figure(Protocol):
    @property
    def link(self) -> str: ...


class _Risk(_Figure, Protocol):
    @property
    def risk(self) -> float: ...


class _Forecast(_Figure, Protocol):
    @property
    def utilisation(self) -> float: ...


class _LinkSeen(_Figure, Protocol):
    @property
    def utilisation(self) -> float | None: ...


class _Measured(Protocol):
    @property
    def latency_s(self) -> float | None: ...


class _Processor(Protocol):
    @property
    def links(self) -> Mapping[tuple[str, str], _LinkSeen]: ...


class LiveTelemetry(Protocol):
    """What the console reads of the live controller's telemetry (`controller.runtime.live`)."""

    @property
    def risks(self) -> Sequence[_Risk]: ...

    @property
    def forecasts(self) -> Sequence[_Forecast]: ...

    @property
    def processor(self) -> _Processor: ...

    def measured(self, path: Path) -> _Measured: ...

    def stale_devices(self) -> dict[str, str]: ...


EVENTS = 200
REVISIONS = 30


def topology_doc(topology: Topology, drawing: Layout) -> dict[str, Any]:
    nodes = [
        {
            "name": n.name,
            "role": n.role,
            "site": n.site,
            "sid": n.node_sid,
            "x": drawing.points[n.name][0],
            "y": drawing.points[n.name][1],
        }
        for n in topology.nodes.values()
    ]
    links = [
        {"id": link_id, "a": ends[0].src, "b": ends[0].dst, "capacity_bps": ends[0].capacity_bps}
        for link_id, ends in topology.physical_links().items()
    ]
    return {
        "name": topology.name,
        "width": drawing.width,
        "height": drawing.height,
        "nodes": nodes,
        "links": links,
    }


def live_doc(
    engine: Engine, live: LiveTelemetry | None, events: list[EngineEvent]
) -> dict[str, Any]:
    """`engine` is a snapshot (`Engine.snapshot`) and `events` a copy, both taken on the loop."""
    return {
        "telemetry": live is not None,
        "links": _links(engine, live),
        "stale": sorted(live.stale_devices()) if live is not None else [],
        "intents": _intents(engine, live),
        "events": [
            {"at": e.at, "kind": e.kind, "cause": e.cause, "detail": e.detail}
            for e in events[-EVENTS:]
        ],
        "revisions": engine.store.revisions(REVISIONS),
    }


def _links(engine: Engine, live: LiveTelemetry | None) -> dict[str, dict[str, Any]]:
    risk: dict[str, float] = {}
    forecast: dict[str, float] = {}
    util: dict[str, float] = {}
    if live is not None:
        for r in live.risks:
            risk[r.link] = max(risk.get(r.link, 0.0), r.risk)
        for f in live.forecasts:
            forecast[f.link] = max(forecast.get(f.link, 0.0), f.utilisation)
        for lt in list(live.processor.links.values()):
            if lt.utilisation is not None:
                util[lt.link] = max(util.get(lt.link, 0.0), lt.utilisation)
    avoided: dict[str, list[str]] = {}
    for entry in list(engine.avoid.values()):
        avoided.setdefault(entry.link, []).append(entry.reason)
    out = {}
    for link_id, ends in engine.topology.physical_links().items():
        out[link_id] = {
            "state": "up" if all(lk.is_up for lk in ends) else "down",
            "util": _round(util.get(link_id)),
            "risk": _round(risk.get(link_id)),
            "forecast": _round(forecast.get(link_id)),
            "at_risk": "risk" in avoided.get(link_id, []),
            "hot": "forecast" in avoided.get(link_id, []),
        }
    return out


def _intents(engine: Engine, live: LiveTelemetry | None) -> list[dict[str, Any]]:
    placements = engine.placements()
    return [
        _intent(record, placements.get(record.name), live) for record in engine.store.list_intents()
    ]


def _intent(
    record: IntentRecord, placement: Placement | None, live: LiveTelemetry | None
) -> dict[str, Any]:
    intent = record.intent
    asked = intent.max_latency_s
    out: dict[str, Any] = {
        "name": record.name,
        "state": record.state.value,
        "reason": record.reason,
        "service_class": intent.service_class,
        "src": placement.request.src if placement is not None else None,
        "dst": placement.request.dst if placement is not None else None,
        "asked_ms": None if asked is None else round(asked * 1e3, 3),
        "planned_ms": None,
        "measured_ms": None,
        "primary": None,
        "backup": None,
    }
    if placement is None:
        return out
    out["primary"] = _path(placement.primary)
    out["backup"] = _path(placement.backup)
    out["planned_ms"] = round(placement.primary.latency_s * 1e3, 3)
    if live is not None:
        seen = live.measured(placement.primary)
        if seen.latency_s is not None:
            out["measured_ms"] = round(seen.latency_s * 1e3, 3)
    return out


def _path(path: Path | None) -> dict[str, Any] | None:
    if path is None:
        return None
    return {"nodes": list(path.nodes), "links": [k[2] for k in path.links]}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
