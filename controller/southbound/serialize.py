"""DeviceConfig <-> plain dicts (JSON/YAML), for revision files and `--json` output."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
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
from controller.errors import ValidationError


def config_to_dict(cfg: DeviceConfig) -> dict[str, Any]:
    return dataclasses.asdict(cfg)


def config_from_dict(doc: Mapping[str, Any], where: str = "config") -> DeviceConfig:
    try:
        return DeviceConfig(
            device=str(doc["device"]),
            sr_policies=tuple(_policy(p) for p in doc.get("sr_policies", ())),
            steering=tuple(SteeringRule(**r) for r in doc.get("steering", ())),
            qos=tuple(
                QosQueue(**{**c, "dscp": tuple(c.get("dscp", ()))}) for c in doc.get("qos", ())
            ),
            shares=tuple(QosShare(**s) for s in doc.get("shares", ())),
        )
    except (KeyError, TypeError) as error:
        raise ValidationError(where, [f"bad device config: {error}"]) from None


def _policy(p: Mapping[str, Any]) -> SrPolicy:
    paths = tuple(
        CandidatePath(
            cp["name"],
            int(cp["preference"]),
            tuple(
                SegmentList(sl["name"], tuple(sl["sids"]), int(sl.get("weight", 1)))
                for sl in cp["segment_lists"]
            ),
        )
        for cp in p["candidate_paths"]
    )
    return SrPolicy(
        int(p["color"]),
        str(p["endpoint"]),
        str(p["name"]),
        paths,
        float(p.get("bandwidth_bps", 0.0)),
        p.get("binding_sid"),
    )


def write_revision(path: Path, revision: int, network: Mapping[str, DeviceConfig]) -> None:
    doc = {"revision": revision, "devices": {n: config_to_dict(c) for n, c in network.items()}}
    path.write_text(json.dumps(doc, indent=1))


def read_revision(path: Path) -> tuple[int, dict[str, DeviceConfig]]:
    """A revision file: `{"revision": N, "devices": {name: DeviceConfig as a dict}}`."""
    if not path.is_file():
        raise ValidationError(f"revision file {path}", ["not found; run `netpilot devices push`"])
    try:
        doc = json.loads(path.read_text())
        devices = doc["devices"]
        revision = int(doc.get("revision", 0))
    except (ValueError, KeyError, TypeError) as error:
        raise ValidationError(
            f"revision file {path}", [f"needs {{revision, devices}}: {error}"]
        ) from None
    return revision, {
        n: config_from_dict(c, f"revision file {path}, device {n!r}") for n, c in devices.items()
    }
