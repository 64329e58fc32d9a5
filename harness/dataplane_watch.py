"""Probes sent continuously through a reroute: did any loop, and how long were they lost?

    stream = ProbeStream(prober, topology, targets)   # one socket per intent, in its head end
    while rerouting:
        stream.round()                                 # one probe per intent, frames collected
    stream.settle()                                    # the last probes' copies are in
    for sent, trace in stream.traces(): ...            # each probe: when sent, the hops it took

Each probe carries its own tag (the stream's token and a sequence number), so its hop-by-hop
path is rebuilt from the copies the capture rings of the `Prober` took in every namespace, as
`netpilot verify` does for one probe (harness/dataplane_probe.py): a probe that leaves the same
router the same way twice is a forwarding loop, one that never reaches its endpoint was lost.
Sockets are made once (not per probe), frames are read after every round (the rings hold 128).
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import secrets
import select
import socket
import time
from collections import defaultdict
from dataclasses import dataclass

from controller.topology import Topology
from harness.dataplane_probe import PROBE_PORT, Prober, Trace, chain, is_probe
from harness.dataplane_verify import Target, probe_addresses
from harness.linuxnet import in_namespace
from harness.linuxnet_capture import Frame

SETTLE_S = 0.5


@dataclass(frozen=True)
class Sent:
    intent: str
    seq: int
    at: float
    """time.monotonic() when sent."""


def _probe_socket(src: str, dst: str, dscp: int) -> socket.socket:
    v6 = ipaddress.ip_address(dst).version == 6
    sock = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM)
    if v6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_TCLASS, dscp << 2)
    else:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, dscp << 2)
    sock.bind((src, 0))
    sock.setblocking(False)
    return sock


class ProbeStream:
    def __init__(self, prober: Prober, topology: Topology, targets: list[Target]) -> None:
        self.prober = prober
        self.targets = {t.intent: t for t in targets}
        self.token = b"netpilot-stream-" + secrets.token_hex(6).encode()
        self.sent: list[Sent] = []
        self.frames: dict[int, list[tuple[str, Frame]]] = defaultdict(list)
        self.socks: dict[str, tuple[socket.socket, str]] = {}
        namespaces = prober.state["namespaces"]
        for ring in prober.rings.values():
            ring.drain()
        for t in targets:
            src, dst = probe_addresses(topology, t)
            make = functools.partial(_probe_socket, src, dst, t.dscp)
            sock = in_namespace(namespaces[t.src], make)
            self.socks[t.intent] = (sock, dst)

    def round(self) -> None:
        """One probe to every intent's destination, then read what the rings took."""
        for name, (sock, dst) in self.socks.items():
            seq = len(self.sent)
            self.sent.append(Sent(name, seq, time.monotonic()))
            with contextlib.suppress(OSError):  # no route at the head end: lost at once
                sock.sendto(self.token + b"-%d." % seq, (dst, PROBE_PORT))
        self.collect()

    def collect(self) -> None:
        """Read the rings that took frames since last time (select: the others are skipped)."""
        rings = {ring.sock: (router, ring) for router, ring in self.prober.rings.items()}
        ready, _, _ = select.select(list(rings), [], [], 0)
        for sock in ready:
            router, ring = rings[sock]
            for frame in ring.frames():
                at = frame.data.find(self.token)
                if at < 0 or not is_probe(frame):
                    continue
                start = at + len(self.token) + 1
                seq = frame.data[start : frame.data.index(b".", start)]
                self.frames[int(seq)].append((router, frame))

    def settle(self) -> None:
        """Collect until the last round's probes have arrived (at most SETTLE_S)."""
        last = {s.seq: self.targets[s.intent].dst for s in self.sent[-len(self.socks) :]}
        deadline = time.monotonic() + SETTLE_S
        while time.monotonic() < deadline:
            time.sleep(0.02)
            self.collect()
            if all(any(r == dst and not f.outgoing for r, f in self.frames[seq])
                   for seq, dst in last.items()):  # fmt: skip
                return

    def traces(self) -> list[tuple[Sent, Trace]]:
        out = []
        for sent in self.sent:
            t = self.targets[sent.intent]
            seen = sorted(self.frames.get(sent.seq, []), key=lambda rf: rf[1].time_ns)
            out.append((sent, chain(self.prober.state, t.src, t.dst, seen)))
        return out

    def close(self) -> None:
        for sock, _ in self.socks.values():
            sock.close()
