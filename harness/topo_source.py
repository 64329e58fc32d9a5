"""Resolve a topology spec for the simulator commands and benchmarks.

Uses the project's loader (`topologies.loader.load`) when it is present; until then it reads the
networkx node-link JSON files of the shared data itself (`geant`, `teal:B4|UsCarrier|Kdl`,
`fb:pod_a|pod_b` or a path), naming node i `str(i)`, link ids `a-b` (lower id first), IGP metric
from capacity and 1 ms per link (these files carry no coordinates).
"""

from __future__ import annotations

import json
from pathlib import Path

from controller.errors import NotFoundError, UsageError
from controller.topology import Link, Node, Topology
from topologies.datasets import data_dir

DEFAULT_DELAY_S = 1e-3


def load_topology(spec: str) -> Topology:
    try:
        from topologies.loader import load  # type: ignore[import-not-found]
    except ImportError:
        return _fallback(spec)
    result: Topology = load(spec)
    return result


def _fallback(spec: str) -> Topology:
    base = data_dir()
    known = {
        "geant": base / "geant" / "topology.json",
        "fb:pod_a": base / "facebook-dc" / "pod_a" / "topology.json",
        "fb:pod_b": base / "facebook-dc" / "pod_b" / "topology.json",
    }
    if spec.startswith("teal:"):
        path = base / "teal" / f"{spec[5:]}.json"
    else:
        path = known.get(spec, Path(spec))
    if not path.is_file():
        raise NotFoundError(
            f"topology {spec!r} not found; use geant, teal:B4|UsCarrier|Kdl, fb:pod_a or a file"
        )
    return node_link(path, spec)


def node_link(path: Path, name: str) -> Topology:
    try:
        doc = json.loads(path.read_text())
        ids = [int(n["id"]) for n in doc["nodes"]]
        edges = [(int(e["source"]), int(e["target"]), float(e["capacity"])) for e in doc["links"]]
    except (ValueError, KeyError, TypeError) as error:
        raise UsageError(
            f"{path}: not a node-link JSON topology with capacities ({error})"
        ) from None
    nodes = [Node(str(i), i + 1) for i in ids]
    links = [
        Link(f"{min(a, b)}-{max(a, b)}", str(a), str(b), cap, DEFAULT_DELAY_S)
        for a, b, cap in edges
    ]
    return Topology(name, nodes, links)
