"""SID-list round trip on random paths in real Topology Zoo networks, within the max SID depth."""

from __future__ import annotations

import dataclasses
import random

import pytest

from controller.errors import PathError
from controller.pathing.sids import IgpRouting, encode, expand, with_sids
from controller.pathing.types import Path
from controller.topology import Topology
from topologies.loader import load


def _random_walk(topo: Topology, rng: random.Random) -> Path | None:
    """A loop-free random walk of 2..12 hops over up links."""
    node = rng.choice(sorted(topo.nodes))
    seen, links = {node}, []
    for _ in range(rng.randint(2, 12)):
        options = [lk for lk in topo.out_links(node) if lk.is_up and lk.dst not in seen]
        if not options:
            break
        link = rng.choice(sorted(options, key=lambda lk: lk.key))
        links.append(link)
        seen.add(link.dst)
        node = link.dst
    if not links:
        return None
    nodes = (links[0].src, *(lk.dst for lk in links))
    return Path(nodes, tuple(lk.key for lk in links), sum(lk.delay_s for lk in links), 0.0)


@pytest.mark.parametrize(
    "spec", ["zoo:Cogentco", "zoo:Geant2012", "zoo:AttMpls", "zoo:Uninett2011"]
)
def test_random_paths_round_trip(spec: str) -> None:
    topo = load(spec)
    routing = IgpRouting.of(topo)
    rng = random.Random(spec)
    walks = [w for w in (_random_walk(topo, rng) for _ in range(120)) if w is not None]
    assert len(walks) > 50
    for path in walks:
        sids = encode(routing, path)
        assert expand(routing, path.nodes[0], sids) == [path.links]
        head = topo.nodes[path.nodes[0]]
        if len(sids) <= head.max_sid_depth:
            assert with_sids(routing, path).sids == sids
        else:
            with pytest.raises(PathError, match="max SID depth"):
                with_sids(routing, path)


def test_shallow_head_end_refuses_long_lists() -> None:
    topo = load("zoo:Cogentco")
    rng = random.Random(1)
    shallow = Topology(
        topo.name,
        [dataclasses.replace(n, max_sid_depth=2) for n in topo.nodes.values()],
        topo.links,
    )
    routing = IgpRouting.of(shallow)
    refused = 0
    for _ in range(60):
        path = _random_walk(shallow, rng)
        if path is None:
            continue
        if len(encode(routing, path)) > 2:
            refused += 1
            with pytest.raises(PathError, match="supports at most 2"):
                with_sids(routing, path)
    assert refused > 0
