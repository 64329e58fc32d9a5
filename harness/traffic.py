"""Traffic for the simulator: flows (source, destination, class) and their rates over time.

Two sources:
- `MatrixReplay` replays measured traffic matrices (GEANT 5-minute matrices, Facebook pods),
  interpolating linearly between consecutive matrices and looping at the end; each demand is
  split over the service classes by their shares.
- `GravityTraffic` generates demand: a gravity model (node masses drawn once) times a diurnal and a
  weekly shape, with log-normal noise each step and occasional bursts.
Both are deterministic given the numpy `Generator` passed in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from controller.errors import NotFoundError, UsageError
from harness.classes import ClassTable
from harness.routing import LinkIndex
from topologies.datasets import data_dir, read_tm_hist

DAY_S = 86400.0
WEEK_S = 7 * DAY_S


@dataclass(frozen=True)
class Flows:
    """Flow f goes from node src[f] to node dst[f] (LinkIndex numbers) in class cls[f]."""

    src: np.ndarray
    dst: np.ndarray
    cls: np.ndarray

    def __len__(self) -> int:
        return len(self.src)


class TrafficSource(Protocol):
    flows: Flows

    def rates(self, t: float) -> np.ndarray:
        """Offered bit/s of every flow at simulated time t (seconds)."""
        ...


def _split_pairs(
    pairs_src: np.ndarray, pairs_dst: np.ndarray, classes: ClassTable
) -> tuple[Flows, np.ndarray]:
    c = len(classes.specs)
    flows = Flows(
        src=np.repeat(pairs_src, c),
        dst=np.repeat(pairs_dst, c),
        cls=np.tile(np.arange(c), len(pairs_src)),
    )
    return flows, np.tile(classes.shares, len(pairs_src))


@dataclass
class MatrixReplay:
    """Replay (T, n, n) matrices in bit/s; matrix index i is the node named `names[i]`."""

    matrices: np.ndarray
    index: LinkIndex
    names: list[str]
    interval_s: float = 300.0
    classes: ClassTable = field(default_factory=ClassTable)
    scale: float = 1.0

    def __post_init__(self) -> None:
        missing = [n for n in self.names if n not in self.index.node_idx]
        if missing:
            raise UsageError(
                f"traffic matrix node {missing[0]!r} is not in topology "
                f"{self.index.topology.name!r}; use a matrix recorded on this topology"
            )
        total = self.matrices.sum(axis=0)
        np.fill_diagonal(total, 0.0)
        i, j = np.nonzero(total)
        self._i, self._j = i, j
        ids = np.array([self.index.node_idx[n] for n in self.names])
        self.flows, self._shares = _split_pairs(ids[i], ids[j], self.classes)

    def rates(self, t: float) -> np.ndarray:
        pos = (t / self.interval_s) % len(self.matrices)
        k = math.floor(pos)
        frac = pos - k
        a = self.matrices[k][self._i, self._j]
        b = self.matrices[(k + 1) % len(self.matrices)][self._i, self._j]
        pair = (1 - frac) * a + frac * b
        return np.repeat(pair, len(self.classes.specs)) * self._shares * self.scale


def replay_file(path: Path, index: LinkIndex, interval_s: float = 300.0) -> MatrixReplay:
    """A `.hist` file whose matrix ids are the topology's node names `str(id)`."""
    matrices = read_tm_hist(path)
    names = [str(i) for i in range(matrices.shape[1])]
    return MatrixReplay(matrices, index, names, interval_s)


def geant_replay(index: LinkIndex) -> MatrixReplay:
    path = data_dir() / "geant" / "tm-5min.hist"
    if not path.is_file():
        raise NotFoundError(f"GEANT matrices not found at {path}")
    return replay_file(path, index)


@dataclass
class GravityTraffic:
    """Gravity-model demand between `n_flows` (pair, class) flows, shaped by time of day/week.

    `total_bps` is the network-wide offered load at the diurnal mean on a weekday.
    """

    index: LinkIndex
    rng: np.random.Generator
    total_bps: float
    n_flows: int = 1000
    classes: ClassTable = field(default_factory=ClassTable)
    diurnal_amplitude: float = 0.4
    peak_hour: float = 14.0
    weekend_factor: float = 0.6
    noise_sigma: float = 0.1
    burst_probability: float = 0.002
    burst_factor: float = 3.0
    burst_steps: int = 6
    _burst_left: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        n = self.index.n_nodes
        if n < 2:
            raise UsageError("gravity traffic needs a topology with at least two nodes")
        mass = self.rng.lognormal(0.0, 1.0, n)
        gravity = np.outer(mass, mass)
        np.fill_diagonal(gravity, 0.0)
        prob = gravity.ravel() / gravity.sum()
        n_pairs = max(1, min(math.ceil(self.n_flows / len(self.classes.specs)), n * (n - 1)))
        chosen = self.rng.choice(n * n, size=n_pairs, replace=False, p=prob)
        src, dst = np.divmod(chosen, n)
        self.flows, shares = _split_pairs(src, dst, self.classes)
        weight = gravity.ravel()[chosen]
        self._base = np.repeat(weight / weight.sum(), len(self.classes.specs)) * shares
        self._base *= self.total_bps
        self._burst_left = np.zeros(len(self.flows), dtype=np.int64)

    def base_rates(self) -> np.ndarray:
        """Rates at the diurnal mean on a weekday, without noise or bursts."""
        return self._base.copy()

    def rescale(self, factor: float) -> None:
        self._base *= factor
        self.total_bps *= factor

    def shape(self, t: float) -> float:
        """Diurnal (peak at `peak_hour`) times weekly (weekend lower) factor at time t."""
        hour = (t % DAY_S) / 3600.0
        diurnal = 1.0 + self.diurnal_amplitude * math.cos(
            2 * math.pi * (hour - self.peak_hour) / 24
        )
        weekend = (t % WEEK_S) >= 5 * DAY_S
        return diurnal * (self.weekend_factor if weekend else 1.0)

    def rates(self, t: float) -> np.ndarray:
        noise = self.rng.lognormal(-0.5 * self.noise_sigma**2, self.noise_sigma, len(self.flows))
        start = self.rng.random(len(self.flows)) < self.burst_probability
        self._burst_left = np.where(start, self.burst_steps, np.maximum(self._burst_left - 1, 0))
        burst = np.where(self._burst_left > 0, self.burst_factor, 1.0)
        return self._base * self.shape(t) * noise * burst


@dataclass
class StaticTraffic:
    """Constant rates: for tests and hand-computed examples."""

    flows: Flows
    fixed: np.ndarray

    def rates(self, t: float) -> np.ndarray:
        return self.fixed.copy()
