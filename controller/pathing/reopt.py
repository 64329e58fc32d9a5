"""Re-optimisation after a change, with churn reported and limited.

Placement: placements still valid after the change (link down, capacity change, new requests) are
kept (their SID lists re-encoded when the IGP changed: `resegmented`); broken ones are recomputed
(forced churn). Then, if allowed, kept placements whose best path
is now cheaper by at least `min_gain` move, best gain first, until `churn_limit` paths changed in
total; the rest are reported as deferred. An improvement uses only free bandwidth (it never
preempts).

Traffic engineering: `carry_split` maps a previous split onto a new TunnelSet (same paths keep
their weights) to warm-start the optimizer; `split_churn` counts the pairs whose split changed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from controller.errors import PathError, UsageError
from controller.pathing.ledger import Parts, parts_of
from controller.pathing.optimizer import TunnelSet, normalise_split
from controller.pathing.placement import Planner, _check_requests, order_key
from controller.pathing.types import PathRequest, Placement, PlacementResult
from controller.topology import Topology


@dataclass(frozen=True)
class ChurnReport:
    """Which placements changed and why."""

    kept: tuple[str, ...]
    forced: tuple[str, ...]
    """Had to move: their path broke or no longer fits; or they are new."""
    improved: tuple[str, ...]
    """Moved voluntarily to a cheaper path."""
    deferred: tuple[str, ...]
    """Would improve, but the churn limit was reached."""
    lost: tuple[str, ...]
    """Were placed before, now unplaced."""
    limit_exceeded: bool = False
    """Forced moves alone exceeded the churn limit (they are made anyway: the old paths broke)."""
    resegmented: tuple[str, ...] = ()
    """Same path, new SID list: IGP changes made the old list steer elsewhere (config changes,
    the path does not; not counted as churn)."""

    @property
    def changed(self) -> int:
        return len(self.forced) + len(self.improved)


def reoptimize(
    topology: Topology,
    requests: Sequence[PathRequest],
    existing: Mapping[str, Placement],
    *,
    churn_limit: int | None = None,
    min_gain: float = 0.05,
) -> tuple[PlacementResult, ChurnReport]:
    """Re-place `requests` after a change, moving as few placements as the limit allows."""
    if churn_limit is not None and churn_limit < 0:
        raise UsageError(f"churn limit must be >= 0, got {churn_limit}")
    _check_requests(topology, requests)
    planner = Planner.of(topology)
    kept = planner.keep(requests, existing, resegment=True)
    for req in sorted(requests, key=order_key):
        if req.name not in kept:
            planner.place_one(req)
    planner.retry_preempted(requests)
    result = planner.result
    forced = sorted(n for n in result.placed if n not in kept)
    resegmented = sorted(
        n for n in kept & set(result.placed) if existing[n] is not result.placed[n]
    )
    budget = None if churn_limit is None else max(0, churn_limit - len(forced))
    improved, deferred = _improve(planner, requests, kept & set(result.placed), budget, min_gain)
    lost = sorted(n for n in existing if n in result.unplaced)
    report = ChurnReport(
        kept=tuple(sorted(set(result.placed) - set(forced) - set(improved))),
        forced=tuple(forced),
        improved=tuple(improved),
        deferred=tuple(deferred),
        lost=tuple(lost),
        limit_exceeded=churn_limit is not None and len(forced) > churn_limit,
        resegmented=tuple(r for r in resegmented if r not in improved),
    )
    return result, report


def _improve(
    planner: Planner,
    requests: Sequence[PathRequest],
    kept: set[str],
    budget: int | None,
    min_gain: float,
) -> tuple[list[str], list[str]]:
    by_name = {r.name: r for r in requests}
    gains: list[tuple[float, str, Placement, Parts]] = []
    for name in sorted(kept, key=lambda n: order_key(by_name[n])):
        req, old = by_name[name], planner.result.placed[name]
        holding = planner.ledger.holdings[name]
        planner.ledger.release(name)
        try:
            new, parts = planner.compute(req, planner.ledger.available(7))
        except PathError:
            new, parts = old, parts_of(holding)
        planner.ledger.reinstate(name, holding)
        gain = (old.primary.cost - new.primary.cost) / max(old.primary.cost, 1e-300)
        if gain >= min_gain and new.primary.links != old.primary.links:
            gains.append((gain, name, new, parts))
    gains.sort(key=lambda g: (-g[0], g[1]))
    improved: list[str] = []
    deferred: list[str] = []
    for _, name, new, parts in gains:
        if budget is not None and len(improved) >= budget:
            deferred.append(name)
            continue
        holding = planner.ledger.holdings[name]
        planner.ledger.release(name)
        if not planner.ledger.fits(parts):  # taken by an earlier move
            planner.ledger.reinstate(name, holding)
            deferred.append(name)
            continue
        planner.ledger.reserve(name, holding.hold_priority, 0.0, (), parts)
        planner.result.placed[name] = new
        improved.append(name)
    return improved, deferred


def carry_split(old: TunnelSet, old_split: np.ndarray, new: TunnelSet) -> np.ndarray:
    """Warm start for `new`: each path that existed in `old` (same pair, same links) keeps its
    weight; pairs with no surviving weight start on their first path."""
    weight = {
        (old.pairs[old.path_pair[p]], path.links): float(old_split[p])
        for p, path in enumerate(old.paths)
    }
    raw = np.array(
        [
            weight.get((new.pairs[new.path_pair[p]], path.links), 0.0)
            for p, path in enumerate(new.paths)
        ]
    )
    return normalise_split(new, raw)


def split_churn(ts: TunnelSet, old: np.ndarray, new: np.ndarray, tolerance: float = 1e-3) -> int:
    """Number of pairs whose split moved by more than `tolerance` on some path."""
    moved = np.abs(np.asarray(new) - np.asarray(old)) > tolerance
    return int(np.unique(ts.path_pair[moved]).size)


def without_down_paths(ts: TunnelSet, topology: Topology) -> TunnelSet:
    """`ts` without the paths that cross links no longer up in `topology`."""
    up = {lk.key for lk in topology.up_links()}
    keep = np.array([all(k in up for k in p.links) for p in ts.paths], dtype=bool)
    return TunnelSet(
        capacities=np.array([topology.link(k).capacity_bps for k in ts.link_keys]),
        link_keys=ts.link_keys,
        pairs=ts.pairs,
        path_pair=ts.path_pair[keep],
        path_links=ts.path_links[np.flatnonzero(keep)],
        paths=tuple(p for p, k in zip(ts.paths, keep, strict=True) if k),
    )
