"""Real traffic on the Linux data plane: UDP flows per class between branches and data centres.

    flows = intent_flows(topology, intents, rate_bps=200e3)    # or site_flows(topology, rate)
    gen = TrafficGen(namespaces, flows, max_pps=1000)          # namespaces: router -> netns name
    gen.start()                                                # one pacing thread
    gen.set_rate("surge-0", 2e6)                               # a flow's rate changes (or appears)
    gen.stop(); gen.stats()                                    # packets and bytes sent per flow

Each flow is a UDP socket made inside its head end's namespace, bound to the router's loopback,
with the class's DSCP in the traffic class (TOS for IPv4), sending `size`-byte datagrams to the
flow's destination (the first host of an intent's first prefix, or the far router's loopback):
the kernel's per-class rules and seg6 encap routes steer it like any traffic, so the veths'
kernel counters (the routers' counters) move along the path. Packets never leave the run's
namespaces. Pacing is a credit per flow topped up every TICK_S; the sum of all flows is capped
at `max_pps` (every flow scaled down alike), so a large rate cannot eat a core.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from controller.intents import SERVICE_CLASSES, Intent
from controller.topology import NON_TRANSIT_ROLES, Topology
from harness.dataplane_routes import loopback, loopback4
from harness.linuxnet import in_namespace

PORT = 9
"""UDP discard. Where the destination is the endpoint's own address a sink socket, never read,
takes the datagrams (a full buffer drops them silently): no port-unreachable errors flow back
(and load the reverse links). Elsewhere the endpoint answers errors once a second at most."""
SINK_BUFFER = 4096
SIZE = 1000
"""Datagram payload bytes: with an SRH of a dozen segments the frame stays under 1500."""
TICK_S = 0.01
MAX_PPS = 1000
MAX_CREDIT = 5.0
"""Packets a flow may owe after a late tick (no burst of catch-up beyond this)."""


@dataclass(frozen=True)
class Flow:
    name: str
    src: str
    """Head-end router."""
    dst: str
    """The router the flow is for (its endpoint)."""
    src_addr: str
    dst_addr: str
    dscp: int
    rate_bps: float


@dataclass
class FlowStats:
    packets: int = 0
    bytes: int = 0
    errors: int = 0
    """Sends the kernel refused (no route while a link is cut, a full queue)."""


def flow_addresses(topology: Topology, src: str, dst: str, prefixes: Iterable[str]) -> tuple[
    str, str]:  # fmt: skip
    """(source, destination) of traffic from router `src` to `dst`: the first host of the first
    prefix (IPv4 from the head end's 100.64/10 loopback), else the loopbacks."""
    for prefix in prefixes:
        net = ipaddress.ip_network(prefix, strict=False)
        host = str(next(net.hosts(), net.network_address))
        if net.version == 6:
            return loopback(topology, src), host
        src4 = loopback4(topology, src)
        if src4 is not None:
            return src4, host
    return loopback(topology, src), loopback(topology, dst)


def intent_flows(topology: Topology, intents: Iterable[Intent], rate_bps: float) -> list[Flow]:
    """One flow per intent whose head end is a named router: from there to its destination
    (first prefix, else the far router's loopback), in its class (DSCP)."""
    out = []
    for intent in intents:
        head, far = intent.src.node, intent.dst.node
        if head is None or (far is None and not intent.dst.prefixes):
            continue
        src, dst = flow_addresses(topology, head, far or head, intent.dst.prefixes)
        out.append(Flow(intent.name, head, far or head, src, dst, intent.effective_dscp,
                        rate_bps))  # fmt: skip
    return out


def site_flows(topology: Topology, rate_bps: float) -> list[Flow]:
    """Every branch (and HQ) to every data centre and back, one flow per class; a topology
    without those roles: every ordered pair of routers, one flow per class."""
    roles = {name: node.role for name, node in topology.nodes.items()}
    dcs = sorted(n for n, r in roles.items() if r == "dc")
    sites = sorted(n for n, r in roles.items() if r in NON_TRANSIT_ROLES or r == "hq")
    pairs = [(s, d) for s in sites for d in dcs] + [(d, s) for s in sites for d in dcs]
    if not pairs:
        pairs = [(a, b) for a in sorted(roles) for b in sorted(roles) if a != b]
    out = []
    for a, b in pairs:
        for cls, spec in SERVICE_CLASSES.items():
            out.append(Flow(f"{a}-{b}-{cls}", a, b, loopback(topology, a),
                            loopback(topology, b), spec.dscp, rate_bps))  # fmt: skip
    return out


def _sink(flow: Flow) -> socket.socket | None:
    """A socket on the destination address and port, if the endpoint owns that address."""
    v6 = ipaddress.ip_address(flow.dst_addr).version == 6
    sock = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SINK_BUFFER)
    try:
        sock.bind((flow.dst_addr, PORT))
    except OSError:  # not an address of the endpoint (a prefix it routes), or taken already
        sock.close()
        return None
    return sock


def _socket(flow: Flow) -> socket.socket:
    v6 = ipaddress.ip_address(flow.dst_addr).version == 6
    sock = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM)
    if v6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_TCLASS, flow.dscp << 2)
    else:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, flow.dscp << 2)
    sock.bind((flow.src_addr, 0))
    sock.setblocking(False)
    return sock


class TrafficGen:
    def __init__(
        self,
        namespaces: Mapping[str, str],
        flows: Iterable[Flow] = (),
        *,
        max_pps: float = MAX_PPS,
        size: int = SIZE,
    ) -> None:
        self.namespaces = dict(namespaces)
        self.max_pps = max_pps
        self.size = size
        self.payload = bytes(size)
        self.flows: dict[str, Flow] = {}
        self.socks: dict[str, socket.socket] = {}
        self.sinks: dict[tuple[str, str], socket.socket | None] = {}
        self.counts: dict[str, FlowStats] = {}
        self._credit: dict[str, float] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        for flow in flows:
            self.add(flow)

    def add(self, flow: Flow) -> None:
        """Start (or replace) a flow; its socket is made in its head end's namespace."""
        sock = in_namespace(self.namespaces[flow.src], lambda: _socket(flow))
        if (flow.dst, flow.dst_addr) not in self.sinks:
            sink = in_namespace(self.namespaces[flow.dst], lambda: _sink(flow))
            self.sinks[(flow.dst, flow.dst_addr)] = sink
        with self._lock:
            old = self.socks.pop(flow.name, None)
            self.flows[flow.name], self.socks[flow.name] = flow, sock
            self.counts.setdefault(flow.name, FlowStats())
            self._credit.setdefault(flow.name, 0.0)
        if old is not None:
            old.close()

    def set_rate(self, name: str, rate_bps: float) -> None:
        with self._lock:
            self.flows[name] = replace(self.flows[name], rate_bps=max(rate_bps, 0.0))

    def scale(self) -> float:
        """The factor every flow's rate is multiplied by to stay within max_pps."""
        with self._lock:
            pps = sum(f.rate_bps for f in self.flows.values()) / (8 * self.size)
        return 1.0 if pps <= self.max_pps else self.max_pps / pps

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="trafficgen", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        due = time.monotonic()
        while not self._stop.wait(max(0.0, due - time.monotonic())):
            due += TICK_S
            late = time.monotonic() - due
            if late > 10 * TICK_S:  # far behind (a stalled machine): do not burst to catch up
                due += late
            self._tick(TICK_S * self.scale())

    def _tick(self, seconds: float) -> None:
        with self._lock:
            work = [(n, f, self.socks[n]) for n, f in self.flows.items()]
        for name, flow, sock in work:
            credit = self._credit[name] + flow.rate_bps * seconds / (8 * self.size)
            count = int(min(credit, MAX_CREDIT))
            self._credit[name] = min(credit, MAX_CREDIT) - count
            stats = self.counts[name]
            for _ in range(count):
                try:
                    sent = sock.sendto(self.payload, (flow.dst_addr, PORT))
                except OSError:
                    stats.errors += 1
                    continue
                stats.packets += 1
                stats.bytes += sent

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self._lock:
            for sock in [*self.socks.values(), *self.sinks.values()]:
                with contextlib.suppress(OSError):
                    if sock is not None:
                        sock.close()
            self.socks.clear()
            self.sinks.clear()

    def stats(self) -> dict[str, int]:
        """Totals: flows, packets and bytes sent, sends refused."""
        counts = list(self.counts.values())
        return {"flows": len(self.flows), "packets": sum(c.packets for c in counts),
                "bytes": sum(c.bytes for c in counts),
                "errors": sum(c.errors for c in counts)}  # fmt: skip
