"""`bank-wan:N`: a national bank's WAN with N branches, for scale tests and benchmarks.

Shape (deterministic: the same N always gives the same network):

- `DC1`, `DC2` (dc): active-active data centres, two 100G links in one conduit (SRLG
  `conduit-dc1-dc2`); `HQ` (hq) dual-homed to both at 10G.
- Core `P1..P4` (core): a 100G ring with one chord (P1-P3); each DC reaches P1 and P2.
- Regions `1..R`, R = ceil(N / 64): each has an aggregation router `AGG<r>` (agg) homed to two
  core routers at 10G. Branch private lines land there.
- Carrier and gateways (transit): `VPN-PE1`, `VPN-PE2` (pe, carrier MPLS-VPN PEs), `INET-GW`
  (internet/IPsec) and `5G-GW` (5G), each handing off to both DCs at 10G.
- Branches `BR1..BRN` (branch: non-transit), max SID depth 5, region `(i - 1) // 64 + 1`, each
  with four uplinks whose `transport`, `medium` and affinity name the transport:

| transport | to | capacity | delay | IGP | metered |
| --- | --- | --- | --- | --- | --- |
| `private-line` | its region's `AGG` | 10 or 20 Mbps | 2-3 ms | 10 | no |
| `mpls-vpn` | `VPN-PE1` (odd) / `VPN-PE2` (even) | 30 or 50 Mbps | 12-13 ms | 20 | no |
| `internet` | `INET-GW` | 100 or 200 Mbps | 25-26 ms | 50 | no |
| `5g` | `5G-GW` | 100 Mbps | 35-36 ms | 80 | yes |

Link ids are `BR<i>-<transport>` for uplinks and `a-b` otherwise.
"""

from __future__ import annotations

import math
from typing import Any

from controller.errors import UsageError
from controller.topology import Link, Node, Topology

PER_REGION = 64
MAX_BRANCHES = 10_000
CORE = ("P1", "P2", "P3", "P4")
HUBS = (("VPN-PE1", "pe"), ("VPN-PE2", "pe"), ("INET-GW", "gateway"), ("5G-GW", "gateway"))


def _pair(lid: str, a: str, b: str, capacity: float, delay: float, **extra: Any) -> list[Link]:
    return [
        Link(lid, a, b, capacity, delay, **extra),
        Link(lid, b, a, capacity, delay, **extra),
    ]


def _backbone(regions: int) -> tuple[list[tuple[str, str]], list[Link]]:
    named = [("DC1", "dc"), ("DC2", "dc"), ("HQ", "hq")]
    named += [(p, "core") for p in CORE] + list(HUBS)
    named += [(f"AGG{r}", "agg") for r in range(1, regions + 1)]
    links: list[Link] = []
    for suffix in ("a", "b"):
        links += _pair(
            f"DC1-DC2-{suffix}", "DC1", "DC2", 100e9, 2e-4, srlgs=frozenset({"conduit-dc1-dc2"})
        )
        links += [
            lk for dc in ("DC1", "DC2") for lk in _pair(f"HQ-{dc}-{suffix}", "HQ", dc, 10e9, 1e-4)
        ]
    ring = [*zip(CORE, CORE[1:] + CORE[:1], strict=True), ("P1", "P3")]
    links += [lk for a, b in ring for lk in _pair(f"{a}-{b}", a, b, 100e9, 5e-3)]
    for dc in ("DC1", "DC2"):
        links += [lk for p in CORE[:2] for lk in _pair(f"{dc}-{p}", dc, p, 100e9, 1e-4)]
        links += [lk for hub, _ in HUBS for lk in _pair(f"{hub}-{dc}", hub, dc, 10e9, 5e-4)]
    for r in range(1, regions + 1):
        homes = (CORE[(r - 1) % 4], CORE[r % 4])
        links += [lk for p in homes for lk in _pair(f"AGG{r}-{p}", f"AGG{r}", p, 10e9, 3e-3)]
    return named, links


def _uplinks(i: int) -> list[Link]:
    """The four uplinks of branch i; figures vary with i but deterministically."""
    name, region, jitter = f"BR{i}", (i - 1) // PER_REGION + 1, (i * 7 % 10) * 1e-4
    odd = i % 2 == 1
    rows = (
        ("private-line", f"AGG{region}", 10e6 if odd else 20e6, 2e-3, 10, False),
        ("mpls-vpn", "VPN-PE1" if odd else "VPN-PE2", 30e6 if odd else 50e6, 12e-3, 20, False),
        ("internet", "INET-GW", 100e6 if odd else 200e6, 25e-3, 50, False),
        ("5g", "5G-GW", 100e6, 35e-3, 80, True),
    )
    links: list[Link] = []
    for transport, hub, capacity, delay, metric, metered in rows:
        links += _pair(
            f"{name}-{transport}",
            name,
            hub,
            capacity,
            delay + jitter,
            igp_metric=metric,
            affinities=frozenset({transport}),
            medium=transport,
            transport=transport,
            metered=metered,
        )
    return links


def bank_wan(branches: int) -> Topology:
    """The national bank WAN with `branches` branches (1..10,000)."""
    if not 1 <= branches <= MAX_BRANCHES:
        raise UsageError(
            f"bank-wan branches must be 1..{MAX_BRANCHES}, got {branches}; e.g. bank-wan:500"
        )
    regions = math.ceil(branches / PER_REGION)
    named, links = _backbone(regions)
    nodes = [Node(n, i, role=role) for i, (n, role) in enumerate(named, start=1)]
    first = len(nodes) + 1
    nodes += [
        Node(
            f"BR{i}",
            first + i - 1,
            role="branch",
            site=f"region {(i - 1) // PER_REGION + 1}",
            max_sid_depth=5,
        )
        for i in range(1, branches + 1)
    ]
    for i in range(1, branches + 1):
        links += _uplinks(i)
    return Topology(f"bank-wan-{branches}", nodes, links)
