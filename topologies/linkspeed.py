"""Link speeds as Topology Zoo files give them: numbers with units or circuit names.

`LinkSpeedRaw` (bit/s) wins, then `LinkSpeed` + `LinkSpeedUnits`, then the free-text `LinkLabel`
and `LinkType` ("10 Gbps", "2x10Gb/s", "1-2.5 Gb/s" (the lower bound), "OC-192", "STM-16",
"GigE", "DS3", "E1"...). Anything else is unknown (None) and the loader assumes a default.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

_SCALE = {"": 1.0, "k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12}

# "10 Gbps", "2.5 Gbit/s", "1Gb/s", "155M", "2x10Gb/s", "1-20Gbps", "less than 100 Mbps", "1 GB/s"
_RATE = re.compile(
    r"(?:(?P<mult>\d+)\s*[x*]\s*)?(?P<num>\d+(?:[.,]\d+)?)(?:\s*-\s*\d+(?:[.,]\d+)?)?\s*"
    r"(?P<unit>[kmgt])(?:bit/s|bits?|bps|b/s|bs|b)?(?![a-z])",
    re.IGNORECASE,
)

# n x 51.84 Mbit/s and n x 155.52 Mbit/s, optionally bundled: "STM-64x2"
_OC = re.compile(r"\b(?:OC|STS)-?(\d+)c?(?:\s*x\s*(\d+))?\b", re.IGNORECASE)
_STM = re.compile(r"\bSTM-?(\d+)(?:\s*x\s*(\d+))?\b", re.IGNORECASE)
_ETHERNET = re.compile(r"\b(\d+)?\s*(?:GE|GbE|GigE|Gig-E|Gigabit(?:\s+Ethernet)?)\b", re.IGNORECASE)
_FAST_ETHERNET = re.compile(r"\b(?:FE|Fast\s*Ethernet)\b", re.IGNORECASE)
_NAMED = {
    "T1": 1.544e6,
    "DS1": 1.544e6,
    "T2": 6.312e6,
    "DS2": 6.312e6,
    "T3": 44.736e6,
    "DS3": 44.736e6,
    "E1": 2.048e6,
    "E2": 8.448e6,
    "E3": 34.368e6,
    "E4": 139.264e6,
}
_NAMED_RE = re.compile(r"\b(T|DS|E)-?([1-4])\b", re.IGNORECASE)


def zoo_speed_bps(attrs: Mapping[str, Any]) -> float | None:
    """The link speed a Zoo edge gives, in bit/s, or None when it gives none."""
    raw = _positive(attrs.get("LinkSpeedRaw"))
    if raw is not None:
        return raw
    speed = _positive(_number(attrs.get("LinkSpeed")))
    unit = str(attrs.get("LinkSpeedUnits", "")).strip().lower()[:1]
    if speed is not None and unit in _SCALE:
        return speed * _SCALE[unit]
    for key in ("LinkLabel", "LinkType", "LinkNote"):
        text = attrs.get(key)
        if isinstance(text, str):
            parsed = speed_from_label(text)
            if parsed is not None:
                return parsed
    return None


def speed_from_label(text: str) -> float | None:
    """'10 Gbps' -> 1e10, 'OC-192' -> 9.95328e9, 'GigE' -> 1e9; None when no speed is named."""
    match = _RATE.search(text)
    if match:
        number = float(match["num"].replace(",", "."))
        mult = int(match["mult"]) if match["mult"] else 1
        value = mult * number * _SCALE[match["unit"].lower()]
        if value > 0:
            return value
    return _circuit(text)


def _circuit(text: str) -> float | None:
    if m := _OC.search(text):
        return int(m[1]) * int(m[2] or 1) * 51.84e6 or None
    if m := _STM.search(text):
        return int(m[1]) * int(m[2] or 1) * 155.52e6 or None
    if m := _ETHERNET.search(text):
        return (int(m[1]) if m[1] else 1) * 1e9 or None
    if _FAST_ETHERNET.search(text):
        return 100e6
    if m := _NAMED_RE.search(text):
        return _NAMED.get(f"{m[1].upper()}{m[2]}")
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip().replace(",", "."))
        except ValueError:
            return None
    return None


def _positive(value: Any) -> float | None:
    number = _number(value)
    if number is None or not math.isfinite(number) or number <= 0:
        return None
    return number
