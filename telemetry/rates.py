"""Rates from cumulative counters, robust to 64-bit wrap and device restarts.

A counter that went down between two samples either wrapped (it passed 2**64 - 1) or was reset
(the device restarted or someone cleared it). A restart shows as a new `boot_id`: no rate for
that interval. Otherwise the drop is read as a wrap, and the rate is kept only if it is plausible
(at most `max_rate`, e.g. 1.5 x line rate): a reset without a boot-id change would otherwise
read as an enormous rate. No rate is ever negative.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

COUNTER_MODULUS = 1 << 64


@dataclass(frozen=True)
class CounterSample:
    t: float
    value: int
    boot_id: int = 0


def counter_rate(
    prev: CounterSample | None, cur: CounterSample, max_rate: float | None = None
) -> float | None:
    """Units per second between two samples, or None when it cannot be known."""
    if prev is None or cur.t <= prev.t or cur.boot_id != prev.boot_id:
        return None
    delta = cur.value - prev.value
    if delta < 0:
        delta += COUNTER_MODULUS
    if not 0 <= delta < COUNTER_MODULUS:
        return None
    rate = delta / (cur.t - prev.t)
    if max_rate is not None and rate > max_rate:
        return None
    return rate


class RateTracker:
    """Remembers the last sample of each counter and turns the next one into a rate."""

    def __init__(self) -> None:
        self._last: dict[Hashable, CounterSample] = {}

    def update(
        self, key: Hashable, sample: CounterSample, max_rate: float | None = None
    ) -> float | None:
        rate = counter_rate(self._last.get(key), sample, max_rate)
        self._last[key] = sample
        return rate
