"""Units at the edges: humans write 10G, 250 Mbps, 20ms; inside everything is bit/s and seconds."""

from __future__ import annotations

import math
import re

from controller.errors import UsageError

_BW_UNITS = {
    "": 1.0,
    "b": 1.0,
    "bps": 1.0,
    "k": 1e3,
    "kb": 1e3,
    "kbps": 1e3,
    "m": 1e6,
    "mb": 1e6,
    "mbps": 1e6,
    "g": 1e9,
    "gb": 1e9,
    "gbps": 1e9,
    "t": 1e12,
    "tb": 1e12,
    "tbps": 1e12,
}
_TIME_UNITS = {
    "": 1.0,
    "s": 1.0,
    "sec": 1.0,
    "ms": 1e-3,
    "us": 1e-6,
    "µs": 1e-6,
    "ns": 1e-9,
    "m": 60.0,
    "min": 60.0,
    "h": 3600.0,
    "d": 86400.0,
}
_NUMBER = re.compile(r"^\s*([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([A-Za-zµ/]*)\s*$")


def _split(text: str, field: str, example: str) -> tuple[float, str]:
    match = _NUMBER.match(text)
    if not match:
        raise UsageError(
            f"{field}: cannot read {text!r}; write a number with a unit, e.g. {example}"
        )
    return float(match.group(1)), match.group(2).lower().replace("bit/s", "bps").replace("/s", "ps")


def parse_bandwidth(value: str | float | int, field: str = "bandwidth") -> float:
    """'10G', '250 Mbps', '1.5Gbit/s', 1e9 -> bit/s. Raises UsageError naming `field`."""
    if isinstance(value, bool):
        raise UsageError(f"{field}: expected a bandwidth like 10G or 250Mbps, got {value!r}")
    if isinstance(value, int | float):
        number, unit = float(value), ""
    else:
        number, unit = _split(str(value), field, "10G or 250Mbps")
    if unit not in _BW_UNITS:
        raise UsageError(f"{field}: unknown unit {unit!r} in {value!r}; use bps, K, M, G or T")
    return _checked(number * _BW_UNITS[unit], value, field, "10M", positive=False)


def parse_duration(
    value: str | float | int, field: str = "duration", *, positive: bool = False
) -> float:
    """'20ms', '5us', '1.5s', '2h', 0.02 -> seconds. Raises UsageError naming `field`; negative
    values are refused, and with `positive` zero too (a latency bound of 0 fits no path)."""
    if isinstance(value, bool):
        raise UsageError(f"{field}: expected a duration like 20ms or 2h, got {value!r}")
    if isinstance(value, int | float):
        number, unit = float(value), ""
    else:
        number, unit = _split(str(value), field, "20ms or 2h")
    if unit not in _TIME_UNITS:
        raise UsageError(
            f"{field}: unknown unit {unit!r} in {value!r}; use ns, us, ms, s, m, h or d"
        )
    return _checked(number * _TIME_UNITS[unit], value, field, "150ms", positive=positive)


def _checked(
    result: float, value: str | float | int, field: str, example: str, *, positive: bool
) -> float:
    if not math.isfinite(result):
        raise UsageError(f"{field}: must be a finite number, got {value!r}; write e.g. {example}")
    if positive and result <= 0:
        raise UsageError(f"{field}: must be positive, got {value!r}; write e.g. {example}")
    if result < 0:
        raise UsageError(f"{field}: must not be negative, got {value!r}; write e.g. {example}")
    return result


def format_bandwidth(bps: float) -> str:
    """1.5e9 -> '1.5 Gbps'."""
    for unit, scale in (("Tbps", 1e12), ("Gbps", 1e9), ("Mbps", 1e6), ("Kbps", 1e3)):
        if abs(bps) >= scale:
            return f"{bps / scale:.4g} {unit}"
    return f"{bps:.4g} bps"


def format_duration(seconds: float) -> str:
    """0.0123 -> '12.3 ms'."""
    if seconds >= 1:
        return f"{seconds:.4g} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.4g} ms"
    return f"{seconds * 1e6:.4g} µs"
