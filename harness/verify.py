"""Data-plane verification: walk the packet a head end sends through the forwarding state.

`verify_path(topology, src, dst, sids, intended)` builds the IPv6 packet with a Segment Routing
Header carrying `sids` (scapy), serialises and re-parses it, then forwards it hop by hop: at a
router that owns the destination SID it applies SRv6 End (decrement Segments Left, next SID
becomes the destination) or End.X (same, then out of that adjacency); with Segments Left at 0 it
decapsulates (End.DT6) and routes the inner packet to the destination loopback. Elsewhere the
router looks the destination up (longest match over locators /48 and loopbacks /128) and forwards
on its IGP next hops, following every ECMP branch. Each branch is a `Trace`; the verification is
ok when every branch is delivered and (if given) follows exactly the intended links.
Pure: the engine calls it after each transaction with the topology as the controller knows it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scapy.layers.inet import UDP
from scapy.layers.inet6 import IPv6, IPv6ExtHdrSegmentRouting
from scapy.packet import Packet

from controller.errors import UsageError
from controller.pathing.types import Placement
from controller.topology import LinkKey, Topology
from harness.routing import IgpRouting, LinkIndex, parse_sid

MAX_HOPS = 64
MAX_BRANCHES = 64


@dataclass(frozen=True)
class TraceHop:
    node: str
    action: str
    dst: str
    segments_left: int | None = None
    link: LinkKey | None = None


@dataclass(frozen=True)
class Trace:
    hops: tuple[TraceHop, ...]
    delivered: bool
    reason: str
    links: tuple[LinkKey, ...]
    on_path: bool


@dataclass(frozen=True)
class Verification:
    src: str
    dst: str
    sids: tuple[str, ...]
    packet: str
    traces: tuple[Trace, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return bool(self.traces) and all(t.delivered and t.on_path for t in self.traces)


def _addr(prefix: str) -> str:
    return prefix.split("/", maxsplit=1)[0]


def build_packet(topology: Topology, src: str, dst: str, sids: Sequence[str]) -> Packet:
    """The head end's packet: outer IPv6 + SRH(sids) + inner IPv6 to dst's loopback + UDP."""
    s, d = _addr(topology.node(src).loopback), _addr(topology.node(dst).loopback)
    inner = IPv6(src=s, dst=d) / UDP(sport=49152, dport=4789)
    if not sids:
        return IPv6(bytes(inner))
    for sid in sids:
        try:
            ipaddress.IPv6Address(sid)
        except ValueError:
            raise UsageError(f"segment {sid!r} is not an IPv6 address (SID)") from None
    srh = IPv6ExtHdrSegmentRouting(
        addresses=list(reversed(sids)), segleft=len(sids) - 1, lastentry=len(sids) - 1
    )
    return IPv6(bytes(IPv6(src=s, dst=sids[0]) / srh / inner))


class Forwarder:
    """Forwarding state of every router, derived from the topology's up links."""

    def __init__(self, topology: Topology) -> None:
        self.topology = topology
        self.index = LinkIndex(topology)
        up = np.array([lk.is_up for lk in self.index.links], dtype=bool)
        self.igp = IgpRouting(self.index, up)
        self.locators = {
            ipaddress.IPv6Network(node.locator): name for name, node in topology.nodes.items()
        }
        self.loopbacks = {
            ipaddress.IPv6Address(_addr(node.loopback)): name
            for name, node in topology.nodes.items()
        }

    def owner(self, dst: str) -> str | None:
        addr = ipaddress.IPv6Address(dst)
        if addr in self.loopbacks:
            return self.loopbacks[addr]
        return next((n for net, n in self.locators.items() if addr in net), None)


@dataclass
class _Branch:
    node: str
    pkt: Packet
    hops: list[TraceHop]
    links: list[LinkKey]


def _local_sid(fw: Forwarder, node: str, dst: str) -> tuple[bool, int | None]:
    seg = parse_sid(fw.index, dst)
    if seg is None or fw.index.nodes[seg[0]] != node:
        return False, None
    return True, seg[1]


def _step(fw: Forwarder, b: _Branch) -> list[_Branch] | Trace | None:
    """Advance one branch by one action; a Trace when it ends, new branches when it moves."""
    outer = b.pkt[IPv6]
    dst = outer.dst
    if fw.owner(dst) == b.node and ipaddress.IPv6Address(dst) in fw.loopbacks:
        b.hops.append(TraceHop(b.node, "deliver", dst))
        return _end(b, True, "delivered")
    local, adj = _local_sid(fw, b.node, dst)
    if local:
        srh = b.pkt.getlayer(IPv6ExtHdrSegmentRouting)
        if srh is not None and srh.segleft > 0:
            srh.segleft -= 1
            outer.dst = srh.addresses[srh.segleft]
            b.hops.append(
                TraceHop(b.node, "End.X" if adj is not None else "End", outer.dst, srh.segleft)
            )
            if adj is not None:
                return [_move(fw, b, adj)]
            return [b]
        if srh is not None:
            b.pkt = srh.payload.copy()
            b.hops.append(TraceHop(b.node, "End.DT6", b.pkt[IPv6].dst, 0))
            if adj is not None:
                return [_move(fw, b, adj)]
            return [b]
    target = fw.owner(dst)
    if target is None:
        b.hops.append(TraceHop(b.node, "drop", dst))
        return _end(b, False, f"{b.node} has no route to {dst}")
    nhs = fw.igp.next_hops(fw.index.node_idx[b.node], fw.index.node_idx[target])
    if not nhs:
        b.hops.append(TraceHop(b.node, "drop", dst))
        return _end(b, False, f"{b.node} has no IGP path to {target}")
    out = []
    for lk in nhs:
        nb = _Branch(b.node, b.pkt.copy(), list(b.hops), list(b.links))
        out.append(_move(fw, nb, lk))
    return out


def _move(fw: Forwarder, b: _Branch, link: int) -> _Branch:
    key = fw.index.links[link].key
    b.hops.append(TraceHop(b.node, "forward", b.pkt[IPv6].dst, link=key))
    b.links.append(key)
    b.node = key[1]
    return b


def _end(b: _Branch, delivered: bool, reason: str) -> Trace:
    return Trace(tuple(b.hops), delivered, reason, tuple(b.links), on_path=delivered)


def verify_path(
    topology: Topology,
    src: str,
    dst: str,
    sids: Sequence[str],
    *,
    intended: Sequence[LinkKey] | None = None,
    forwarder: Forwarder | None = None,
) -> Verification:
    """Walk the packet from src with segment list `sids`; compare each branch to `intended`."""
    fw = forwarder or Forwarder(topology)
    topology.node(dst)
    pkt = build_packet(topology, src, dst, sids)
    pending = [_Branch(src, pkt, [], [])]
    traces: list[Trace] = []
    while pending and len(traces) < MAX_BRANCHES:
        b = pending.pop()
        if len(b.hops) > 4 * MAX_HOPS:
            traces.append(_end(b, False, "forwarding loop or path too long"))
            continue
        result = _step(fw, b)
        if isinstance(result, Trace):
            traces.append(result)
        elif result:
            pending.extend(result)
    if intended is not None:
        want = tuple(intended)
        traces = [
            Trace(
                t.hops,
                t.delivered,
                t.reason if t.links == want or not t.delivered else "left the intended path",
                t.links,
                t.delivered and t.links == want,
            )
            for t in traces
        ]
    return Verification(src, dst, tuple(sids), pkt.summary(), tuple(traces))


def verify_placement(
    topology: Topology, placement: Placement, forwarder: Forwarder | None = None
) -> Verification:
    """Verify an intent's primary path as placed (pathing's `Placement`): what the engine calls
    after each transaction; `ok` False means the trace leaves the path the intent was given."""
    primary = placement.primary
    return verify_path(
        topology,
        placement.request.src,
        placement.request.dst,
        primary.sids,
        intended=primary.links,
        forwarder=forwarder,
    )
