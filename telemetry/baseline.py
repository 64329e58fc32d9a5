"""Simple stand-ins for the models branch: a Holt (level + trend) utilisation forecaster and a
precursor heuristic for fault risk. They feed the same exporter gauges the ML models will; the
models branch replaces them (say so wherever their numbers are shown)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from telemetry.processor import LinkTelemetry


@dataclass
class HoltForecaster:
    """Double exponential smoothing per series; forecast `h` steps ahead."""

    alpha: float = 0.3
    beta: float = 0.1
    _state: dict[tuple[str, str], tuple[float, float]] = field(default_factory=dict)

    def update(self, key: tuple[str, str], value: float) -> None:
        prev = self._state.get(key)
        if prev is None:
            self._state[key] = (value, 0.0)
            return
        level, trend = prev
        new_level = self.alpha * value + (1 - self.alpha) * (level + trend)
        new_trend = self.beta * (new_level - level) + (1 - self.beta) * trend
        self._state[key] = (new_level, new_trend)

    def forecast(self, key: tuple[str, str], steps: int) -> float | None:
        state = self._state.get(key)
        if state is None:
            return None
        return max(0.0, state[0] + steps * state[1])


def _clip01(x: float) -> float:
    return min(1.0, max(0.0, x))


@dataclass
class PrecursorRisk:
    """Risk in 0..1 from drift against each link's first (healthy) readings: receive power
    falling, CRC errors per packet rising, transmit bias climbing. Decoys fool it by design."""

    _baseline: dict[tuple[str, str], tuple[float | None, float | None]] = field(
        default_factory=dict
    )

    def risk(self, lt: LinkTelemetry, packets_per_s: float | None) -> float:
        key = (lt.src, lt.link)
        base = self._baseline.setdefault(key, (lt.rx_power_dbm, lt.tx_bias_ma))
        parts = []
        if base[0] is not None and lt.rx_power_dbm is not None:
            parts.append(_clip01((base[0] - lt.rx_power_dbm - 2.0) / 6.0))
        if base[1] is not None and lt.tx_bias_ma is not None:
            parts.append(_clip01((lt.tx_bias_ma - base[1] - 5.0) / 15.0))
        if lt.crc_per_s and packets_per_s:
            ratio = lt.crc_per_s / packets_per_s
            parts.append(_clip01(math.log10(max(ratio, 1e-12) / 1e-6) / 3.0))
        if not lt.oper_up:
            return 1.0
        return 1.0 - math.prod(1.0 - p for p in parts)
