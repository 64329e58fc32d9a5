"""In-process time series: numpy ring buffers behind the `TelemetryStore` interface.

Each series keeps its raw samples in a ring and, for longer history, downsampled tiers (mean per
bucket, e.g. 1 minute and 10 minutes). `query` picks the finest tier that still covers the start
of the window at the requested resolution. Another backend (Prometheus remote read, a TSDB) can
implement the same Protocol.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np


@dataclass(frozen=True, order=True)
class SeriesKey:
    metric: str
    labels: tuple[tuple[str, str], ...] = ()

    def label(self, name: str) -> str | None:
        return dict(self.labels).get(name)


def series(metric: str, **labels: str) -> SeriesKey:
    return SeriesKey(metric, tuple(sorted(labels.items())))


class TelemetryStore(Protocol):
    def append(self, key: SeriesKey, t: float, value: float) -> None: ...

    def query(
        self, key: SeriesKey, start: float, end: float, resolution: float = 0.0
    ) -> tuple[np.ndarray, np.ndarray]: ...

    def latest(self, key: SeriesKey) -> tuple[float, float] | None: ...

    def keys(self, metric: str | None = None) -> list[SeriesKey]: ...


class Ring:
    """Fixed-capacity (time, value) buffer; the oldest sample is overwritten first."""

    def __init__(self, capacity: int) -> None:
        self.t = np.zeros(capacity)
        self.v = np.zeros(capacity)
        self.head = 0
        self.count = 0

    def append(self, t: float, v: float) -> None:
        cap = len(self.t)
        self.t[self.head] = t
        self.v[self.head] = v
        self.head = (self.head + 1) % cap
        self.count = min(self.count + 1, cap)

    def ordered(self) -> tuple[np.ndarray, np.ndarray]:
        cap = len(self.t)
        idx = (np.arange(self.count) + self.head - self.count) % cap
        return self.t[idx], self.v[idx]

    def oldest(self) -> float | None:
        if not self.count:
            return None
        return float(self.t[(self.head - self.count) % len(self.t)])


@dataclass
class Tier:
    resolution: float
    ring: Ring
    bucket: float | None = None
    total: float = 0.0
    n: int = 0

    def add(self, t: float, v: float) -> None:
        if self.resolution <= 0:
            self.ring.append(t, v)
            return
        b = np.floor(t / self.resolution) * self.resolution
        if self.bucket is not None and b != self.bucket and self.n:
            self.ring.append(self.bucket + self.resolution, self.total / self.n)
            self.total, self.n = 0.0, 0
        self.bucket = b
        self.total += v
        self.n += 1


@dataclass
class RingStore:
    """`tiers`: (resolution s, capacity) pairs; resolution 0 keeps raw samples."""

    tiers: tuple[tuple[float, int], ...] = ((0.0, 720), (60.0, 1440), (600.0, 1008))
    _series: dict[SeriesKey, list[Tier]] = field(default_factory=dict)

    def append(self, key: SeriesKey, t: float, value: float) -> None:
        tiers = self._series.get(key)
        if tiers is None:
            tiers = [Tier(res, Ring(cap)) for res, cap in self.tiers]
            self._series[key] = tiers
        for tier in tiers:
            tier.add(t, value)

    def query(
        self, key: SeriesKey, start: float, end: float, resolution: float = 0.0
    ) -> tuple[np.ndarray, np.ndarray]:
        tiers = self._series.get(key)
        if not tiers:
            return np.zeros(0), np.zeros(0)
        usable = [tr for tr in tiers if tr.resolution >= resolution and tr.ring.count]
        chosen = next(
            (tr for tr in usable if (o := tr.ring.oldest()) is not None and o <= start),
            usable[-1] if usable else tiers[0],
        )
        t, v = chosen.ring.ordered()
        keep = (t >= start) & (t <= end)
        return t[keep], v[keep]

    def latest(self, key: SeriesKey) -> tuple[float, float] | None:
        tiers = self._series.get(key)
        if not tiers or not tiers[0].ring.count:
            return None
        ring = tiers[0].ring
        i = (ring.head - 1) % len(ring.t)
        return float(ring.t[i]), float(ring.v[i])

    def keys(self, metric: str | None = None) -> list[SeriesKey]:
        return sorted(k for k in self._series if metric is None or k.metric == metric)
