"""Where the console draws each router: by its coordinates, else by a force layout.

Routers with coordinates (bank-wan, Topology Zoo) are projected equirectangularly (longitude
scaled by the cosine of the mean latitude, north up); routers without any are placed by
networkx's spring layout around those that have them (held fixed), or all of them when none
has. Routers of one city (bank-wan's seven in Beijing) would sit on top of each other, so the
points are then pushed apart until no two are closer than a minimum distance. The result is in
the console's drawing units: x in [0, WIDTH], y in [0, height] (height keeps the aspect).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import networkx as nx
import numpy as np
from scipy.spatial import cKDTree

from controller.topology import Topology

WIDTH = 1000.0
MARGIN = 0.05
SPREAD_ROUNDS = 80


@dataclass(frozen=True)
class Layout:
    width: float
    height: float
    points: dict[str, tuple[float, float]]


def layout(topology: Topology) -> Layout:
    names = list(topology.nodes)
    if not names:
        return Layout(WIDTH, WIDTH * 0.6, {})
    xy = _placed(topology, names)
    xy = _spread(_unit(xy), _min_distance(len(names)))
    return _fit(names, _unit(xy))


def _placed(topology: Topology, names: list[str]) -> np.ndarray:
    known = {n: topology.node(n) for n in names if topology.node(n).has_coordinates}
    fixed: dict[str, tuple[float, float]] = {}
    if known:
        lat0 = math.radians(sum(float(n.lat or 0.0) for n in known.values()) / len(known))
        for name, node in known.items():
            fixed[name] = (float(node.lon or 0.0) * math.cos(lat0), -float(node.lat or 0.0))
    if len(fixed) < len(names):
        fixed = _force(topology, names, fixed)
    return np.array([fixed[n] for n in names], dtype=float)


def _force(
    topology: Topology, names: list[str], fixed: dict[str, tuple[float, float]]
) -> dict[str, tuple[float, float]]:
    graph = nx.Graph()
    graph.add_nodes_from(names)
    graph.add_edges_from((lk.src, lk.dst) for lk in topology.links)
    if not fixed:
        pos = nx.spring_layout(graph, seed=7)
    else:
        pos = nx.spring_layout(graph, pos=dict(fixed), fixed=list(fixed), seed=7)
    return {n: (float(pos[n][0]), float(pos[n][1])) for n in names}


def _unit(xy: np.ndarray) -> np.ndarray:
    """Scaled into the unit square (aspect kept), the larger side spanning [0, 1]."""
    low = xy.min(axis=0)
    span = float((xy.max(axis=0) - low).max()) or 1.0
    out: np.ndarray = (xy - low) / span
    return out


def _min_distance(count: int) -> float:
    return float(min(0.05, max(0.015, 0.25 / math.sqrt(count))))


def _spread(xy: np.ndarray, gap: float) -> np.ndarray:
    """Push points apart (close pairs only, half the overlap each) until none is closer than
    `gap` (or SPREAD_ROUNDS passed)."""
    rng = np.random.default_rng(7)
    xy = xy + rng.normal(0.0, 1e-6, xy.shape)  # routers at the very same spot need a direction
    for _ in range(SPREAD_ROUNDS):
        pairs = cKDTree(xy).query_pairs(gap, output_type="ndarray")
        if not len(pairs):
            break
        i, j = pairs[:, 0], pairs[:, 1]
        diff = xy[i] - xy[j]
        dist = np.maximum(np.sqrt((diff**2).sum(axis=1)), 1e-12)
        push = diff / dist[:, None] * ((gap - dist) / 2.0)[:, None]
        np.add.at(xy, i, push)
        np.add.at(xy, j, -push)
    return xy


def _fit(names: list[str], unit: np.ndarray) -> Layout:
    span = unit.max(axis=0)
    aspect = float(span[1] / span[0]) if span[0] > 0 else 1.0
    aspect = min(max(aspect, 0.35), 1.4)
    width, height = WIDTH, WIDTH * aspect
    inner_w, inner_h = width * (1 - 2 * MARGIN), height * (1 - 2 * MARGIN)
    sx = inner_w / float(span[0] or 1.0)
    sy = inner_h / float(span[1] or 1.0)
    scale = min(sx, sy)
    off_x = (width - float(span[0]) * scale) / 2
    off_y = (height - float(span[1]) * scale) / 2
    points = {
        n: (round(off_x + float(p[0]) * scale, 1), round(off_y + float(p[1]) * scale, 1))
        for n, p in zip(names, unit, strict=True)
    }
    return Layout(width, round(height, 1), points)
