"""Traffic surges: extra demand between two routers that ramps in, holds, and stops.

One implementation for every user: scenario files (`{kind: surge, ...}`, harness/scenario.py),
the simulator (which adds a scenario's surges to its traffic), the demo and the scenario suite.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.classes import ClassTable
from harness.routing import LinkIndex
from harness.traffic import Flows, TrafficSource


@dataclass(frozen=True)
class Surge:
    """Extra traffic from node `src` to `dst` in class `cls`, ramping to `peak_bps` over `ramp`
    from `at`, gone at `until` (routed as the network routes that class between those nodes)."""

    src: str
    dst: str
    peak_bps: float
    at: float
    ramp: float
    until: float
    cls: str = "test"

    def at_time(self, t: float) -> float:
        if t < self.at or t >= self.until:
            return 0.0
        if self.ramp <= 0:
            return self.peak_bps
        return self.peak_bps * min(1.0, (t - self.at) / self.ramp)


class SurgingTraffic:
    """A traffic source plus one extra flow per surge (appended after the base flows)."""

    def __init__(self, base: TrafficSource, surges: list[Surge], index: LinkIndex) -> None:
        self.base = base
        self.surges = surges
        b = base.flows
        classes = ClassTable()
        self.flows = Flows(
            src=np.concatenate([b.src, [index.node_idx[s.src] for s in surges]]).astype(np.int64),
            dst=np.concatenate([b.dst, [index.node_idx[s.dst] for s in surges]]).astype(np.int64),
            cls=np.concatenate([b.cls, [classes.index(s.cls) for s in surges]]).astype(np.int64),
        )

    def rates(self, t: float) -> np.ndarray:
        return np.concatenate([self.base.rates(t), [s.at_time(t) for s in self.surges]])
