"""In-process time series: numpy ring buffers behind the `TelemetryStore` interface.

Each series keeps its raw samples in a ring and, for longer history, downsampled tiers (mean per
bucket, e.g. 1 minute and 10 minutes). `query` picks the finest tier that still covers the start
of the window at the requested resolution. Another backend (Prometheus remote read, a TSDB) can
implement the same Protocol.
"""

from __future__ import annotations

import math
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
    """Fixed-capacity (time, value) buffer; the oldest sample is overwritten first.

    Appends go to preallocated Python lists (a numpy scalar store costs more than the work);
    reads come back as numpy arrays in time order.
    """

    def __init__(self, capacity: int) -> None:
        self.t = [0.0] * capacity
        self.v = [0.0] * capacity
        self.head = 0
        self.count = 0

    def append(self, t: float, v: float) -> None:
        self.t[self.head] = t
        self.v[self.head] = v
        self.head += 1
        if self.head == len(self.t):
            self.head = 0
        if self.count < len(self.t):
            self.count += 1

    def ordered(self) -> tuple[np.ndarray, np.ndarray]:
        cap = len(self.t)
        idx = (np.arange(self.count) + self.head - self.count) % cap
        return np.asarray(self.t)[idx], np.asarray(self.v)[idx]

    def oldest(self) -> float | None:
        if not self.count:
            return None
        return float(self.t[(self.head - self.count) % len(self.t)])

    def last(self) -> tuple[float, float]:
        i = (self.head - 1) % len(self.t)
        return float(self.t[i]), float(self.v[i])


@dataclass
class Tier:
    """One resolution of a series: raw (resolution 0) or means over aligned buckets."""

    resolution: float
    ring: Ring
    bucket_end: float = -math.inf
    total: float = 0.0
    n: int = 0

    def add(self, t: float, v: float) -> None:
        if self.resolution <= 0:
            self.ring.append(t, v)
            return
        if t >= self.bucket_end:
            if self.n:
                self.ring.append(self.bucket_end, self.total / self.n)
            self.bucket_end = (math.floor(t / self.resolution) + 1) * self.resolution
            self.total, self.n = 0.0, 0
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
        return tiers[0].ring.last()

    def keys(self, metric: str | None = None) -> list[SeriesKey]:
        return sorted(k for k in self._series if metric is None or k.metric == metric)
