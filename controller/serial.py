"""Placements to and from JSON (for the store and the API)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from controller.pathing.types import Path, PathRequest, Placement
from controller.pathing.uplinks import policy_from_dict
from controller.topology import UplinkPolicy


def _jsonable(value: Any) -> Any:
    if isinstance(value, UplinkPolicy):
        return value.to_dict()
    if isinstance(value, frozenset | set):
        return sorted(value)
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def path_to_dict(path: Path) -> dict[str, Any]:
    return {
        "nodes": list(path.nodes),
        "links": [list(k) for k in path.links],
        "latency_s": path.latency_s,
        "cost": path.cost,
        "sids": list(path.sids),
    }


def placement_to_dict(placement: Placement) -> dict[str, Any]:
    request = {f.name: _jsonable(getattr(placement.request, f.name)) for f in fields(PathRequest)}
    return {
        "request": request,
        "primary": path_to_dict(placement.primary),
        "backup": path_to_dict(placement.backup) if placement.backup else None,
        "shared_risks": list(placement.shared_risks),
        **_shares_to_dict(placement),
    }


def _shares_to_dict(placement: Placement) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if placement.shares:
        out["shares"] = [{"path": path_to_dict(p), "weight": w} for p, w in placement.shares]
    if placement.tier:
        out["tier"] = placement.tier
    return out


def path_from_dict(data: Mapping[str, Any]) -> Path:
    return Path(
        nodes=tuple(data["nodes"]),
        links=tuple((str(a), str(b), str(c)) for a, b, c in data["links"]),
        latency_s=float(data["latency_s"]),
        cost=float(data["cost"]),
        sids=tuple(data.get("sids", ())),
    )


def request_from_dict(data: Mapping[str, Any]) -> PathRequest:
    fields = dict(data)
    for key in (
        "include_any",
        "include_all",
        "exclude_any",
        "exclude_nodes",
        "exclude_links",
        "exclude_srlgs",
    ):
        if key in fields:
            fields[key] = frozenset(fields[key])
    if fields.get("transports") is not None:
        fields["transports"] = frozenset(fields["transports"])
    if fields.get("uplinks") is not None:
        fields["uplinks"] = policy_from_dict(fields["uplinks"])
    return PathRequest(**fields)


def placement_from_dict(data: Mapping[str, Any]) -> Placement:
    backup = data.get("backup")
    return Placement(
        request=request_from_dict(data["request"]),
        primary=path_from_dict(data["primary"]),
        backup=path_from_dict(backup) if backup else None,
        shared_risks=tuple(data.get("shared_risks", ())),
        shares=tuple((path_from_dict(s["path"]), int(s["weight"])) for s in data.get("shares", ())),
        tier=str(data.get("tier", "")),
    )
