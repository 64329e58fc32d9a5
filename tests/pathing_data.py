"""Real topologies and traffic for the pathing tests, read from ../shared/data.

Node-link topologies (GEANT, Facebook pods) name nodes str(id), router index id + 1, and the
traffic matrices index rows by id.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from controller.pathing.optimizer import TunnelSet, build_tunnel_set
from controller.topology import Topology
from topologies.datasets import data_dir, read_opt, read_tm_hist, read_tunnels
from topologies.loader import load


@cache
def dataset(name: str) -> tuple[Topology, TunnelSet, dict[str, int]]:
    """(topology, tunnel set over tunnels.txt, node -> matrix index) for geant, pod_a, pod_b."""
    folder = data_dir() / ("geant" if name == "geant" else f"facebook-dc/{name}")
    topo = load("geant" if name == "geant" else f"facebook:{name}")
    tunnels = read_tunnels(folder / "tunnels.txt")
    named = {
        (str(s), str(d)): [[str(n) for n in p] for p in paths] for (s, d), paths in tunnels.items()
    }
    index = {n: int(n) for n in topo.nodes}
    return topo, build_tunnel_set(topo, named), index


def matrices(name: str, week: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """(T, n, n) matrices and (T,) optimal MLU values."""
    if name == "geant":
        folder = data_dir() / "geant"
        return read_tm_hist(folder / "tm-5min.hist"), read_opt(folder / "tm-5min.opt")
    folder = data_dir() / f"facebook-dc/{name}"
    return read_tm_hist(folder / f"week{week}.hist"), read_opt(folder / f"week{week}.opt")
