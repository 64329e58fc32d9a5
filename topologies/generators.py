"""Generated topologies for data centers and tests.

- `leaf_spine(spines, leaves)`: every leaf to every spine, 100G, 2 us (about 400 m of fibre).
- `fat_tree(k)`: the k-ary fat tree of Al-Fares et al. (k even): (k/2)^2 core switches and k pods
  of k/2 aggregation + k/2 edge switches; 100G, 2 us. Hosts are not modelled.
- `ring(n)`: r1 .. rn in a ring, 10G, 1 ms per hop (a metro/WAN ring).
- `grid(rows, cols)`: r<row>c<col> with 4-neighbour links, 10G, 1 ms per hop.
- `bank-wan:N`: a national bank WAN with N branches of four uplinks each (`bank_scale.py`).
Routers are numbered 1..n in the order listed; every link is bidirectional with id 'a-b'.
"""

from __future__ import annotations

from collections.abc import Callable

from controller.errors import UsageError
from controller.topology import Link, Node, Topology
from topologies.bank_scale import bank_wan

DC_CAPACITY_BPS = 100e9
DC_DELAY_S = 2e-6
WAN_CAPACITY_BPS = 10e9
WAN_DELAY_S = 1e-3
_MAX_NODES = 0xFFFF
_MAX_LINKS = 500_000


def _bidir(a: str, b: str, capacity: float, delay: float) -> list[Link]:
    lid = f"{a}-{b}"
    return [Link(lid, a, b, capacity, delay), Link(lid, b, a, capacity, delay)]


def _nodes(named: list[tuple[str, str]]) -> list[Node]:
    return [Node(name, i, role=role) for i, (name, role) in enumerate(named, start=1)]


def _at_least(value: int, low: int, what: str, example: str) -> None:
    if value < low:
        raise UsageError(f"{what} must be at least {low}, got {value}; e.g. {example}")


def _not_above(routers: int, links: int, spec: str) -> None:
    if routers > _MAX_NODES or links > _MAX_LINKS:
        raise UsageError(
            f"{spec} is too large ({routers} routers, {links} links): "
            f"at most {_MAX_NODES} routers and {_MAX_LINKS} links"
        )


def leaf_spine(spines: int, leaves: int) -> Topology:
    _at_least(spines, 1, "spines", "leaf-spine:2,4")
    _at_least(leaves, 1, "leaves", "leaf-spine:2,4")
    _not_above(spines + leaves, spines * leaves, f"leaf-spine:{spines},{leaves}")
    named = [(f"spine{s}", "spine") for s in range(1, spines + 1)]
    named += [(f"leaf{x}", "leaf") for x in range(1, leaves + 1)]
    nodes = _nodes(named)
    links = [
        lk
        for x in range(1, leaves + 1)
        for s in range(1, spines + 1)
        for lk in _bidir(f"leaf{x}", f"spine{s}", DC_CAPACITY_BPS, DC_DELAY_S)
    ]
    return Topology(f"leaf-spine-{spines}x{leaves}", nodes, links)


def fat_tree(k: int) -> Topology:
    if k < 2 or k % 2:
        raise UsageError(f"fat-tree k must be an even number >= 2, got {k}; e.g. fat-tree:4")
    half = k // 2
    _not_above(5 * k * k // 4, k**3 // 2, f"fat-tree:{k}")
    cores = [f"core{c}" for c in range(1, half * half + 1)]
    named = [(c, "core") for c in cores]
    links: list[Link] = []
    for p in range(1, k + 1):
        aggs = [f"pod{p}-agg{a}" for a in range(1, half + 1)]
        edges = [f"pod{p}-edge{e}" for e in range(1, half + 1)]
        named += [(a, "agg") for a in aggs] + [(e, "edge") for e in edges]
        for a_i, agg in enumerate(aggs):
            links += [lk for e in edges for lk in _bidir(e, agg, DC_CAPACITY_BPS, DC_DELAY_S)]
            uplinks = cores[a_i * half : (a_i + 1) * half]
            links += [lk for c in uplinks for lk in _bidir(agg, c, DC_CAPACITY_BPS, DC_DELAY_S)]
    return Topology(f"fat-tree-{k}", _nodes(named), links)


def ring(n: int) -> Topology:
    _at_least(n, 3, "ring size", "ring:6")
    _not_above(n, n, f"ring:{n}")
    names = [f"r{i}" for i in range(1, n + 1)]
    links = [
        lk
        for i in range(n)
        for lk in _bidir(names[i], names[(i + 1) % n], WAN_CAPACITY_BPS, WAN_DELAY_S)
    ]
    return Topology(f"ring-{n}", _nodes([(x, "router") for x in names]), links)


def grid(rows: int, cols: int) -> Topology:
    _at_least(rows, 1, "grid rows", "grid:3,4")
    _at_least(cols, 1, "grid columns", "grid:3,4")
    if rows * cols < 2:
        raise UsageError("a grid needs at least 2 routers; e.g. grid:3,4")
    _not_above(rows * cols, 2 * rows * cols, f"grid:{rows},{cols}")
    name = [[f"r{r}c{c}" for c in range(1, cols + 1)] for r in range(1, rows + 1)]
    links: list[Link] = []
    for r in range(rows):
        for c in range(cols):
            if c + 1 < cols:
                links += _bidir(name[r][c], name[r][c + 1], WAN_CAPACITY_BPS, WAN_DELAY_S)
            if r + 1 < rows:
                links += _bidir(name[r][c], name[r + 1][c], WAN_CAPACITY_BPS, WAN_DELAY_S)
    nodes = _nodes([(x, "router") for row in name for x in row])
    return Topology(f"grid-{rows}x{cols}", nodes, links)


def from_spec(kind: str, args: str) -> Topology:
    """'leaf-spine', '2,4' -> leaf_spine(2, 4); errors say what the spec should look like."""
    shapes: dict[str, tuple[int, str, Callable[..., Topology]]] = {
        "leaf-spine": (2, "leaf-spine:SPINES,LEAVES", leaf_spine),
        "fat-tree": (1, "fat-tree:K", fat_tree),
        "ring": (1, "ring:N", ring),
        "grid": (2, "grid:ROWS,COLS", grid),
        "bank-wan": (1, "bank-wan:BRANCHES", bank_wan),
    }
    arity, usage, make = shapes[kind]
    parts = [p.strip() for p in args.split(",")] if args.strip() else []
    if len(parts) != arity or not all(p.isascii() and p.isdigit() for p in parts):
        raise UsageError(f"bad generator spec {kind}:{args}: use {usage} with whole numbers")
    numbers = [int(p) for p in parts]
    return make(*numbers)


GENERATORS = ("leaf-spine", "fat-tree", "ring", "grid", "bank-wan")
