"""What the Linux data plane's kernel routing tables should hold: pure, no netlink.

`Plan(topology, run)` names each router's namespace and ports: one veth per physical link end,
`e<k>` inside the router's namespace, addressed `fd00:<link number>::1|2/64`. `desired(plan,
up, configs)` gives every namespace's routes and rules:

- IGP (the main table): each other router's locator /48 and loopback /128 over its IGP
  shortest-path next hops (ECMP as multipath routes), computed over the links that are up;
- SIDs: the node SID is `End`, each up adjacency's SID `End.X` to the neighbour, and the decap
  SID `fcbb:bb00:<i>::d6` is `End.DT6` looking up table 255 (local): a policy's traffic leaves
  its tunnel at the endpoint there;
- SR policies at a head end: per steering rule, a `seg6` encap route for the steered prefix (or
  the endpoint's loopback) in table `CLASS_TABLE + dscp`, chosen by an `ip rule` on that DSCP
  (`DEFAULT_TABLE` for a rule without DSCP). The kernel's End drops a packet whose segments are
  used up, so the tunnel's last segment is the endpoint's decap SID: it replaces a final node
  SID of the endpoint (same path) or follows a final adjacency SID. IPv4 prefixes go to
  `DEFAULT_TABLE` whatever their DSCP (IPv4 rules here match only the old TOS bits), and a head
  end pops its own adjacency SID and pins the link (`_own_adjacency`); docs/dataplane.md.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from controller.desired import DeviceConfig, SrPolicy
from controller.topology import Link, Topology
from harness.linuxnet import ns_name
from harness.routing import IgpRouting, LinkIndex

CLASS_TABLE = 1000
"""Per-class tables: CLASS_TABLE + DSCP; their rules have priority CLASS_TABLE + DSCP too."""
DEFAULT_TABLE = 999
"""Steering rules without a DSCP; its rule comes after every class rule."""
DEFAULT_RULE_PRIORITY = 1100
MAIN_TABLE = 254
MAX_SEGMENTS = 127
"""An SRH's length is one byte of 8-octet units: 127 segments at most."""


def decap_sid(topology: Topology, node: str) -> str:
    return f"fcbb:bb00:{topology.node(node).index:x}::d6"


def loopback(topology: Topology, node: str) -> str:
    return topology.node(node).loopback.split("/")[0]


def loopback4(topology: Topology, node: str) -> str | None:
    """An IPv4 loopback (100.64.0.0/10) for IPv4 probes; None beyond index 16383."""
    i = topology.node(node).index
    return f"100.{64 + (i >> 8)}.{i & 255}.1" if i < 1 << 14 else None


@dataclass(frozen=True)
class Port:
    """One end of a physical link inside a router's namespace."""

    router: str
    ifname: str
    link_id: str
    addr: str
    peer: str
    peer_ifname: str
    peer_addr: str
    out: Link | None
    """The directed link this port transmits on (None for a link given in one direction only)."""


@dataclass
class Plan:
    topology: Topology
    run: str
    index: LinkIndex = field(init=False)
    ns: dict[str, str] = field(init=False)
    ports: dict[str, list[Port]] = field(init=False)
    port_of_link: dict[tuple[str, str], Port] = field(init=False)
    """(router, link id) -> the router's port on that physical link."""

    def __post_init__(self) -> None:
        topo = self.topology
        self.index = LinkIndex(topo)
        self.ns = {name: ns_name(self.run, node.index) for name, node in topo.nodes.items()}
        self.ports = {name: [] for name in topo.nodes}
        self.port_of_link = {}
        counter = dict.fromkeys(topo.nodes, 0)
        for number, (link_id, links) in enumerate(sorted(topo.physical_links().items()), 1):
            first = links[0]
            a, b = sorted((first.src, first.dst), key=lambda n: topo.nodes[n].index)
            net = f"fd00:{number >> 16:x}:{number & 0xFFFF:x}::"
            ends = {a: f"{net}1", b: f"{net}2"}
            names = {}
            for node in (a, b):
                names[node] = f"e{counter[node]}"
                counter[node] += 1
            for node, peer in ((a, b), (b, a)):
                out = next((lk for lk in links if lk.src == node), None)
                port = Port(node, names[node], link_id, ends[node], peer, names[peer],
                            ends[peer], out)  # fmt: skip
                self.ports[node].append(port)
                self.port_of_link[(node, link_id)] = port


@dataclass(frozen=True)
class Route:
    table: int
    family: int
    dst: str
    """Prefix with length."""
    hops: tuple[tuple[str, str], ...] = ()
    """(gateway, ifname) next hops of a plain route (several: ECMP)."""
    seg6local: tuple[tuple[str, object], ...] = ()
    """Sorted seg6local attributes (action, nh6, table) of a SID."""
    segs: tuple[str, ...] = ()
    """An encap route's segments in travel order."""
    ifname: str = "lo"

    @property
    def key(self) -> tuple[int, int, str]:
        return (self.table, self.family, self.dst)

    @property
    def ifnames(self) -> frozenset[str]:
        return frozenset([self.ifname, *(i for _, i in self.hops)])


@dataclass(frozen=True)
class Rule:
    family: int
    priority: int
    table: int
    dscp: int | None


@dataclass
class NsState:
    routes: dict[tuple[int, int, str], Route] = field(default_factory=dict)
    rules: set[Rule] = field(default_factory=set)


def family_of(prefix: str) -> int:
    return 4 if ipaddress.ip_network(prefix, strict=False).version == 4 else 6


def up_array(plan: Plan, up_links: Iterable[str]) -> np.ndarray:
    up = set(up_links)
    return np.array([lk.id in up for lk in plan.index.links], dtype=bool)


def igp_routes(plan: Plan, router: str, igp: IgpRouting) -> list[Route]:
    topo, idx = plan.topology, plan.index
    u = idx.node_idx[router]
    out = []
    for other, node in topo.nodes.items():
        if other == router:
            continue
        hops = []
        for lk in igp.next_hops(u, idx.node_idx[other]):
            port = plan.port_of_link[(router, idx.links[lk].id)]
            hops.append((port.peer_addr, port.ifname))
        if not hops:
            continue
        hop_t = tuple(sorted(set(hops)))
        out.append(Route(MAIN_TABLE, 6, node.locator, hops=hop_t))
        out.append(Route(MAIN_TABLE, 6, node.loopback, hops=hop_t))
    return out


def sid_routes(plan: Plan, router: str, up: set[str]) -> list[Route]:
    """The router's SIDs as seg6local routes. Each names a veth that is up, never `lo`: the
    kernel turns a non-local route on `lo` into a reject route, which seg6local never sees."""
    topo = plan.topology
    node = topo.node(router)
    ports = [p for p in plan.ports[router] if p.link_id in up]
    if not ports:
        return []
    dev = ports[0].ifname
    out = [
        Route(MAIN_TABLE, 6, f"{node.node_sid}/128", seg6local=(("action", "End"),), ifname=dev),
        Route(
            MAIN_TABLE,
            6,
            f"{decap_sid(topo, router)}/128",
            seg6local=(("action", "End.DT6"), ("table", 255)),
            ifname=dev,
        ),
    ]
    for port in ports:
        if port.out is not None:
            sid = topo.adjacency_sid(port.out)
            attrs = (("action", "End.X"), ("nh6", port.peer_addr))
            out.append(Route(MAIN_TABLE, 6, f"{sid}/128", seg6local=attrs, ifname=port.ifname))
    return out


def tunnel_segments(topology: Topology, endpoint: str, sids: Iterable[str]) -> tuple[str, ...]:
    """The kernel's segment list (travel order) for a policy's SIDs towards `endpoint`."""
    segs = list(sids)
    node_sid = topology.node(endpoint).node_sid
    if segs and segs[-1] == node_sid:
        segs[-1] = decap_sid(topology, endpoint)
    else:
        segs.append(decap_sid(topology, endpoint))
    return tuple(segs)


def active_sids(policy: SrPolicy) -> tuple[str, ...] | None:
    """The segment list traffic takes: best-preference candidate path, its heaviest list (the
    kernel does not split by weight)."""
    paths = [cp for cp in policy.candidate_paths if cp.segment_lists]
    if not paths:
        return None
    best = max(paths, key=lambda cp: cp.preference)
    return max(best.segment_lists, key=lambda sl: sl.weight).sids


def _owner(topology: Topology, endpoint: str) -> str | None:
    for name, node in topology.nodes.items():
        if endpoint in (loopback(topology, name), node.node_sid):
            return name
    return None


def first_hop(plan: Plan, router: str, igp: IgpRouting, target: str | None) -> str | None:
    idx = plan.index
    if target is not None and target != router:
        hops = igp.next_hops(idx.node_idx[router], idx.node_idx[target])
        if hops:
            return plan.port_of_link[(router, idx.links[hops[0]].id)].ifname
    return None


def _sid_owner(plan: Plan, sid: str) -> str | None:
    addr = ipaddress.IPv6Address(sid)
    for name, node in plan.topology.nodes.items():
        if addr in ipaddress.IPv6Network(node.locator):
            return name
    return None


def policy_routes(
    plan: Plan, router: str, config: DeviceConfig, igp: IgpRouting, up: set[str]
) -> tuple[list[Route], set[Rule]]:
    topo = plan.topology
    policies = {p.key: p for p in config.sr_policies}
    routes: list[Route] = []
    rules: set[Rule] = set()
    spare = next((p.ifname for p in plan.ports[router] if p.link_id in up), None)
    for rule in config.steering:
        policy = policies.get((rule.color, rule.endpoint))
        endpoint = _owner(topo, rule.endpoint)
        sids = None if policy is None else active_sids(policy)
        if sids is None or endpoint is None:
            continue
        segs = tunnel_segments(topo, endpoint, sids)
        own = _own_adjacency(plan, router, segs[0], up)
        if own is not None:
            segs = segs[1:]
        dev = own.ifname if own else first_hop(plan, router, igp, _sid_owner(plan, segs[0]))
        if (dev := dev or spare) is None:
            continue
        dst = rule.prefix or topo.node(endpoint).loopback
        family = family_of(dst)
        # IPv4 rules match only the old 4-bit TOS field here (no `dscp` in iproute2 6.1 nor
        # pyroute2 0.9): IPv4 prefixes are steered per destination prefix, whatever the class
        dscp = rule.dscp if family == 6 else None
        table = DEFAULT_TABLE if dscp is None else CLASS_TABLE + dscp
        priority = DEFAULT_RULE_PRIORITY if dscp is None else CLASS_TABLE + dscp
        routes.append(Route(table, family, dst, segs=segs, ifname=dev))
        rules.add(Rule(family, priority, table, dscp))
        if own is not None:  # the outer packet (same traffic class) leaves on that adjacency
            routes.append(Route(table, 6, f"{segs[0]}/128", hops=((own.peer_addr, own.ifname),)))
            rules.add(Rule(6, priority, table, dscp))
    return routes, rules


def _own_adjacency(plan: Plan, router: str, sid: str, up: set[str]) -> Port | None:
    """The head end's own up adjacency whose End.X SID is `sid`, if it is one.

    A packet the head end encapsulates towards its own SID is never processed by it (seg6local
    routes act on received packets only), so the head end pops that SID itself and pins the
    outer packet to the adjacency: a route for the next segment over that link in the class's
    table (which the outer packet, carrying the inner traffic class, looks up first)."""
    for port in plan.ports[router]:
        out = port.out
        if out is not None and port.link_id in up and plan.topology.adjacency_sid(out) == sid:
            return port
    return None


def desired(
    plan: Plan, up_links: Iterable[str], configs: Mapping[str, DeviceConfig],
    routers: Iterable[str] | None = None,
) -> dict[str, NsState]:  # fmt: skip
    """Every (or each of `routers`') namespace's routes and rules with links `up_links` up."""
    up = set(up_links)
    igp = IgpRouting(plan.index, up_array(plan, up))
    out = {}
    for router in routers if routers is not None else plan.topology.nodes:
        state = NsState()
        routes = igp_routes(plan, router, igp) + sid_routes(plan, router, up)
        config = configs.get(router)
        if config is not None:
            extra, state.rules = policy_routes(plan, router, config, igp, up)
            routes += extra
        state.routes = {r.key: r for r in routes}
        out[router] = state
    return out
