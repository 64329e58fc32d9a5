"""Probe a running Linux data plane: which path do real packets take?

`trace(run_state, src, dst_address, dscp)` opens a capture ring in every router's namespace,
sends a few UDP probes from `src`'s namespace (from its loopback, with the DSCP in the traffic
class, so the kernel's per-class rules and seg6 encap routes apply as to any traffic), and
rebuilds the hops from the copies each namespace saw leave: router, link, outer destination and
the SRH's Segments Left as sent. `run_state` is the JSON a run writes (harness/linuxnet.py).
"""

from __future__ import annotations

import ipaddress
import secrets
import socket
import time
from dataclasses import dataclass
from typing import Any

from controller.errors import UsageError
from harness.linuxnet import in_namespace, live_runs
from harness.linuxnet_capture import Frame, Ring

PROBE_PORT = 33434
ICMPV6 = 58
ICMPV4 = 1
MAX_HOPS = 64
SETTLE_S = 0.5


@dataclass(frozen=True)
class Hop:
    node: str
    link: str | None
    """Physical link id the probe left on; None where it was delivered (or lost)."""
    dst: str
    segments_left: int | None


@dataclass(frozen=True)
class Trace:
    hops: tuple[Hop, ...]
    delivered: bool
    reason: str

    @property
    def nodes(self) -> list[str]:
        return [h.node for h in self.hops]


def find_run(run: str | None = None, topology: str | None = None) -> dict[str, Any]:
    """The state of the live Linux data plane (`run` picks one of several)."""
    runs = [s for s in live_runs() if run in (None, s["run"])]
    if topology is not None:
        runs = [s for s in runs if s["topology"] == topology] or runs
    if not runs:
        raise UsageError(
            "no Linux data plane is running; start one with "
            "`netpilot network run --dataplane linux ...` (as root)"
        )
    if len(runs) > 1:
        ids = ", ".join(s["run"] for s in runs)
        raise UsageError(f"several Linux data planes run ({ids}); pick one with --run ID")
    return runs[0]


def _send(namespace: str, addrs: tuple[str, str], dscp: int, payload: bytes) -> str | None:
    """One UDP datagram from `src` in `namespace`, the DSCP in the traffic class (or TOS);
    None once sent, else why not."""
    src, dst = addrs
    v6 = ipaddress.ip_address(dst).version == 6

    def make() -> socket.socket:
        sock = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM)
        if v6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_TCLASS, dscp << 2)
        else:
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, dscp << 2)
        sock.bind((src, 0))
        return sock

    sock = in_namespace(namespace, make)
    try:
        sock.sendto(payload, (dst, PROBE_PORT))
    except OSError as error:  # no route at the head end (mid-reroute): not sent
        return error.strerror or str(error)
    finally:
        sock.close()
    return None


ETH_HLEN = 14
ETH_P_IPV6 = 0x86DD
ETH_P_IP = 0x0800
IPPROTO_ROUTING = 43


def _outer(frame: Frame) -> tuple[str, int | None]:
    """The outer destination and, for an SRv6 packet, the SRH's Segments Left (read from the
    headers directly: scapy takes a tenth of a millisecond per frame, too slow for a stream)."""
    data = frame.data
    kind = int.from_bytes(data[12:14], "big") if len(data) >= ETH_HLEN else 0
    if kind == ETH_P_IPV6 and len(data) >= ETH_HLEN + 40:
        dst = str(ipaddress.IPv6Address(data[ETH_HLEN + 24 : ETH_HLEN + 40]))
        srh = ETH_HLEN + 40
        if data[ETH_HLEN + 6] == IPPROTO_ROUTING and len(data) >= srh + 4 and data[srh + 2] == 4:
            return dst, data[srh + 3]
        return dst, None
    if kind == ETH_P_IP and len(data) >= ETH_HLEN + 20:
        return str(ipaddress.IPv4Address(data[ETH_HLEN + 16 : ETH_HLEN + 20])), None
    return "?", None


def is_probe(frame: Frame) -> bool:
    """The probe itself, not an ICMP error quoting it (a port unreachable from the endpoint)."""
    data = frame.data
    kind = int.from_bytes(data[12:14], "big") if len(data) >= ETH_HLEN else 0
    if kind == ETH_P_IPV6 and len(data) > ETH_HLEN + 6:
        return data[ETH_HLEN + 6] != ICMPV6
    return not (kind == ETH_P_IP and len(data) > ETH_HLEN + 9 and data[ETH_HLEN + 9] == ICMPV4)


def _captured(rings: dict[str, Ring], token: bytes) -> list[tuple[str, Frame]]:
    seen = [
        (router, f)
        for router, ring in rings.items()
        for f in ring.frames()
        if token in f.data and is_probe(f)
    ]
    return sorted(seen, key=lambda rf: rf[1].time_ns)


def chain(state: dict[str, Any], src: str, dst_node: str, seen: list[tuple[str, Frame]]) -> Trace:
    """The first probe's hops: follow its outgoing copies from `src`, link by link."""
    ports: dict[str, dict[str, str]] = state["ports"]
    links: dict[str, list[list[str]]] = state["links"]
    by_ns = {ns: r for r, ns in state["namespaces"].items()}
    out = [(r, f) for r, f in seen if f.outgoing and f.ifname in ports[r]]
    hops: list[Hop] = []
    node, used = src, set()
    while len(hops) < MAX_HOPS:
        step = next(((i, f) for i, (r, f) in enumerate(out) if r == node and i not in used), None)
        if step is None:
            break
        used.add(step[0])
        frame = step[1]
        link = ports[node][frame.ifname]
        dst, sl = _outer(frame)
        hop = Hop(node, link, dst, sl)
        if hop in hops:  # the same packet left the same router the same way twice
            return Trace((*hops, hop), False, "forwarding loop")
        hops.append(hop)
        far = next(by_ns[ns] for ns, ifname in links[link]
                   if not (by_ns[ns] == node and ifname == frame.ifname))  # fmt: skip
        node = far
    arrived = any(r == dst_node and not f.outgoing for r, f in seen)
    if len(hops) >= MAX_HOPS:
        return Trace(tuple(hops), False, "forwarding loop")
    if node == dst_node and arrived:
        return Trace((*hops, Hop(node, None, "", None)), True, "delivered")
    return Trace((*hops, Hop(node, None, "", None)), False, f"lost at {node}")


class Prober:
    """Capture rings open in every namespace of a run; `trace` as many probes as wanted."""

    def __init__(self, state: dict[str, Any]) -> None:
        self.state = state
        self.rings: dict[str, Ring] = {}
        try:
            for router, namespace in state["namespaces"].items():
                self.rings[router] = Ring.open(namespace)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        for ring in self.rings.values():
            ring.close()

    def trace(
        self, src: str, dst_node: str, *, src_addr: str, dst_addr: str, dscp: int, count: int = 3
    ) -> Trace:
        """Send `count` probes src -> dst_addr with `dscp`; the hops of the first delivered
        one (else of the first). Waits until all arrived at `dst_node`, at most SETTLE_S."""
        token = b"netpilot-probe-" + secrets.token_hex(8).encode()
        for ring in self.rings.values():
            ring.drain()
        tags = [token + b"-%d." % i for i in range(count)]
        refused = [_send(self.state["namespaces"][src], (src_addr, dst_addr), dscp, tag)
                   for tag in tags]  # fmt: skip
        if all(refused):
            return Trace((Hop(src, None, dst_addr, None),), False, f"{src}: {refused[0]}")
        seen: list[tuple[str, Frame]] = []
        deadline = time.monotonic() + SETTLE_S
        while True:
            time.sleep(0.02)
            seen += _captured(self.rings, token)
            arrived = {t for t in tags for r, f in seen if r == dst_node and t in f.data}
            if len(arrived) == count or time.monotonic() > deadline:
                break
        seen.sort(key=lambda rf: rf[1].time_ns)
        traces = [
            chain(self.state, src, dst_node, [(r, f) for r, f in seen if tag in f.data])
            for tag in tags
        ]
        return next((t for t in traces if t.delivered), traces[0])


def trace(
    state: dict[str, Any], src: str, dst_node: str, *, src_addr: str, dst_addr: str, dscp: int,
    count: int = 3,
) -> Trace:  # fmt: skip
    """One-off `Prober(state).trace(...)`."""
    prober = Prober(state)
    try:
        return prober.trace(src, dst_node, src_addr=src_addr, dst_addr=dst_addr, dscp=dscp,
                            count=count)  # fmt: skip
    finally:
        prober.close()
