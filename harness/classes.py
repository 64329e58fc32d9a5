"""Service classes as the simulator treats them: queue, DSCP, scheduling and traffic mix.

The six classes are the bank's taxonomy (DESIGN.md); queue, DSCP, strict priority and weight come
from the controller's table (`controller.intents.SERVICE_CLASSES`), so the simulated routers
schedule and steer as the compiler configures. Voice is strict priority; the others share what
voice leaves by weight. `share` is the fraction of each demand that belongs to the class
when a traffic matrix is split; `packet_bytes` converts octets to packets; `buffer_s` sizes each
queue's buffer as that many seconds at line rate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from controller.intents import SERVICE_CLASSES


@dataclass(frozen=True)
class ClassSpec:
    name: str
    queue: int
    dscp: int
    priority: bool
    weight: int
    share: float
    packet_bytes: int
    buffer_s: float


_TRAFFIC = {
    # class: (share of each demand, mean packet bytes, queue buffer in seconds of line rate)
    "voice": (0.05, 200, 0.005),
    "production": (0.30, 800, 0.05),
    "video": (0.17, 1200, 0.03),
    "bigdata": (0.30, 1400, 0.10),
    "office": (0.15, 900, 0.05),
    "test": (0.03, 1000, 0.02),
}


def _spec(name: str) -> ClassSpec:
    """Queue, DSCP, scheduling from the controller's class table; traffic mix from _TRAFFIC."""
    d = SERVICE_CLASSES[name]
    share, packet, buffer = _TRAFFIC[name]
    return ClassSpec(name, d.queue, d.dscp, d.strict_priority, d.weight, share, packet, buffer)


DEFAULT_CLASSES: tuple[ClassSpec, ...] = tuple(_spec(n) for n in _TRAFFIC)

CLASS_NAMES: tuple[str, ...] = tuple(c.name for c in DEFAULT_CLASSES)


@dataclass(frozen=True)
class ClassTable:
    """The class specs as arrays (index = class position), for vectorised queueing."""

    specs: tuple[ClassSpec, ...] = DEFAULT_CLASSES

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.specs)

    @property
    def priority(self) -> np.ndarray:
        return np.array([c.priority for c in self.specs], dtype=bool)

    @property
    def weights(self) -> np.ndarray:
        return np.array([float(c.weight) for c in self.specs])

    @property
    def shares(self) -> np.ndarray:
        s = np.array([c.share for c in self.specs])
        return s / s.sum()

    @property
    def packet_bits(self) -> np.ndarray:
        return np.array([8.0 * c.packet_bytes for c in self.specs])

    @property
    def buffer_s(self) -> np.ndarray:
        return np.array([c.buffer_s for c in self.specs])

    def index(self, name: str) -> int:
        for i, spec in enumerate(self.specs):
            if spec.name == name:
                return i
        from controller.errors import UsageError

        raise UsageError(f"unknown service class {name!r}; use one of {', '.join(self.names)}")

    def by_dscp(self, dscp: int) -> int | None:
        for i, spec in enumerate(self.specs):
            if spec.dscp == dscp:
                return i
        return None
