"""Topology events that telemetry hands to the engine at once (not at the next poll's end)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class TopologyEvent:
    """`kind`: link_down, link_up or device_restart; `link` is the interface (= link id)."""

    t: float
    kind: str
    device: str
    link: str | None = None


EventSink = Callable[[TopologyEvent], None]
