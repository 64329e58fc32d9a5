"""Synthetic traffic for the optimizer: gravity-model demands and scaling to a target MLU."""

from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np

from controller.pathing.optimizer import TunnelSet, mlu_of_split, shortest_split
from controller.topology import Topology


def node_weights(topology: Topology) -> dict[str, float]:
    """Gravity mass of each node: the capacity of its up links out."""
    weights = dict.fromkeys(topology.nodes, 0.0)
    for link in topology.up_links():
        weights[link.src] += link.capacity_bps
    return weights


def gravity_demand(topology: Topology, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
    """Demand of each pair proportional to the product of its ends' masses (unscaled)."""
    w = node_weights(topology)
    return np.array([w[s] * w[d] for s, d in pairs], dtype=float)


def scale_to_shortest_path_mlu(
    ts: TunnelSet, demand: np.ndarray, target: float = 1.0
) -> np.ndarray:
    """`demand` scaled so that plain shortest-path routing has MLU `target`."""
    mlu = mlu_of_split(ts, demand, shortest_split(ts))
    return demand * (target / mlu) if mlu > 0 else demand


def sample_pairs(topology: Topology, limit: int, seed: int = 0) -> list[tuple[str, str]]:
    """All ordered pairs of distinct nodes, or a seeded random sample of `limit` of them."""
    names = sorted(topology.nodes)
    total = len(names) * (len(names) - 1)
    if total <= limit:
        return [(a, b) for a in names for b in names if a != b]
    rng = random.Random(seed)
    chosen: set[tuple[str, str]] = set()
    while len(chosen) < limit:
        a, b = rng.sample(names, 2)
        chosen.add((a, b))
    return sorted(chosen)
