"""Bandwidth bookkeeping for placement: who holds how much on each link, at which hold priority."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from controller.pathing.graph import PathGraph

PRIORITIES = 8


@dataclass
class Holding:
    hold_priority: int
    bandwidth_bps: float
    links: tuple[int, ...]
    amounts: dict[int, float] = field(default_factory=dict)
    """Per link, what it holds there (load-shared paths hold only their share)."""

    def on(self, e: int) -> float:
        return self.amounts.get(e, 0.0)


Parts = Sequence[tuple[float, Sequence[int]]]
"""What a placement holds: (bandwidth, links) per part; a link counts once per part."""


def amounts(parts: Parts) -> dict[int, float]:
    """Per link, the bandwidth `parts` hold there (parts on a common link add up)."""
    held: dict[int, float] = {}
    for share, links in parts:
        for e in dict.fromkeys(links):
            held[e] = held.get(e, 0.0) + share
    return held


def parts_of(holding: Holding) -> list[tuple[float, list[int]]]:
    return [(amount, [e]) for e, amount in holding.amounts.items()]


@dataclass
class Ledger:
    """Reservations per link, split by hold priority (0 highest .. 7 lowest)."""

    graph: PathGraph
    reserved: np.ndarray = field(init=False)
    holders: list[set[str]] = field(init=False)
    holdings: dict[str, Holding] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.reserved = np.zeros((len(self.graph.links), PRIORITIES))
        self._cumulative = np.zeros((len(self.graph.links), PRIORITIES))
        """[e, p]: reserved on link e at hold priorities 0..p (one column gives `available`)."""
        self.holders = [set() for _ in self.graph.links]
        self._capacity = np.asarray(self.graph.capacity, dtype=float)

    def available(self, setup_priority: int) -> np.ndarray:
        """Bandwidth a request of `setup_priority` may use on each link: capacity minus holdings
        it cannot preempt (hold priority numerically <= its setup priority)."""
        if not self.holdings:
            return self._capacity.copy()
        out: np.ndarray = self._capacity - self._cumulative[:, setup_priority]
        return out

    def free(self, e: int) -> float:
        return float(self._capacity[e] - self._cumulative[e, -1])

    def reserve(
        self,
        name: str,
        hold_priority: int,
        bandwidth_bps: float,
        links: Sequence[int],
        parts: Parts = (),
    ) -> None:
        """`bandwidth_bps` on each of `links` (once per link), plus each part's bandwidth on
        its links (load-shared paths: shares on a common link add up)."""
        held = amounts(((bandwidth_bps, links), *parts))
        unique = tuple(held)
        self.holdings[name] = Holding(hold_priority, bandwidth_bps, unique, held)
        values = np.fromiter(held.values(), dtype=float, count=len(held))
        self._cumulative[list(unique), hold_priority:] += values[:, None]
        for e, amount in held.items():
            self.reserved[e, hold_priority] += amount
            self.holders[e].add(name)

    def reinstate(self, name: str, holding: Holding) -> None:
        """Put back a holding taken out with `release` (exactly as it was)."""
        self.reserve(name, holding.hold_priority, holding.bandwidth_bps, (), parts_of(holding))

    def fits(self, parts: Parts) -> bool:
        """Whether the free bandwidth on every link covers what `parts` would hold there."""
        return all(self.free(e) >= need * (1 - 1e-9) for e, need in amounts(parts).items())

    def release(self, name: str) -> None:
        holding = self.holdings.pop(name, None)
        if holding is None:
            return
        values = np.fromiter(holding.amounts.values(), dtype=float, count=len(holding.amounts))
        self._cumulative[list(holding.amounts), holding.hold_priority :] -= values[:, None]
        for e, amount in holding.amounts.items():
            self.reserved[e, holding.hold_priority] -= amount
            self.holders[e].discard(name)

    def victims(self, links: Sequence[int], need: float, setup_priority: int) -> list[str]:
        """Holders to preempt so that every link in `links` has `need` free: lowest priority
        (highest hold number) first, then largest bandwidth (fewest victims); only holds weaker
        than the setup priority."""
        unique = list(dict.fromkeys(links))
        free = self._capacity[unique] - self._cumulative[unique, -1]
        if not unique or float(free.min()) >= need * (1 - 1e-9):
            return []
        chosen: list[str] = []
        gone: set[str] = set()
        for e in dict.fromkeys(links):
            short = need - self.free(e) - sum(self.holdings[v].on(e) for v in gone)
            candidates = sorted(
                (
                    v
                    for v in self.holders[e] - gone
                    if self.holdings[v].hold_priority > setup_priority
                ),
                key=lambda v: (-self.holdings[v].hold_priority, -self.holdings[v].on(e), v),
            )
            for v in candidates:
                if short <= need * 1e-9:
                    break
                chosen.append(v)
                gone.add(v)
                short -= self.holdings[v].on(e)
        return chosen
