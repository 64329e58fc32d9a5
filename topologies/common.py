"""What the loaders share: documented defaults and unique link ids."""

from __future__ import annotations

from collections.abc import Iterable
from statistics import median

DEFAULT_CAPACITY_BPS = 10e9
"""Capacity assumed where a file gives no link speed at all (with a warning)."""

DEFAULT_DELAY_S = 1e-3
"""Delay assumed for a link with no delay field and an end without coordinates, with a warning."""


class LinkIds:
    """Hands out link ids unique in one topology: 'A-B', then 'A-B#2', 'A-B#3' for parallels."""

    def __init__(self) -> None:
        self._taken: set[str] = set()

    def claim(self, wanted: str) -> str:
        candidate, n = wanted, 1
        while candidate in self._taken:
            n += 1
            candidate = f"{wanted}#{n}"
        self._taken.add(candidate)
        return candidate

    def reserve(self, ids: Iterable[str]) -> None:
        self._taken.update(ids)


def fallback_capacity(known: list[float]) -> float:
    """The median of the capacities a file does give, else DEFAULT_CAPACITY_BPS."""
    return float(median(known)) if known else DEFAULT_CAPACITY_BPS
