"""Real topologies and traffic for the pathing tests, read from ../shared/data.

A tiny node-link JSON reader stands in until the foundation loaders land; node names are str(id),
router index id + 1, both directions of a link share the id "a-b".
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import numpy as np

from controller.pathing.optimizer import TunnelSet, build_tunnel_set
from controller.topology import Link, Node, Topology
from topologies.datasets import data_dir, read_opt, read_tm_hist, read_tunnels


def nodelink_topology(path: Path, name: str) -> Topology:
    raw = json.loads(path.read_text())
    nodes = [Node(name=str(n["id"]), index=int(n["id"]) + 1) for n in raw["nodes"]]
    links = []
    for lk in raw["links"]:
        a, b = int(lk["source"]), int(lk["target"])
        links.append(
            Link(
                id=f"{min(a, b)}-{max(a, b)}",
                src=str(a),
                dst=str(b),
                capacity_bps=float(lk["capacity"]),
                delay_s=0.0,
            )
        )
    return Topology(name, nodes, links)


@cache
def dataset(name: str) -> tuple[Topology, TunnelSet, dict[str, int]]:
    """(topology, tunnel set over tunnels.txt, node -> matrix index) for geant, pod_a, pod_b."""
    folder = data_dir() / ("geant" if name == "geant" else f"facebook-dc/{name}")
    topo = nodelink_topology(folder / "topology.json", name)
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
