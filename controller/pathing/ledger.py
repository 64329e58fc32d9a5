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
        self, name: str, hold_priority: int, bandwidth_bps: float, links: Sequence[int]
    ) -> None:
        unique = tuple(dict.fromkeys(links))
        self.holdings[name] = Holding(hold_priority, bandwidth_bps, unique)
        self._cumulative[list(unique), hold_priority:] += bandwidth_bps
        for e in unique:
            self.reserved[e, hold_priority] += bandwidth_bps
            self.holders[e].add(name)

    def release(self, name: str) -> None:
        holding = self.holdings.pop(name, None)
        if holding is None:
            return
        self._cumulative[list(holding.links), holding.hold_priority :] -= holding.bandwidth_bps
        for e in holding.links:
            self.reserved[e, holding.hold_priority] -= holding.bandwidth_bps
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
            short = (
                need
                - self.free(e)
                - sum(self.holdings[v].bandwidth_bps for v in gone if e in self.holdings[v].links)
            )
            candidates = sorted(
                (
                    v
                    for v in self.holders[e] - gone
                    if self.holdings[v].hold_priority > setup_priority
                ),
                key=lambda v: (-self.holdings[v].hold_priority, -self.holdings[v].bandwidth_bps, v),
            )
            for v in candidates:
                if short <= need * 1e-9:
                    break
                chosen.append(v)
                gone.add(v)
                short -= self.holdings[v].bandwidth_bps
        return chosen
