"""TE ratio: route on a forecast, then measure the MLU of that split on what actually came.

ratio = MLU(split chosen from the forecast, actual matrix at t + h) / optimal MLU(actual at t + h).
1.0 is perfect; the optimum comes from the dataset's `.opt` file when given, else from the LP.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from controller.pathing.optimizer import (
    TunnelSet,
    build_tunnel_set,
    demand_vector,
    link_loads,
    min_mlu_lp,
    mlu_of_split,
    shortest_split,
)
from controller.topology import Topology
from models.hedge import hedge_split


@dataclass
class TeContext:
    """A tunnel set plus the way from a series row (K off-diagonal OD values) to its demands."""

    ts: TunnelSet
    nodes: int
    node_index: dict[str, int]
    optimum: np.ndarray | None = None
    _opt_cache: dict[int, float] = field(default_factory=dict)

    @classmethod
    def build(
        cls, topology: Topology, tunnels: Mapping[tuple[int, int], list[list[int]]], nodes: int,
        optimum: np.ndarray | None = None,
    ) -> TeContext:  # fmt: skip
        named = {
            (str(s), str(d)): [[str(n) for n in p] for p in paths]
            for (s, d), paths in tunnels.items()
        }
        ts = build_tunnel_set(topology, named)
        return cls(
            ts=ts, nodes=nodes, node_index={str(i): i for i in range(nodes)}, optimum=optimum
        )

    def demand(self, row: np.ndarray) -> np.ndarray:
        tm = np.zeros((self.nodes, self.nodes))
        tm[~np.eye(self.nodes, dtype=bool)] = np.maximum(row, 0.0)
        return demand_vector(self.ts, tm, self.node_index)

    def route(self, row: np.ndarray) -> np.ndarray:
        """The min-MLU split for the demands of one series row: solved cold, so a method's
        split does not depend on which LPs other methods solved before it (a warm start
        returns one of the degenerate LP's many optimal splits, by history)."""
        return min_mlu_lp(self.ts, self.demand(row), cold=True).split

    def optimal(self, step: int, actual_row: np.ndarray) -> float:
        if self.optimum is not None:
            return float(self.optimum[step])
        if step not in self._opt_cache:
            self._opt_cache[step] = min_mlu_lp(self.ts, self.demand(actual_row)).mlu
        return self._opt_cache[step]

    def ratio(self, split: np.ndarray, step: int, actual_row: np.ndarray) -> float:
        best = self.optimal(step, actual_row)
        got = mlu_of_split(self.ts, self.demand(actual_row), split)
        return got / best if best > 0 else 1.0

    def link_series(self, y: np.ndarray) -> np.ndarray:
        """(T, E) link loads in bit/s when every pair uses its first tunnel (IGP routing)."""
        split = shortest_split(self.ts)
        return np.stack([link_loads(self.ts, self.demand(row), split) for row in y])

    def hedge(self, recent_rows: np.ndarray) -> np.ndarray:
        demands = np.stack([self.demand(r) for r in recent_rows])
        return hedge_split(self.ts, demands)[0]


def summarise(ratios: list[float]) -> dict[str, float]:
    arr = np.asarray(ratios, dtype=float)
    return {"te_ratio_mean": float(arr.mean()), "te_ratio_p95": float(np.percentile(arr, 95))}
