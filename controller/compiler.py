"""Compiler: placed intents -> per-device desired config. Pure and deterministic.

- One SR policy per intent at its head end, keyed by (color, endpoint): the color is the intent's
  (allocated by the store, unique), the endpoint the tail's loopback address. Candidate paths:
  `primary` preference 200, `backup` preference 100 (path protection), segment lists from
  `Path.sids` (node SIDs of the path when the placement gave none).
- Make-before-break: while an intent moves, its previous primary stays as candidate `previous`
  with preference 50; the engine installs that transitional config first, then the final one.
- 1+1 protection: a twin policy (color + 1) holds the disjoint path for the replicated copy.
- Load-sharing over uplinks (a weighted uplink tier): the primary candidate path holds one
  segment list per uplink, `weight` from the policy (RFC 9256 weighted ECMP across lists).
- Steering at the head: the intent's DSCP towards the endpoint, per destination prefix if given;
  with an application `match`, per destination prefix and protocol, with ports and sources.
- QoS: the six class queues on every device, from `SERVICE_CLASSES`; on each interface that
  carries intents, per-class shares following the placed demand (or the forecast p90 when
  given and larger), within per-class floors and ceilings (`controller.qos`): the same revision
  as the paths.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from itertools import product

from controller.desired import (
    CandidatePath,
    DeviceConfig,
    NetworkConfig,
    QosQueue,
    QosShare,
    SegmentList,
    SrPolicy,
    SteeringRule,
)
from controller.intents import SERVICE_CLASSES, Intent
from controller.pathing.types import Path, Placement
from controller.qos import LinkKey, interface_shares, placed_demand
from controller.topology import Topology

PRIMARY_PREFERENCE = 200
BACKUP_PREFERENCE = 100
PREVIOUS_PREFERENCE = 50


@dataclass(frozen=True)
class CompileItem:
    """One placed intent: its spec, placement, allocated color and (while moving) old primary."""

    intent: Intent
    placement: Placement
    color: int
    previous: Path | None = None


def compile_network(
    topology: Topology,
    items: Iterable[CompileItem],
    forecast_p90: Mapping[LinkKey, Mapping[str, float]] | None = None,
) -> NetworkConfig:
    """Desired config for every device of `topology` (devices without policies get QoS only);
    `forecast_p90` (directed link -> class -> bit/s) raises a placed class's queue share to its
    forecast demand there (`controller.qos`)."""
    policies: dict[str, list[SrPolicy]] = {name: [] for name in topology.nodes}
    steering: dict[str, list[SteeringRule]] = {name: [] for name in topology.nodes}
    extra_dscp: dict[str, set[int]] = {}
    items = list(items)
    shares = _shares(topology, items, forecast_p90)
    for item in items:
        head = item.placement.request.src
        for policy in _policies(topology, item):
            policies.setdefault(head, []).append(policy)
        steering.setdefault(head, []).extend(_steering(topology, item))
        extra_dscp.setdefault(item.intent.service_class, set()).add(item.intent.effective_dscp)
    queues = qos_queues(extra_dscp)
    return {
        device: DeviceConfig(
            device=device,
            sr_policies=tuple(sorted(policies[device], key=lambda p: (p.color, p.endpoint))),
            steering=tuple(sorted(steering.get(device, []), key=lambda s: s.name)),
            qos=queues,
            shares=shares.get(device, ()),
        )
        for device in sorted(policies)
    }


def _shares(
    topology: Topology,
    items: list[CompileItem],
    forecast_p90: Mapping[LinkKey, Mapping[str, float]] | None,
) -> dict[str, tuple[QosShare, ...]]:
    demand = placed_demand((i.placement, i.intent.bandwidth) for i in items)
    return interface_shares(topology, demand, forecast_p90)


def qos_queues(extra_dscp: Mapping[str, set[int]] | None = None) -> tuple[QosQueue, ...]:
    """The class queues, highest queue first; DSCP overrides used by intents join their class."""
    extra = extra_dscp or {}
    return tuple(
        QosQueue(
            service_class=name,
            queue=c.queue,
            dscp=tuple(sorted({c.dscp} | extra.get(name, set()))),
            priority=c.strict_priority,
            weight=c.weight,
        )
        for name, c in sorted(SERVICE_CLASSES.items(), key=lambda kv: -kv[1].queue)
    )


def endpoint_address(topology: Topology, node: str) -> str:
    return topology.node(node).loopback.split("/")[0]


def segment_list(topology: Topology, path: Path, name: str) -> SegmentList:
    sids = path.sids or tuple(topology.node(n).node_sid for n in path.nodes[1:])
    return SegmentList(name=name, sids=sids)


def _policies(topology: Topology, item: CompileItem) -> list[SrPolicy]:
    intent, placement = item.intent, item.placement
    endpoint = endpoint_address(topology, placement.request.dst)
    paths = [CandidatePath("primary", PRIMARY_PREFERENCE, _primary_lists(topology, item))]
    if placement.backup is not None and intent.protection == "path":
        paths.append(
            CandidatePath(
                "backup",
                BACKUP_PREFERENCE,
                (segment_list(topology, placement.backup, f"{intent.name}-backup"),),
            )
        )
    if item.previous is not None and item.previous != placement.primary:
        paths.append(
            CandidatePath(
                "previous",
                PREVIOUS_PREFERENCE,
                (segment_list(topology, item.previous, f"{intent.name}-previous"),),
            )
        )
    out = [SrPolicy(item.color, endpoint, intent.name, tuple(paths), intent.bandwidth)]
    if placement.backup is not None and intent.protection == "1+1":
        twin = CandidatePath(
            "live-backup",
            PRIMARY_PREFERENCE,
            (segment_list(topology, placement.backup, f"{intent.name}-live-backup"),),
        )
        out.append(
            SrPolicy(item.color + 1, endpoint, f"{intent.name}-1+1", (twin,), intent.bandwidth)
        )
    return out


def _primary_lists(topology: Topology, item: CompileItem) -> tuple[SegmentList, ...]:
    """One segment list; under a load-sharing uplink tier one per uplink, weighted."""
    name = item.intent.name
    shares = item.placement.shares
    if not shares:
        return (segment_list(topology, item.placement.primary, f"{name}-primary"),)
    return tuple(
        replace(segment_list(topology, path, f"{name}-primary-{i}"), weight=weight)
        for i, (path, weight) in enumerate(shares)
    )


def _steering(topology: Topology, item: CompileItem) -> list[SteeringRule]:
    """Rules by DSCP and destination prefix; with an application `match`, one rule per
    destination prefix and protocol carrying the ports and source prefixes (matched by the
    application, so by DSCP only when the intent sets `dscp` itself)."""
    intent = item.intent
    endpoint = endpoint_address(topology, item.placement.request.dst)
    match = intent.match
    if match is None:
        dscp: int | None = intent.effective_dscp
        prefixes: tuple[str | None, ...] = intent.dst.prefixes or (None,)
        protocols: tuple[int | None, ...] = (None,)
    else:
        dscp = intent.dscp
        prefixes = tuple(dict.fromkeys(intent.dst.prefixes + match.dst_prefixes)) or (None,)
        protocols = match.rule_protocols()
    combos = list(product(prefixes, protocols))
    return [
        SteeringRule(
            intent.name if len(combos) == 1 and prefixes == (None,) else f"{intent.name}#{i}",
            item.color,
            endpoint,
            dscp=dscp,
            prefix=prefix,
            protocol=protocol,
            ports=() if match is None else match.ports_of(protocol),
            src_prefixes=() if match is None else match.src_prefixes,
        )
        for i, (prefix, protocol) in enumerate(combos)
    ]
