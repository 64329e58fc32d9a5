"""The topology model: routers and directed links on a networkx MultiDiGraph.

A physical link is two directed `Link`s that share an `id` (one per direction); parallel links
between the same routers have different ids. A directed link is identified by its `key`
`(src, dst, id)`, which is also its edge key in the graph. Units: bit/s and seconds.

SRv6 addressing is derived, never typed (see DESIGN.md): router with index i owns locator
`fcbb:bb00:<i>::/48`, node SID `fcbb:bb00:<i>::1`, adjacency SIDs `fcbb:bb00:<i>:e<k>::` and
loopback `fc00:0:<i>::1/128`, with i and k in hexadecimal.
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

import networkx as nx
import numpy as np
import scipy.sparse as sp
from scipy.sparse import csgraph

from controller.errors import NotFoundError, TopologyError

LinkKey = tuple[str, str, str]
"""(src, dst, link id): one direction of one physical link."""

FIBRE_DELAY_S_PER_KM = 5e-6
"""Propagation delay in fibre, about 5 microseconds per km (2/3 of c)."""

REFERENCE_BANDWIDTH_BPS = 100e9
"""Default IGP metric = reference bandwidth / capacity (OSPF auto-cost style), at least 1."""

MAX_ROUTER_INDEX = 0xFFFF

NON_TRANSIT_ROLES = frozenset({"branch", "cpe", "stub", "host"})
"""Edge roles whose routers never carry other routers' traffic unless `transit` says so."""

TRANSPORTS = ("private-line", "mpls-vpn", "internet", "5g")
"""The transports netpilot knows by name; a link may name a custom one too."""


@dataclass(frozen=True)
class UplinkTier:
    """Uplink transports tried together; with several, traffic is shared by weight."""

    transports: tuple[str, ...]
    weights: tuple[int, ...]

    def members(self, exclude: frozenset[str]) -> list[tuple[str, int]]:
        return [
            (t, w) for t, w in zip(self.transports, self.weights, strict=True) if t not in exclude
        ]

    def text(self) -> str:
        if len(self.transports) == 1:
            return self.transports[0]
        inner = ", ".join(f"{t}: {w}" for t, w in zip(self.transports, self.weights, strict=True))
        return "{" + inner + "}"


@dataclass(frozen=True)
class UplinkPolicy:
    """Ordered tiers, exclusions and whether metered links may carry the class."""

    tiers: tuple[UplinkTier, ...] = ()
    exclude: frozenset[str] = frozenset()
    metered: bool = True
    void: tuple[int, ...] = ()
    """Tiers as written (indices) whose weights sum to 0: bad input, reported with the site."""

    def names(self) -> set[str]:
        """Every transport the policy names."""
        return {t for tier in self.tiers for t in tier.transports} | set(self.exclude)

    def allowed(self, present: Iterable[str]) -> list[str]:
        """Transports of `present` the policy lets the class use (in tier order)."""
        here = list(dict.fromkeys(present))
        if not self.tiers:
            return [t for t in here if t not in self.exclude]
        return [t for tier in self.tiers for t, _ in tier.members(self.exclude) if t in set(here)]

    def text(self) -> str:
        parts = [" then ".join(t.text() for t in self.tiers) or "any transport"]
        if self.exclude:
            parts.append(f"never {', '.join(sorted(self.exclude))}")
        if not self.metered:
            parts.append("never metered")
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"prefer": [_tier_dict(t) for t in self.tiers]}
        if self.exclude:
            out["exclude"] = sorted(self.exclude)
        if not self.metered:
            out["metered"] = False
        return out


def _tier_dict(tier: UplinkTier) -> str | dict[str, int]:
    if len(tier.transports) == 1 and tier.weights == (1,):
        return tier.transports[0]
    return dict(zip(tier.transports, tier.weights, strict=True))


class LinkState(StrEnum):
    UP = "up"
    DOWN = "down"


@dataclass(frozen=True)
class Node:
    """A router. `index` (1..65535) drives its SRv6 addresses; `role` is free text (dc, hq, ...).

    `transit`: whether paths may cross this router when it is neither their source nor their
    destination. None (the default) is resolved from the role: `NON_TRANSIT_ROLES` (branch,
    cpe, stub, host) are non-transit, every other role transit.

    `uplinks`: the site's uplink policies, (service class, policy) pairs overriding the class
    table's defaults for paths that start or end here (see `controller.pathing.uplinks`).
    """

    name: str
    index: int
    role: str = "router"
    site: str = ""
    lat: float | None = None
    lon: float | None = None
    max_sid_depth: int = 10
    transit: bool | None = None
    uplinks: tuple[tuple[str, UplinkPolicy], ...] = ()

    def __post_init__(self) -> None:
        if self.transit is None:
            object.__setattr__(self, "transit", default_transit(self.role))

    @property
    def locator(self) -> str:
        return f"fcbb:bb00:{self.index:x}::/48"

    @property
    def node_sid(self) -> str:
        return f"fcbb:bb00:{self.index:x}::1"

    @property
    def loopback(self) -> str:
        return f"fc00:0:{self.index:x}::1/128"

    @property
    def has_coordinates(self) -> bool:
        return self.lat is not None and self.lon is not None


@dataclass(frozen=True)
class Link:
    """One direction of a physical link."""

    id: str
    src: str
    dst: str
    capacity_bps: float
    delay_s: float
    igp_metric: int = 0
    te_metric: int = 0
    affinities: frozenset[str] = frozenset()
    srlgs: frozenset[str] = frozenset()
    state: LinkState = LinkState.UP
    medium: str = ""
    transport: str = ""
    """private-line, mpls-vpn, internet, 5g, a custom name, or "" (not an uplink)."""
    metered: bool = False
    """Billed by volume (e.g. 5G): bulk classes keep off it where their policy says so."""

    def __post_init__(self) -> None:
        if self.igp_metric <= 0:
            object.__setattr__(self, "igp_metric", default_igp_metric(self.capacity_bps))
        if self.te_metric <= 0:
            object.__setattr__(self, "te_metric", default_te_metric(self.delay_s))

    @property
    def key(self) -> LinkKey:
        return (self.src, self.dst, self.id)

    @property
    def is_up(self) -> bool:
        return self.state is LinkState.UP


def default_transit(role: str) -> bool:
    """Whether a router of `role` carries transit traffic when its topology does not say."""
    return role not in NON_TRANSIT_ROLES


def default_igp_metric(capacity_bps: float) -> int:
    if capacity_bps <= 0 or not math.isfinite(capacity_bps):
        return 1
    return max(1, round(REFERENCE_BANDWIDTH_BPS / capacity_bps))


def default_te_metric(delay_s: float) -> int:
    """TE metric defaults to the propagation delay in microseconds."""
    if delay_s <= 0 or not math.isfinite(delay_s):
        return 1
    return max(1, round(delay_s * 1e6))


def great_circle_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Haversine distance on a 6371 km sphere."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(min(1.0, math.sqrt(a)))


def fibre_delay_s(a: Node, b: Node) -> float | None:
    """Propagation delay between two nodes from their coordinates, or None without them."""
    if a.lat is None or a.lon is None or b.lat is None or b.lon is None:
        return None
    return great_circle_km(a.lat, a.lon, b.lat, b.lon) * FIBRE_DELAY_S_PER_KM


@dataclass(frozen=True)
class TopologyStats:
    name: str
    nodes: int
    links: int
    directed_links: int
    total_capacity_bps: float
    connected: bool
    diameter_hops: int | None
    diameter_s: float | None
    edge_connectivity: int
    degree_min: int
    degree_mean: float
    degree_max: int
    warnings: tuple[str, ...] = field(default=())


class Topology:
    """An immutable-by-convention set of routers and directed links.

    Build with `Topology(name, nodes, links)`: it validates and raises `TopologyError` listing
    every problem. Changes (`with_link_state`, `with_capacity`) return a new Topology.

    `loader_warnings` are what a loader had to assume (no link speed, no coordinates, renamed
    duplicate labels...); `warnings` is those followed by the structural warnings (disconnected,
    one-way links).
    """

    def __init__(
        self,
        name: str,
        nodes: Iterable[Node],
        links: Iterable[Link],
        *,
        loader_warnings: Iterable[str] = (),
    ) -> None:
        self.name = name
        self.loader_warnings: tuple[str, ...] = tuple(loader_warnings)
        node_list = list(nodes)
        link_list = list(links)
        problems = _validate(node_list, link_list)
        if problems:
            raise TopologyError(f"topology {name!r}", problems)
        self.nodes: dict[str, Node] = {n.name: n for n in node_list}
        self.links: tuple[Link, ...] = tuple(link_list)
        self._by_key: dict[LinkKey, Link] = {lk.key: lk for lk in link_list}
        self.graph: nx.MultiDiGraph = nx.MultiDiGraph(name=name)
        for node in node_list:
            self.graph.add_node(node.name, node=node)
        for link in link_list:
            self.graph.add_edge(link.src, link.dst, key=link.id, link=link)
        self._adj_index = _adjacency_indices(link_list)

    @functools.cached_property
    def warnings(self) -> tuple[str, ...]:
        """`loader_warnings`, then the structural ones (computed on first use: topologies are
        rebuilt on every link change, and most of those copies are never asked)."""
        return self.loader_warnings + tuple(_warnings(self))

    @functools.cached_property
    def uplinks(self) -> dict[str, tuple[Link, ...]]:
        """Per router, its links out that have a transport (its uplinks), in link order."""
        out: dict[str, list[Link]] = {}
        for link in self.links:
            if link.transport:
                out.setdefault(link.src, []).append(link)
        return {name: tuple(links) for name, links in out.items()}

    # -- lookups -----------------------------------------------------------------------------
    def node(self, name: str) -> Node:
        try:
            return self.nodes[name]
        except KeyError:
            raise NotFoundError(
                f"unknown node {name!r} in topology {self.name!r}; "
                f"known nodes include {', '.join(sorted(self.nodes)[:5])}"
            ) from None

    def link(self, key: LinkKey) -> Link:
        try:
            return self._by_key[key]
        except KeyError:
            raise NotFoundError(f"unknown link {key!r} in topology {self.name!r}") from None

    def links_between(self, src: str, dst: str) -> list[Link]:
        return [lk for lk in self.out_links(src) if lk.dst == dst]

    def out_links(self, name: str) -> list[Link]:
        return [data["link"] for _, _, data in self.graph.out_edges(name, data=True)]

    def physical_links(self) -> dict[str, list[Link]]:
        """Link id -> its directed links (one or two)."""
        grouped: dict[str, list[Link]] = {}
        for link in self.links:
            grouped.setdefault(link.id, []).append(link)
        return grouped

    def reverse(self, link: Link) -> Link | None:
        return self._by_key.get((link.dst, link.src, link.id))

    def adjacency_sid(self, link: Link) -> str:
        """End.X SID of `link` at its source router."""
        src = self.nodes[link.src]
        return f"fcbb:bb00:{src.index:x}:e{self._adj_index[link.key]:x}::"

    def up_links(self) -> Iterator[Link]:
        return (lk for lk in self.links if lk.is_up)

    # -- derived views -----------------------------------------------------------------------
    def up_graph(self) -> nx.MultiDiGraph:
        """A view of the graph restricted to links that are up."""
        return nx.subgraph_view(
            self.graph, filter_edge=lambda u, v, k: self.graph.edges[u, v, k]["link"].is_up
        )

    def stats(self) -> TopologyStats:
        return _stats(self)

    # -- changes -----------------------------------------------------------------------------
    def with_links(self, changed: Iterable[Link]) -> Topology:
        by_key = dict(self._by_key)
        for link in changed:
            if link.key not in by_key:
                raise NotFoundError(f"unknown link {link.key!r} in topology {self.name!r}")
            by_key[link.key] = link
        return Topology(
            self.name,
            self.nodes.values(),
            by_key.values(),
            loader_warnings=self.loader_warnings,
        )

    def with_link_state(self, link_id: str, state: LinkState) -> Topology:
        """Both directions of physical link `link_id` set to `state`."""
        directed = self.physical_links().get(link_id)
        if not directed:
            raise NotFoundError(f"unknown link id {link_id!r} in topology {self.name!r}")
        return self.with_links(replace(lk, state=state) for lk in directed)

    def with_capacity(self, link_id: str, capacity_bps: float) -> Topology:
        directed = self.physical_links().get(link_id)
        if not directed:
            raise NotFoundError(f"unknown link id {link_id!r} in topology {self.name!r}")
        return self.with_links(replace(lk, capacity_bps=capacity_bps) for lk in directed)

    def __repr__(self) -> str:
        return f"Topology({self.name!r}, {len(self.nodes)} nodes, {len(self.links)} directed links)"


def _validate(nodes: list[Node], links: list[Link]) -> list[str]:
    problems: list[str] = []
    names = Counter(n.name for n in nodes)
    problems += [
        f"node {n!r} is defined {c} times: give each node a unique name"
        for n, c in names.items()
        if c > 1
    ]
    indices = Counter(n.index for n in nodes)
    problems += [
        f"router index {i} is used by {c} nodes: give each node its own index"
        for i, c in indices.items()
        if c > 1
    ]
    problems += [
        f"node {n.name!r}: index {n.index} is outside 1..{MAX_ROUTER_INDEX}"
        for n in nodes
        if not 1 <= n.index <= MAX_ROUTER_INDEX
    ]
    problems += [
        f"node {n.name!r}: max_sid_depth must be at least 1" for n in nodes if n.max_sid_depth < 1
    ]
    seen: set[LinkKey] = set()
    for link in links:
        problems += _link_problems(link, names)
        if link.key in seen:
            problems.append(
                f"link {link.id!r} from {link.src!r} to {link.dst!r} is defined twice: "
                "give parallel links different ids"
            )
        seen.add(link.key)
    return problems


def _link_problems(link: Link, names: Counter[str]) -> list[str]:
    where = f"link {link.id!r} ({link.src} -> {link.dst})"
    problems = [
        f"{where}: unknown node {end!r}; define it under nodes or fix the name"
        for end in (link.src, link.dst)
        if end not in names
    ]
    if link.src == link.dst:
        problems.append(f"{where}: a link cannot connect a node to itself; remove it")
    if not (link.capacity_bps > 0 and math.isfinite(link.capacity_bps)):
        problems.append(
            f"{where}: capacity must be a positive number of bit/s, got {link.capacity_bps!r}"
        )
    if not (link.delay_s >= 0 and math.isfinite(link.delay_s)):
        problems.append(f"{where}: delay must be zero or more seconds, got {link.delay_s!r}")
    return problems


def _warnings(topo: Topology) -> Iterator[str]:
    if topo.nodes and not nx.is_weakly_connected(topo.graph):
        parts = nx.number_weakly_connected_components(topo.graph)
        yield f"topology {topo.name!r} is disconnected ({parts} parts): some pairs have no path"
    one_way = [lk for lk in topo.links if topo.reverse(lk) is None]
    if one_way:
        yield f"{len(one_way)} link(s) have no reverse direction, e.g. {one_way[0].id!r}"
    cut = transit_cut(topo)
    if cut is not None:
        count, (a, b), via = cut
        yield (
            f"transit policy: {count} router pair(s) are connected only through non-transit "
            f"routers, e.g. {a} and {b} (only via {', '.join(via)}); set transit: true on a "
            "router that may carry their traffic, or add a link"
        )


def transit_cut(topo: Topology) -> tuple[int, tuple[str, str], list[str]] | None:
    """Pairs of routers connected by links but not under the transit policy: their number, one
    example and the non-transit routers its shortest connection crosses (None if no such pair).

    Treats links as undirected, like the 'disconnected' warning. Two routers are connected under
    the policy when they are adjacent or touch a common component of the transit routers (a
    transit router touches its own; a non-transit one those of its transit neighbours).
    """
    transit = {name for name, node in topo.nodes.items() if node.transit}
    if len(transit) == len(topo.nodes):
        return None
    core = nx.Graph()
    core.add_nodes_from(transit)
    core.add_edges_from((lk.src, lk.dst) for lk in topo.links if {lk.src, lk.dst} <= transit)
    component = {v: i for i, part in enumerate(nx.connected_components(core)) for v in part}
    touches: dict[str, set[int]] = {v: {component[v]} for v in transit}
    adjacent: set[frozenset[str]] = set()
    for lk in topo.links:
        touches.setdefault(lk.src, set())
        if lk.dst in transit:
            touches[lk.src].add(component[lk.dst])
        if lk.src not in transit and lk.dst not in transit:
            adjacent.add(frozenset((lk.src, lk.dst)))
    return _count_cut(topo, touches, adjacent)


def _count_cut(
    topo: Topology, touches: dict[str, set[int]], adjacent: set[frozenset[str]]
) -> tuple[int, tuple[str, str], list[str]] | None:
    plain = topo.graph.to_undirected(as_view=True)
    count, example = 0, None
    for part in nx.connected_components(plain):
        groups: dict[frozenset[int], list[str]] = {}
        for v in sorted(part):
            groups.setdefault(frozenset(touches.get(v, set())), []).append(v)
        group_of = {v: key for key, members in groups.items() for v in members}
        keys = list(groups)
        for i, x in enumerate(keys):
            for y in keys[i:]:
                if x & y:
                    continue
                a_side, b_side = groups[x], groups[y]
                total = (
                    len(a_side) * (len(b_side) - 1) // 2 if x == y else len(a_side) * len(b_side)
                )
                linked = sum(1 for p in adjacent if {group_of.get(v) for v in p} == {x, y})
                count += total - linked
                example = example or _unlinked_pair(a_side, b_side, adjacent)
    if example is None:
        return None
    path = nx.shortest_path(plain, *example)
    return count, example, [v for v in path[1:-1] if not topo.nodes[v].transit]


def _unlinked_pair(
    a_side: list[str], b_side: list[str], adjacent: set[frozenset[str]]
) -> tuple[str, str] | None:
    for a in a_side:
        for b in b_side:
            if a != b and frozenset((a, b)) not in adjacent:
                return (a, b)
    return None


def _adjacency_indices(links: list[Link]) -> dict[LinkKey, int]:
    """Number each router's outgoing links 1, 2, ... in a stable order (dst, id)."""
    per_src: dict[str, list[Link]] = {}
    for link in links:
        per_src.setdefault(link.src, []).append(link)
    indices: dict[LinkKey, int] = {}
    for out in per_src.values():
        for k, link in enumerate(sorted(out, key=lambda lk: (lk.dst, lk.id)), start=1):
            indices[link.key] = k
    return indices


def _diameters(simple: nx.Graph) -> tuple[int, float]:
    """Diameter in hops and in delay of a connected graph (scipy all-pairs: 50x networkx)."""
    order = {name: i for i, name in enumerate(simple)}
    rows, cols, delays = [], [], []
    for a, b, delay in simple.edges(data="delay"):
        rows.append(order[a])
        cols.append(order[b])
        delays.append(delay)
    size = (len(order), len(order))
    # explicit zeros stay edges of zero weight in csgraph
    matrix = sp.csr_array((np.array(delays, dtype=float), (rows, cols)), shape=size)
    hops = csgraph.shortest_path(matrix, directed=False, unweighted=True)
    seconds = csgraph.shortest_path(matrix, directed=False)
    return int(hops.max()), float(seconds.max())


def _edge_connectivity(simple: nx.Graph) -> int:
    """Of a connected graph; a bridge (found in linear time) means 1 without a max-flow run."""
    if len(simple) > 1 and nx.has_bridges(simple):
        return 1
    return int(nx.edge_connectivity(simple))


def _stats(topo: Topology) -> TopologyStats:
    simple = nx.Graph()
    simple.add_nodes_from(topo.nodes)
    for link in topo.links:
        prev = simple.get_edge_data(link.src, link.dst)
        if prev is None or link.delay_s < prev["delay"]:
            simple.add_edge(link.src, link.dst, delay=link.delay_s)
    connected = bool(topo.nodes) and nx.is_connected(simple)
    degrees = [d for _, d in simple.degree()] or [0]
    diameter_hops, diameter_s = None, None
    if connected and len(simple) > 1:
        diameter_hops, diameter_s = _diameters(simple)
    return TopologyStats(
        name=topo.name,
        nodes=len(topo.nodes),
        links=len(topo.physical_links()),
        directed_links=len(topo.links),
        total_capacity_bps=sum(lk.capacity_bps for lk in topo.links),
        connected=connected,
        diameter_hops=diameter_hops,
        diameter_s=diameter_s,
        edge_connectivity=_edge_connectivity(simple) if connected else 0,
        degree_min=min(degrees),
        degree_mean=sum(degrees) / len(degrees),
        degree_max=max(degrees),
        warnings=topo.warnings,
    )
