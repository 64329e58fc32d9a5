"""The recorded series of a run, per telemetry step: what `netpilot report` plots.

Plain data: whoever runs the loop (the simulation runtime in harness/, or a controller) appends
one entry per step; telemetry/report.py reads it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class History:
    """Per step: time, utilisation per directed link, SLA per intent, forecast made earlier."""

    t: list[float] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    utilisation: list[np.ndarray] = field(default_factory=list)
    intents: list[str] = field(default_factory=list)
    sla_met: list[np.ndarray] = field(default_factory=list)
    latency_s: list[np.ndarray] = field(default_factory=list)
    forecast: list[np.ndarray] = field(default_factory=list)
    forecast_steps: int = 6
    forecast_label: str = "Holt baseline"
