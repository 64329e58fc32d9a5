"""Per-class uplink policies: which transports a class may use at a site, in which order, and
how it shares them.

A policy is ordered tiers. A tier is one transport (`private-line`), or several with weights
(`{internet: 3, 5g: 1}`): one path per transport, the traffic split by weight over the
segment lists of one SR policy. Placement takes the first tier whose transports are up at the
site and fit the bandwidth, the next tier when they do not. `exclude` removes transports from
every tier; `metered: false` keeps the class off metered links (5G). Without tiers, any allowed
transport will do (the best path). A policy binds links that have a transport (uplinks); core
links are always allowed.

Where the policy comes from, most specific first: the intent's `uplinks`, the site's
(`uplinks` on the branch router in the topology, per class), the class table's default.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from controller.topology import TRANSPORTS, Topology, UplinkPolicy, UplinkTier

TRANSPORT_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,31}$"
TIER_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "string", "pattern": TRANSPORT_PATTERN},
        {
            "type": "object",
            "minProperties": 1,
            "propertyNames": {"pattern": TRANSPORT_PATTERN},
            "additionalProperties": {"type": "integer", "minimum": 1},
        },
    ]
}
"""A tier in JSON Schema: a transport, or transports with positive weights (the model also
takes 0, leaving a transport out; a tier whose weights sum to 0 is refused where the policy
applies, naming the site: `policy_problems`)."""


class UplinkSpec(BaseModel):
    """An uplink policy as written in an intent, a topology or the class table."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    prefer: tuple[str | dict[str, int], ...] = Field(
        default=(),
        max_length=8,
        json_schema_extra={"items": TIER_SCHEMA},
        description="Ordered tiers: a transport, or {transport: weight, ...} to share by weight; "
        "the first tier that is up and fits is used. Empty: any allowed transport.",
    )
    exclude: tuple[str, ...] = Field(
        default=(),
        max_length=16,
        description="Transports the class never uses.",
        json_schema_extra={"items": {"type": "string", "pattern": TRANSPORT_PATTERN}},
    )
    metered: bool = Field(
        default=True, description="false: never on metered (volume-billed) links."
    )

    @field_validator("prefer")
    @classmethod
    def _tiers(cls, value: tuple[str | dict[str, int], ...]) -> tuple[str | dict[str, int], ...]:
        seen: set[str] = set()
        for i, tier in enumerate(value):
            names = [tier] if isinstance(tier, str) else list(tier)
            for name in names:
                _check_name(name, f"prefer[{i}]")
                seen.add(name)
            if isinstance(tier, dict):
                _check_weights(tier, i)
        return value

    @field_validator("exclude")
    @classmethod
    def _excluded(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            _check_name(name, "exclude")
        return value

    def policy(self) -> UplinkPolicy:
        void = tuple(
            i for i, t in enumerate(self.prefer) if isinstance(t, dict) and sum(t.values()) <= 0
        )
        return UplinkPolicy(_tiers(self.prefer), frozenset(self.exclude), self.metered, void)


def _tiers(written: tuple[str | dict[str, int], ...]) -> tuple[UplinkTier, ...]:
    """Tiers as written; weight 0 leaves a transport out, a transport named in several tiers
    counts in the first, and a weighted tier lists its heaviest transport first."""
    seen: set[str] = set()
    tiers = []
    for tier in written:
        pairs = [(tier, 1)] if isinstance(tier, str) else list(tier.items())
        kept = sorted(((k, w) for k, w in pairs if w > 0 and k not in seen), key=_heaviest)
        seen |= {k for k, _ in kept}
        if kept:
            tiers.append(UplinkTier(tuple(k for k, _ in kept), tuple(w for _, w in kept)))
    return tuple(tiers)


def _heaviest(member: tuple[str, int]) -> tuple[int, str]:
    """A weighted tier's order: heaviest first (its path is the placement's primary), then by
    name, whatever order the mapping was written or stored in."""
    return (-member[1], member[0])


def _check_name(name: str, where: str) -> None:
    if not re.match(TRANSPORT_PATTERN, name):
        raise ValueError(
            f"{where}: {name!r} is not a transport name; use {', '.join(TRANSPORTS)} "
            "or a custom lower-case name"
        )


def _check_weights(tier: Mapping[str, int], i: int) -> None:
    if not tier:
        raise ValueError(f"prefer[{i}]: an empty tier; name at least one transport")
    negative = [k for k, w in tier.items() if w < 0]
    if negative:
        raise ValueError(f"prefer[{i}]: weight of {negative[0]!r} is negative; use 0 or more")


def parse_policy(raw: Any) -> UplinkPolicy:
    """A policy from its written form (raises pydantic's ValidationError)."""
    if isinstance(raw, UplinkPolicy):
        return raw
    return UplinkSpec.model_validate(raw).policy()


def policy_from_dict(data: Mapping[str, Any]) -> UplinkPolicy:
    """The inverse of `UplinkPolicy.to_dict` (stored placements)."""
    return parse_policy(dict(data))


# -- the policy a request gets at its sites ------------------------------------------------------
def site_transports(topology: Topology, node: str) -> list[str]:
    """Transports of the uplinks at `node` (any state), in link order, when it is a site: a
    non-transit router (a branch); a hub's end of the same links is not one."""
    found = topology.nodes.get(node)
    if found is None or found.transit:
        return []
    return list(dict.fromkeys(lk.transport for lk in topology.uplinks.get(node, ())))


def site_policy(topology: Topology, node: str, service_class: str) -> UplinkPolicy | None:
    found = topology.nodes.get(node)
    if found is None:
        return None
    return dict(found.uplinks).get(service_class)


def known_transports(topology: Topology) -> set[str]:
    return set(TRANSPORTS) | {lk.transport for lk in topology.links if lk.transport}


def policy_problems(
    topology: Topology,
    policy: UplinkPolicy,
    sites: Iterable[str],
    what: str,
) -> list[str]:
    """Bad input, one line each naming the policy (`what`), the site and the fix: an unknown
    transport, or a site where the policy leaves the class no transport."""
    problems: list[str] = []
    for i in policy.void:  # where the policy applies: at its sites (else the policy alone)
        for where in [f" at site {s}" for s in sites if site_transports(topology, s)] or [""]:
            problems.append(
                f"{what}{where}: prefer[{i}]: weights sum to 0; give at least one transport a "
                "positive weight, e.g. {internet: 3, 5g: 1}"
            )
    known = known_transports(topology)
    unknown = sorted(policy.names() - known)
    if unknown:
        at = [f" at site {s}" for s in sites if site_transports(topology, s)] or [""]
        problems.append(
            f"{what}{at[0]}: unknown transport {unknown[0]!r} in topology {topology.name!r}; "
            f"use one of {', '.join(sorted(known))}"
        )
        return problems
    for site in sites:
        present = site_transports(topology, site)
        if present and not _usable(policy, topology, site, present):
            problems.append(
                f"{what} at site {site}: no allowed transport left ({policy.text()}; {site} has "
                f"{', '.join(present)}); allow one of {', '.join(present)} or drop the exclusion"
            )
    return problems


def _usable(policy: UplinkPolicy, topology: Topology, site: str, present: list[str]) -> bool:
    allowed = set(policy.allowed(present))
    if policy.metered:
        return bool(allowed)
    return any(lk.transport in allowed and not lk.metered for lk in topology.out_links(site))


def topology_policy_problems(topology: Topology) -> list[str]:
    """Problems of the per-site policies a topology carries."""
    problems: list[str] = []
    for name, node in topology.nodes.items():
        if node.uplinks and not site_transports(topology, name):
            problems.append(
                f"node {name!r}: uplinks: policies apply at sites, non-transit routers with "
                "uplinks (links with a transport); move them to the branch or remove them"
            )
            continue
        for service_class, policy in node.uplinks:
            what = f"uplink policy for {service_class}"
            problems += policy_problems(topology, policy, [name], what)
    return problems
