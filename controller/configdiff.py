"""Desired configs as JSON, and per-device diffs between two network configs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from controller.desired import (
    CandidatePath,
    DeviceConfig,
    QosQueue,
    QosShare,
    SegmentList,
    SrPolicy,
    SteeringRule,
)


def config_to_dict(config: DeviceConfig) -> dict[str, Any]:
    return {
        "device": config.device,
        "sr_policies": [_policy_dict(p) for p in config.sr_policies],
        "steering": [_flat(s) for s in config.steering],
        "qos": [{**_flat(q), "dscp": list(q.dscp)} for q in config.qos],
        "shares": [_flat(s) for s in config.shares],
    }


def _flat(item: Any) -> dict[str, Any]:
    return {f.name: getattr(item, f.name) for f in fields(item)}


def _policy_dict(policy: SrPolicy) -> dict[str, Any]:
    out = _flat(policy)
    out["candidate_paths"] = [
        {
            "name": cp.name,
            "preference": cp.preference,
            "segment_lists": [
                {"name": sl.name, "sids": list(sl.sids), "weight": sl.weight}
                for sl in cp.segment_lists
            ],
        }
        for cp in policy.candidate_paths
    ]
    return out


def config_from_dict(data: Mapping[str, Any]) -> DeviceConfig:
    return DeviceConfig(
        device=data["device"],
        sr_policies=tuple(_policy(p) for p in data.get("sr_policies", ())),
        steering=tuple(SteeringRule(**s) for s in data.get("steering", ())),
        qos=tuple(_queue(q) for q in data.get("qos", ())),
        shares=tuple(QosShare(**s) for s in data.get("shares", ())),
    )


def _policy(data: Mapping[str, Any]) -> SrPolicy:
    paths = tuple(
        CandidatePath(
            name=cp["name"],
            preference=cp["preference"],
            segment_lists=tuple(
                SegmentList(name=s["name"], sids=tuple(s["sids"]), weight=s["weight"])
                for s in cp["segment_lists"]
            ),
        )
        for cp in data["candidate_paths"]
    )
    fields = {k: v for k, v in data.items() if k != "candidate_paths"}
    return SrPolicy(candidate_paths=paths, **fields)


def _queue(data: Mapping[str, Any]) -> QosQueue:
    return QosQueue(**{**data, "dscp": tuple(data["dscp"])})


def device_diff(old: DeviceConfig | None, new: DeviceConfig | None) -> dict[str, Any]:
    """What changes on one device: added / removed / changed items by key; empty when equal."""
    diff: dict[str, Any] = {}
    sections: list[tuple[str, Any]] = [
        ("sr_policies", lambda p: f"{p.color}/{p.endpoint}"),
        ("steering", lambda s: s.name),
        ("qos", lambda q: q.service_class),
        ("shares", lambda s: f"{s.interface}/{s.service_class}"),
    ]
    for section, key in sections:
        before = {key(item): item for item in getattr(old, section, ())}
        after = {key(item): item for item in getattr(new, section, ())}
        part = {
            "added": sorted(k for k in after if k not in before),
            "removed": sorted(k for k in before if k not in after),
            "changed": sorted(k for k in after if k in before and after[k] != before[k]),
        }
        part = {k: v for k, v in part.items() if v}
        if part:
            diff[section] = part
    return diff


def network_diff(
    old: Mapping[str, DeviceConfig], new: Mapping[str, DeviceConfig]
) -> dict[str, dict[str, Any]]:
    """Device -> its diff, only for devices that change."""
    out: dict[str, dict[str, Any]] = {}
    for device in sorted(set(old) | set(new)):
        if old.get(device) == new.get(device):
            continue
        out[device] = device_diff(old.get(device), new.get(device)) or {"changed": ["device"]}
    return out


def changed_devices(
    old: Mapping[str, DeviceConfig], new: Mapping[str, DeviceConfig]
) -> dict[str, DeviceConfig]:
    """The subset of `new` that differs from `old` (devices dropped from `new` get an empty one)."""
    out = {d: c for d, c in new.items() if old.get(d) != c}
    for device in old:
        if device not in new:
            out[device] = DeviceConfig(device=device)
    return dict(sorted(out.items()))
