"""QoS that follows demand (issue 20, item 6): queue shares per class per interface from what is
placed on the interface. Pure and deterministic.

For every interface (directed link, named by its id at its head router) that carries placed
intents, each class gets a `QosShare`:

- `guaranteed_bps`: the class's placed bandwidth there (the sum of its intents' bandwidth, each
  path's share for a weighted tier; backups are not counted, they carry traffic only after a
  failure) or, when larger, the class's forecast p90 there (the measured load where no
  forecast exists: `controller.qos_forecast`; it includes the intents' own traffic, so it is
  not added), kept within the class's floor and ceiling (fractions of the interface's
  capacity, `SHARE_RULES`). Only classes with intents placed on an interface get a share there;
  the forecast raises or keeps their rate, it does not add shares;
- `weight`: the guaranteed rates in proportion, 1..1000 (what the scheduler splits spare
  capacity by);
- `policer_bps`: for the classes that must not exceed their share (`police`: voice, a strict
  priority queue that would starve the others, and test), a policer at the guaranteed rate.

Interfaces that carry nothing keep the class queues alone (compiler `qos_queues`). The compiler
puts the shares into each head router's `DeviceConfig`, so they change in the same network-wide
transaction as the paths that moved the demand.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from controller.desired import QosShare
from controller.pathing.types import Path, Placement
from controller.topology import Topology

LinkKey = tuple[str, str, str]
WEIGHT_MAX = 1000


@dataclass(frozen=True)
class ShareRule:
    floor: float
    """Least share of the interface's capacity the class is guaranteed where it is placed."""
    ceiling: float
    """Most share of the interface's capacity the class may be guaranteed."""
    police: bool = False
    """Police the class at its guaranteed rate (it must not exceed it)."""


SHARE_RULES: dict[str, ShareRule] = {
    "voice": ShareRule(0.01, 0.30, police=True),
    "production": ShareRule(0.05, 0.50),
    "video": ShareRule(0.02, 0.40),
    "office": ShareRule(0.02, 0.80),
    "bigdata": ShareRule(0.01, 0.80),
    "test": ShareRule(0.01, 0.20, police=True),
}


def placed_demand(
    placements: Iterable[tuple[Placement, float]],
) -> dict[LinkKey, dict[str, float]]:
    """Directed link -> class -> placed bit/s, from (placement, bandwidth) pairs."""
    out: dict[LinkKey, dict[str, float]] = {}
    for placement, bandwidth in placements:
        cls = placement.request.service_class or "production"
        for path, fraction in _paths(placement):
            for key in path.links:
                per_class = out.setdefault(key, {})
                per_class[cls] = per_class.get(cls, 0.0) + bandwidth * fraction
    return out


def _paths(placement: Placement) -> list[tuple[Path, float]]:
    if not placement.shares:
        return [(placement.primary, 1.0)]
    total = sum(w for _, w in placement.shares) or 1
    return [(path, w / total) for path, w in placement.shares]


def interface_shares(
    topology: Topology,
    demand: Mapping[LinkKey, Mapping[str, float]],
    forecast_p90: Mapping[LinkKey, Mapping[str, float]] | None = None,
    rules: Mapping[str, ShareRule] | None = None,
) -> dict[str, tuple[QosShare, ...]]:
    """Head router -> its shares, one per (interface, class) placed there, sorted; a class's
    rate is the larger of its placed and its forecast demand (`forecast_p90`)."""
    rules = SHARE_RULES if rules is None else rules
    forecast = forecast_p90 or {}
    out: dict[str, list[QosShare]] = {}
    for key in sorted(demand):
        capacity = topology.link(key).capacity_bps
        ahead = forecast.get(key, {})
        wanted = {cls: max(bps, ahead.get(cls, 0.0)) for cls, bps in demand[key].items()}
        rates = {
            cls: _clamp(bps, rules.get(cls, ShareRule(0.0, 1.0)), capacity)
            for cls, bps in wanted.items()
            if bps > 0
        }
        top = max(rates.values(), default=0.0)
        for cls in sorted(rates):
            rate = rates[cls]
            weight = max(1, round(WEIGHT_MAX * rate / top)) if top > 0 else 1
            police = rules.get(cls, ShareRule(0.0, 1.0)).police
            share = QosShare(key[2], cls, float(round(rate)), weight, police_rate(rate, police))
            out.setdefault(key[0], []).append(share)
    return {head: tuple(shares) for head, shares in out.items()}


def _clamp(bps: float, rule: ShareRule, capacity: float) -> float:
    return min(max(bps, rule.floor * capacity), rule.ceiling * capacity)


def police_rate(rate: float, police: bool) -> float | None:
    return float(round(rate)) if police else None
