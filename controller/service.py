"""Read models shared by the REST API and the embedded CLI: status, topology, what-if paths."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from controller.engine import Engine
from controller.intents import Intent
from controller.pathing.types import Path
from controller.planner import Candidate
from controller.topology import Topology


def path_view(path: Path | None) -> dict[str, Any] | None:
    if path is None:
        return None
    return {
        "nodes": list(path.nodes),
        "links": [k[2] for k in path.links],
        "sids": list(path.sids),
        "latency_ms": round(path.latency_s * 1e3, 3),
        "cost": path.cost,
        "hops": path.hops,
    }


class Measured(Protocol):
    latency_s: float | None
    loss: float | None
    age_s: float | None


def intent_status(
    engine: Engine,
    name: str,
    history: int = 50,
    measure: Callable[[Path], Measured] | None = None,
) -> dict[str, Any]:
    """State, path, SID list, SLA asked, planned and measured, and the state history of one
    intent. "measured" comes from telemetry (`measure`, the live controller's); without
    telemetry, or before a link of the path has been measured, it is null: the plan's figures
    are "planned", never passed off as measured."""
    record = engine.store.get_intent(name)
    placement = engine.placement(name)
    intent = record.intent
    out: dict[str, Any] = {
        "name": name,
        "state": record.state.value,
        "reason": record.reason,
        "version": record.version,
        "color": record.color,
        "service_class": intent.service_class,
        "priority": intent.effective_priority,
        "dscp": intent.effective_dscp,
        "bandwidth_bps": intent.bandwidth,
        "sla": {
            "asked": {"max_latency_ms": _ms(intent.max_latency_s), "max_loss": intent.max_loss},
            "planned": None,
            "measured": None,
        },
        "primary": None,
        "backup": None,
        "history": [
            {"at": t.at, "state": t.state.value, "reason": t.reason}
            for t in engine.store.transitions(name, history)
        ],
    }
    if placement is not None:
        primary = path_view(placement.primary)
        if primary is not None and not primary["sids"]:
            primary["sids"] = [
                engine.topology.node(n).node_sid for n in placement.primary.nodes[1:]
            ]
        out["primary"] = primary
        out["backup"] = path_view(placement.backup)
        out["shared_risks"] = list(placement.shared_risks)
        latency, loss = engine.measured(placement.primary)
        out["sla"]["planned"] = {"latency_ms": round(latency * 1e3, 3), "loss": loss}
        seen = measure(placement.primary) if measure is not None else None
        if seen is not None and seen.latency_s is not None:
            out["sla"]["measured"] = {
                "latency_ms": round(seen.latency_s * 1e3, 3),
                "loss": seen.loss,
                "age_s": None if seen.age_s is None else round(seen.age_s, 3),
                "source": "telemetry",
            }
    return out


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1e3, 3)


def topology_view(topology: Topology) -> dict[str, Any]:
    return {
        "name": topology.name,
        "nodes": [
            {
                "name": n.name,
                "index": n.index,
                "role": n.role,
                "node_sid": n.node_sid,
                "loopback": n.loopback,
            }
            for n in topology.nodes.values()
        ],
        "links": [
            {
                "id": lk.id,
                "src": lk.src,
                "dst": lk.dst,
                "capacity_bps": lk.capacity_bps,
                "delay_ms": round(lk.delay_s * 1e3, 3),
                "igp_metric": lk.igp_metric,
                "state": lk.state.value,
            }
            for lk in topology.links
        ],
    }


def what_if(engine: Engine, intent: Intent) -> dict[str, Any]:
    """Where `intent` would go now, given the installed placements; changes nothing."""
    others = [
        Candidate(r.intent, False)
        for r in engine.store.list_intents()
        if r.name != intent.name and engine.placement(r.name) is not None
    ]
    existing = engine.raw_placements()
    planned = engine.planner().plan([*others, Candidate(intent, True)], existing)
    placement = planned.placements.get(intent.name)
    if placement is None:
        return {"placed": False, "reason": planned.failed.get(intent.name, "no feasible path")}
    return {
        "placed": True,
        "src": placement.request.src,
        "dst": placement.request.dst,
        "primary": path_view(placement.primary),
        "backup": path_view(placement.backup),
    }
