"""Placing one request under its uplink policy: the first tier that is up and fits.

A one-transport tier gives one path over that transport; a protected request gets its backup
disjoint from it over any transport the policy allows (typically the next tier). A weighted
tier gives one path per transport, each holding its share of the bandwidth, carried as
`Placement.shares` (several weighted segment lists in one SR policy). When no tier fits, the
reason names the policy, the site and what blocked each tier.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Protocol

import numpy as np

from controller.errors import PathError
from controller.pathing.cspf import Room, cspf_links, path_cost
from controller.pathing.graph import PathGraph
from controller.pathing.ledger import Parts
from controller.pathing.sids import IgpRouting, with_sids
from controller.pathing.tiers import Applied, TierTry, allowed_transports, tier_tries
from controller.pathing.types import Path, PathRequest, Placement
from controller.topology import Link


class Planner(Protocol):
    """What tiered placement needs of `placement.Planner` (its graph, IGP and masks)."""

    graph: PathGraph
    routing: IgpRouting

    def mask(self, req: PathRequest) -> np.ndarray: ...


def place_tiers(
    planner: Planner, req: PathRequest, applied: Applied, available: Room
) -> tuple[Placement, Parts]:
    reasons: list[str] = []
    for tier in tier_tries(planner.graph.topology, req, applied):
        if not tier.members:
            reasons.append(f"{tier.label} is down")
            continue
        try:
            return _place_tier(planner, req, applied, tier, available)
        except PathError as error:
            reasons.append(f"{tier.label}: {_short(str(error), req)}")
    what = req.service_class or "the request"
    raise PathError(
        f"{req.name}: no uplink tier of the {applied.source} policy for {what} fits at "
        f"{applied.site} ({applied.policy.text()}): {'; '.join(reasons)}"
    )


def _short(reason: str, req: PathRequest) -> str:
    return reason.removeprefix(f"{req.name}: ")


def _path(planner: Planner, member: PathRequest, available: Room) -> tuple[Path, list[int]]:
    graph = planner.graph
    links = cspf_links(graph, member, available=available, mask=planner.mask(member))
    path = graph.make_path(links, cost=path_cost(graph, member, links))
    return with_sids(planner.routing, path), links


def _place_tier(
    planner: Planner, req: PathRequest, applied: Applied, tier: TierTry, available: Room
) -> tuple[Placement, Parts]:
    if len(tier.members) == 1:
        member = tier.members[0][0]
        primary, links = _path(planner, member, available)
        if req.disjoint is None:
            return Placement(req, primary, tier=tier.label), [(req.bandwidth_bps, links)]
        return _protected(
            planner, req, applied, (member, primary, links), tier=tier, available=available
        )
    shares: list[tuple[Path, int]] = []
    parts: list[tuple[float, list[int]]] = []
    room = np.array(available, dtype=float)  # the shares meet on common (core) links: sum them
    for member, weight in tier.members:
        path, links = _path(planner, member, room)
        shares.append((path, weight))
        parts.append((member.bandwidth_bps, links))
        room[links] -= member.bandwidth_bps
    note = (f"no backup: load-shared over {len(shares)} uplinks",) if req.disjoint else ()
    placement = Placement(req, shares[0][0], None, note, tuple(shares), tier.label)
    return placement, parts


def _protected(
    planner: Planner,
    req: PathRequest,
    applied: Applied,
    first: tuple[PathRequest, Path, list[int]],
    *,
    tier: TierTry,
    available: Room,
) -> tuple[Placement, Parts]:
    """The tier's path, and a backup disjoint from it over any transport the policy allows."""
    member, primary, links = first
    graph = planner.graph
    wider = replace(member, transports=allowed_transports(graph.topology, req, applied))
    avoid = planner.mask(wider).copy()
    avoid[conflicting(graph, links, req.disjoint or "link")] = False
    try:
        second = cspf_links(graph, wider, available=available, mask=avoid)
    except PathError:
        note = ("no backup: no disjoint path over the uplinks the policy allows",)
        return Placement(req, primary, None, note, tier=tier.label), [(req.bandwidth_bps, links)]
    backup = with_sids(
        planner.routing, graph.make_path(second, cost=path_cost(graph, wider, second))
    )
    placement = Placement(req, primary, backup, tier=tier.label)
    return placement, [(req.bandwidth_bps, links + second)]


def conflicting(graph: PathGraph, primary: Sequence[int], mode: str) -> list[int]:
    """Link indices a backup must not use next to `primary` (the same test as `conflicts`, from
    indices kept per graph instead of a pass over every link)."""
    by_id, by_srlg = _indices(graph)
    out = [f for e in primary for f in by_id[graph.links[e].id]]
    if mode == "node":
        inner = {graph.dst[e] for e in primary[:-1]}
        out += [f for v in inner for f in (*graph.out[v], *graph.inc[v])]
    elif mode == "srlg":
        out += [f for e in primary for g in graph.links[e].srlgs for f in by_srlg[g]]
    return out


def _indices(graph: PathGraph) -> tuple[dict[str, list[int]], dict[str, list[int]]]:
    cached = graph.memo.get(("links-by-id-and-srlg",))
    if cached is None:
        by_id: dict[str, list[int]] = {}
        by_srlg: dict[str, list[int]] = {}
        for e, link in enumerate(graph.links):
            by_id.setdefault(link.id, []).append(e)
            for g in link.srlgs:
                by_srlg.setdefault(g, []).append(e)
        cached = graph.memo[("links-by-id-and-srlg",)] = (by_id, by_srlg)
    return cached  # type: ignore[return-value]


def conflicts(link: Link, primary: list[Link], mode: str) -> bool:
    """Whether `link` shares what the backup must not share with the primary."""
    if any(link.id == p.id for p in primary):
        return True
    if mode == "node":
        inner = {p.dst for p in primary[:-1]}
        return link.src in inner or link.dst in inner
    if mode == "srlg":
        return any(link.srlgs & p.srlgs for p in primary)
    return False
