"""Topology from the routers: compare what the routers' neighbour tables say with the topology
file, and build the graph the engine routes on from both.

    diff = compare(file_topology, views)          # views: what each router reports
    topo = merged(file_topology, diff, views)     # the graph the engine should use

A `DeviceView` is one router's word about its links: per interface its oper-status, and, when
the router streams gNMI, its LLDP neighbours (system name and port). Devices without gNMI are
polled over NETCONF, which gives interfaces and their oper-status but no neighbour table: their
ends of a link count as seen when the interface is there and up (`lldp=False`).

Per physical link of the file (`Topology.physical_links`):
- confirmed: a router on it reports the other end as its LLDP neighbour on that interface;
- down: a reporting end says the interface is down (its neighbour is gone: not a mismatch);
- unverified: no router on it reports anything yet (stream not synced): not a mismatch;
- otherwise a `file-only` mismatch naming what each reporting end lacks; `absent` when no
  reporting end even has the interface (then `merged` takes the link down: nothing can cross).
Per neighbour a router reports that no file link explains: a `routers-only` mismatch (both
ends' reports of one link make one line). `merged` adds the routers-only links between routers
of the file, with the speed and delay the routers report; the file keeps what routers cannot
tell (capacity plans, SRLGs, regions, metrics) for the links it has. A reporting router that
is not in the file is a `router-only` mismatch; it is not routed over until the file has it
(its SIDs, role and region come from the file).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from controller.topology import Link, LinkState, Topology, fibre_delay_s

DEFAULT_CAPACITY_BPS = 10e9
"""A learned link whose routers give no speed."""
DEFAULT_DELAY_S = 1e-3
"""A learned link with no measured delay and no coordinates at either end."""


@dataclass(frozen=True)
class Neighbor:
    system: str
    port: str


@dataclass(frozen=True)
class DeviceView:
    """What one router reports about its links."""

    device: str
    interfaces: Mapping[str, bool] = field(default_factory=dict)
    """Interface -> oper-status up."""
    neighbors: Mapping[str, tuple[Neighbor, ...]] = field(default_factory=dict)
    """Interface -> LLDP neighbours (gNMI devices only)."""
    lldp: bool = True
    """False for a NETCONF-polled device: interfaces only, no neighbour table."""
    speeds: Mapping[str, float] = field(default_factory=dict)
    """Interface -> bit/s, for learned links."""
    delays: Mapping[str, float] = field(default_factory=dict)
    """Interface -> measured one-way delay, s, for learned links."""


@dataclass(frozen=True)
class Mismatch:
    kind: str
    """`routers-only`, `file-only` or `router-only` (a router the file does not have)."""
    link: str
    a: str
    b: str
    detail: str
    absent: bool = False
    """file-only and no reporting end has the interface (the link is taken down)."""

    @property
    def key(self) -> tuple[str, str]:
        return (self.kind, self.link)

    def line(self) -> str:
        where = f"link {self.link} ({self.a}-{self.b})" if self.link else f"router {self.a}"
        return f"{self.kind}: {where}: {self.detail}"

    def as_dict(self) -> dict[str, str | bool]:
        return {"kind": self.kind, "link": self.link, "a": self.a, "b": self.b,
                "detail": self.detail, "absent": self.absent, "line": self.line()}  # fmt: skip


@dataclass(frozen=True)
class TopoDiff:
    mismatches: tuple[Mismatch, ...] = ()
    confirmed: int = 0
    down: int = 0
    unverified: tuple[str, ...] = ()
    reporting: int = 0
    seen: int = 0
    """File links whose reporting ends have no neighbour table (NETCONF) but the interface up."""
    """Routers whose view was compared."""

    def as_dict(self) -> dict[str, object]:
        return {
            "mismatches": [m.as_dict() for m in self.mismatches],
            "confirmed": self.confirmed,
            "down": self.down,
            "unverified": list(self.unverified),
            "reporting": self.reporting,
            "seen": self.seen,
        }


def learned_id(a: str, ia: str, b: str, ib: str) -> str:
    """A learned link's id: the interface name when both ends use it (as the simulated routers
    do), else both ends named."""
    if ia == ib:
        return ia
    (x, ix), (y, iy) = sorted([(a, ia), (b, ib)])
    return f"{x}.{ix}~{y}.{iy}"


def compare(topology: Topology, views: Mapping[str, DeviceView]) -> TopoDiff:
    """The file against the routers' reports (module docstring)."""
    physical = topology.physical_links()
    confirmed: set[str] = set()
    learned: dict[str, Mismatch] = {}
    for view in views.values():
        for iface, neighbors in sorted(view.neighbors.items()):
            for n in neighbors:
                mismatch = _explain(topology, physical, view.device, iface, n)
                if mismatch is None:
                    confirmed.add(iface)
                elif mismatch.link not in learned:
                    learned[mismatch.link] = mismatch
    out = [Mismatch("router-only", "", name, "", _stray(views[name]))
           for name in sorted(views) if name not in topology.nodes]  # fmt: skip
    counts: dict[str, int] = {"down": 0, "seen": 0}
    unverified = []
    for lid, directed in sorted(physical.items()):
        if lid in confirmed:
            continue
        verdict = _file_link(lid, directed, views)
        if isinstance(verdict, Mismatch):
            out.append(verdict)
        elif verdict == "unverified":
            unverified.append(lid)
        else:
            counts[verdict] += 1
    out.extend(learned[k] for k in sorted(learned))
    return TopoDiff(tuple(out), len(confirmed), counts["down"], tuple(unverified), len(views),
                    counts["seen"])  # fmt: skip


def _explain(
    topology: Topology, physical: Mapping[str, list[Link]], device: str, iface: str, n: Neighbor
) -> Mismatch | None:
    """None when a file link explains this neighbour, else the routers-only mismatch."""
    links = physical.get(iface, [])
    if any(lk.src == device and lk.dst == n.system for lk in links):
        return None
    lid = learned_id(device, iface, n.system, n.port)
    a, b = sorted([device, n.system])
    detail = f"{device} sees {n.system} (port {n.port}) on {iface}; not in the topology file"
    if n.system not in topology.nodes:
        detail += f" (nor is router {n.system})"
    elif links:
        other = sorted({lk.dst for lk in links if lk.src == device} - {n.system})
        detail += f" (the file has {iface} going to {', '.join(other) or 'another router'})"
    return Mismatch("routers-only", lid, a, b, detail)


def _file_link(lid: str, directed: list[Link], views: Mapping[str, DeviceView]) -> str | Mismatch:
    ends = sorted({lk.src for lk in directed} | {lk.dst for lk in directed})
    known = [views[e] for e in ends if e in views]
    if not known:
        return "unverified"
    if any(v.interfaces.get(lid) is False for v in known):
        return "down"
    if all(not v.lldp and v.interfaces.get(lid) for v in known):
        return "seen"  # NETCONF ends only: the interface is there and up (no neighbour table)
    lacks = []
    for v in known:
        if lid not in v.interfaces:
            lacks.append(f"{v.device} has no interface {lid}")
        elif v.lldp:
            lacks.append(f"{v.device} has no LLDP neighbour on {lid}")
    absent = all(lid not in v.interfaces for v in known)
    a, b = ends[0], ends[-1]
    return Mismatch("file-only", lid, a, b, "in the topology file; " + "; ".join(lacks), absent)


def _stray(view: DeviceView) -> str:
    seen = sorted({n.system for ns in view.neighbors.values() for n in ns})
    peers = f"; neighbours {', '.join(seen)}" if seen else ""
    return f"reports {len(view.interfaces)} interfaces but is not in the topology file{peers}"


def merged(topology: Topology, diff: TopoDiff, views: Mapping[str, DeviceView]) -> Topology:
    """The graph to route on: the file, plus the learned links between its routers, minus
    (taken down) the file links no router has."""
    changed: list[Link] = []
    for m in diff.mismatches:
        if m.kind == "file-only" and m.absent:
            changed.extend(replace(lk, state=LinkState.DOWN)
                           for lk in topology.physical_links().get(m.link, []))  # fmt: skip
    new = [lk for m in diff.mismatches if m.kind == "routers-only"
           for lk in _learned_links(topology, m, views)]  # fmt: skip
    if not changed and not new:
        return topology
    base = topology.with_links(changed) if changed else topology
    if not new:
        return base
    return Topology(base.name, base.nodes.values(), [*base.links, *new],
                    loader_warnings=base.loader_warnings)  # fmt: skip


def _learned_links(topology: Topology, m: Mismatch, views: Mapping[str, DeviceView]) -> list[Link]:
    if m.a not in topology.nodes or m.b not in topology.nodes:
        return []
    if any(lk.id == m.link for lk in topology.links):
        return []  # the id is taken by a file link elsewhere (miswired): report, do not guess
    ports = _ports(m, views)
    speed = max((views[d].speeds.get(i, 0.0) for d, i in ports if d in views), default=0.0)
    delays = [views[d].delays[i] for d, i in ports if d in views and i in views[d].delays]
    delay = min(delays) if delays else fibre_delay_s(topology.nodes[m.a], topology.nodes[m.b])
    up = all(views[d].interfaces.get(i, True) for d, i in ports if d in views)
    state = LinkState.UP if up else LinkState.DOWN
    capacity = speed or DEFAULT_CAPACITY_BPS
    delay_s = delay if delay is not None else DEFAULT_DELAY_S
    return [Link(m.link, src, dst, capacity, delay_s, state=state, medium="learned")
            for src, dst in ((m.a, m.b), (m.b, m.a))]  # fmt: skip


def _ports(m: Mismatch, views: Mapping[str, DeviceView]) -> list[tuple[str, str]]:
    """(device, interface) of each end of a learned link, as the routers name them."""
    out = []
    for d in (m.a, m.b):
        view = views.get(d)
        for iface, ns in view.neighbors.items() if view else ():
            other = m.b if d == m.a else m.a
            if any(n.system == other and learned_id(d, iface, n.system, n.port) == m.link
                   for n in ns):  # fmt: skip
                out.append((d, iface))
    return out


def changes(
    old: Iterable[Mismatch], new: Iterable[Mismatch]
) -> tuple[list[Mismatch], list[Mismatch]]:
    """(appeared, resolved) between two diffs, by kind and link."""
    before = {m.key: m for m in old}
    after = {m.key: m for m in new}
    appeared = [m for k, m in after.items() if k not in before]
    resolved = [m for k, m in before.items() if k not in after]
    return appeared, resolved
