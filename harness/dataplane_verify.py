"""`netpilot verify INTENT --dataplane linux`: an intent's installed path against real packets.

The intent's installed primary path (nodes, links) comes from the controller; the probe goes
from the head end's namespace to the intent's destination (its first prefix's first address, or
the endpoint's loopback) with the intent's DSCP; the result is the hop-by-hop comparison:

    {"intent": NAME, "intended": [{"node", "link"}...], "observed": [{"node", "link", "dst",
     "segments_left"}...], "matches": true|false, "reason": ...}

`matches` is true when the probe was delivered to the endpoint over exactly the intended links.
"""

from __future__ import annotations

import ipaddress
from dataclasses import asdict, dataclass
from typing import Any

from controller.topology import Topology
from harness.dataplane_probe import Prober, Trace, trace
from harness.dataplane_routes import loopback, loopback4


@dataclass(frozen=True)
class Target:
    """What to probe: head end, endpoint, destination address, DSCP, and the intended path."""

    intent: str
    src: str
    dst: str
    dscp: int
    prefixes: tuple[str, ...]
    nodes: tuple[str, ...]
    links: tuple[str, ...]


def probe_addresses(topology: Topology, target: Target) -> tuple[str, str]:
    """(source, destination) addresses of the probe: the first host of the intent's first
    prefix (IPv4 probes come from the head end's 100.64/10 loopback), else the loopbacks."""
    if target.prefixes:
        net = ipaddress.ip_network(target.prefixes[0], strict=False)
        host = str(next(net.hosts(), net.network_address))
        if net.version == 4:
            src4 = loopback4(topology, target.src)
            if src4 is not None:
                return src4, host
        else:
            return loopback(topology, target.src), host
    return loopback(topology, target.src), loopback(topology, target.dst)


def verify_intent(
    state: dict[str, Any], topology: Topology, target: Target, prober: Prober | None = None
) -> dict[str, Any]:
    """Probe `target` on the run of `state` (through `prober`'s open rings when given)."""
    src_addr, dst_addr = probe_addresses(topology, target)
    args: dict[str, Any] = {"src_addr": src_addr, "dst_addr": dst_addr, "dscp": target.dscp}
    seen: Trace = (
        prober.trace(target.src, target.dst, **args)
        if prober is not None
        else trace(state, target.src, target.dst, **args)
    )
    intended = [
        {"node": n, "link": target.links[i] if i < len(target.links) else None}
        for i, n in enumerate(target.nodes)
    ]
    observed = [asdict(h) for h in seen.hops]
    links = tuple(h.link for h in seen.hops if h.link is not None)
    matches = seen.delivered and links == target.links
    reason = seen.reason if not seen.delivered or matches else "left the intended path"
    return {
        "intent": target.intent, "src": target.src, "dst": target.dst, "dscp": target.dscp,
        "probe": {"src": src_addr, "dst": dst_addr}, "intended": intended,
        "observed": observed, "matches": matches, "reason": reason,
    }  # fmt: skip
