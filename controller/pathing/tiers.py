"""Uplink tiers for one request: the restricted requests placement tries, in order.

The policy that applies (see `uplinks`): the intent's own, else the site's for the request's
class (the source's, then the destination's), else the class default; none when neither end
has uplinks (links with a transport). Each tier becomes one `TierTry`: per transport of the
tier that has an up uplink at the site, the request restricted to that transport carrying its
share of the bandwidth (weight / sum of the weights of the tier's transports that are up).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from controller.pathing.types import PathRequest
from controller.pathing.uplinks import site_policy, site_transports
from controller.topology import Topology, UplinkPolicy


@dataclass(frozen=True)
class TierTry:
    label: str
    members: tuple[tuple[PathRequest, int], ...]
    """(request restricted to one transport with its bandwidth share, weight); empty: down."""


@dataclass(frozen=True)
class Applied:
    policy: UplinkPolicy
    site: str
    source: str
    """Where the policy came from: intent, site or class."""


def applied_policy(topology: Topology, req: PathRequest) -> Applied | None:
    """The uplink policy binding `req`, or None (no policy, or no uplinks at either end)."""
    sites = [end for end in (req.src, req.dst) if site_transports(topology, end)]
    if not sites:
        return None
    if req.uplinks_from_intent and req.uplinks is not None:
        return Applied(req.uplinks, sites[0], "intent")
    for site in sites:
        policy = site_policy(topology, site, req.service_class)
        if policy is not None:
            return Applied(policy, site, "site")
    if req.uplinks is None:
        return None
    return Applied(req.uplinks, sites[0], "class")


def tier_tries(topology: Topology, req: PathRequest, applied: Applied) -> list[TierTry]:
    """The tiers to try for `req` under `applied`, first choice first."""
    policy = applied.policy
    sites = [end for end in (req.src, req.dst) if site_transports(topology, end)]
    up = {lk.transport for s in sites for lk in topology.uplinks.get(s, ()) if lk.is_up}
    base = replace(req, metered=req.metered and policy.metered)
    if not policy.tiers:
        present = [t for s in sites for t in site_transports(topology, s)]
        allowed = frozenset(policy.allowed(present))
        return [TierTry("any allowed transport", ((replace(base, transports=allowed), 1),))]
    tries = []
    for tier in policy.tiers:
        members = [(t, w) for t, w in tier.members(policy.exclude) if t in up]
        total = sum(w for _, w in members)
        tries.append(
            TierTry(
                tier.text(),
                tuple(
                    (
                        replace(
                            base,
                            transports=frozenset({t}),
                            bandwidth_bps=req.bandwidth_bps * w / total,
                        ),
                        w,
                    )
                    for t, w in members
                ),
            )
        )
    return tries


def allowed_transports(topology: Topology, req: PathRequest, applied: Applied) -> frozenset[str]:
    """Every transport the policy allows at the request's sites (for a backup path)."""
    sites = [end for end in (req.src, req.dst) if site_transports(topology, end)]
    present = [t for s in sites for t in site_transports(topology, s)]
    return frozenset(applied.policy.allowed(present))
