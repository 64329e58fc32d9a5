"""Which flows installed SR policies steer, and where their segment lists take them.

A head end's `SteeringRule`s pick flows by DSCP (the class's DSCP) towards the policy's endpoint
into the policy (color, endpoint); a rule's destination prefix is taken to sit behind that endpoint
(the simulator's flows go router to router, so prefixes do not split them further). A policy that
no rule names steers all of its head end's traffic to its endpoint that no rule claims. The
active candidate path is the valid one with the highest preference (RFC 9256): valid when every
SID is known and every segment is reachable; traffic splits over its valid segment lists by
weight. A policy with no valid candidate path is down and its traffic falls back to the IGP.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from controller.desired import DeviceConfig, SrPolicy
from harness.classes import ClassTable
from harness.routing import Hop, IgpRouting, LinkIndex, Segment, parse_sid


@dataclass(frozen=True)
class ActivePolicy:
    head: str
    policy: SrPolicy
    candidate: str | None
    hops_by_dst: dict[int, list[Hop]]

    @property
    def up(self) -> bool:
        return self.candidate is not None


def resolve_endpoint(index: LinkIndex, endpoint: str) -> int | None:
    """A policy endpoint given as a node name, loopback or node SID."""
    if endpoint in index.node_idx:
        return index.node_idx[endpoint]
    try:
        addr = ipaddress.IPv6Address(endpoint.split("/", maxsplit=1)[0])
    except ValueError:
        return None
    for name, node in index.topology.nodes.items():
        if addr in (
            ipaddress.IPv6Address(node.loopback.split("/")[0]),
            ipaddress.IPv6Address(node.node_sid),
        ):
            return index.node_idx[name]
    return None


def segments_of(index: LinkIndex, sids: tuple[str, ...]) -> list[Segment] | None:
    out = []
    for sid in sids:
        seg = parse_sid(index, sid)
        if seg is None:
            return None
        out.append(seg)
    return out


def activate(
    index: LinkIndex, routing: IgpRouting, head: str, policy: SrPolicy, dsts: set[int]
) -> ActivePolicy:
    """Pick the active candidate path and expand it for each destination in `dsts`."""
    s = index.node_idx[head]
    for cp in sorted(policy.candidate_paths, key=lambda c: -c.preference):
        expanded: list[tuple[int, dict[int, list[Hop]]]] = []
        for sl in cp.segment_lists:
            segs = segments_of(index, sl.sids)
            if segs is None or sl.weight <= 0:
                continue
            per_dst = {d: routing.path_hops(s, segs, d) for d in dsts}
            if all(h is not None for h in per_dst.values()):
                expanded.append((sl.weight, {d: h or [] for d, h in per_dst.items()}))
        if expanded:
            total = sum(w for w, _ in expanded)
            merged: dict[int, list[Hop]] = {d: [] for d in dsts}
            for w, hops_by_dst in expanded:
                for d, hops in hops_by_dst.items():
                    merged[d] += [(lk, f * w / total, lvl) for lk, f, lvl in hops]
            return ActivePolicy(head, policy, cp.name, merged)
    return ActivePolicy(head, policy, None, {})


def choose_policy(
    config: DeviceConfig, index: LinkIndex, dst: int, cls: int, classes: ClassTable
) -> SrPolicy | None:
    """The policy (if any) that steers a flow from this head end to `dst` in class `cls`."""
    by_key = {p.key: p for p in config.sr_policies}
    dscp = classes.specs[cls].dscp
    named = set()
    for rule in config.steering:
        named.add((rule.color, rule.endpoint))
        policy = by_key.get((rule.color, rule.endpoint))
        if policy is None:
            continue
        if resolve_endpoint(index, policy.endpoint) != dst:
            continue
        if rule.dscp is None or rule.dscp == dscp:
            return policy
    for policy in sorted(config.sr_policies, key=lambda p: p.color):
        if policy.key not in named and resolve_endpoint(index, policy.endpoint) == dst:
            return policy
    return None
