"""The engine's placer: `place()`, re-encoding kept SID lists when the IGP changed.

A kept placement's SID list was encoded for the IGP of its day; after a link goes down or comes
back, a node SID can resolve over a different (now cheaper) path and steer traffic off the
recorded one. Re-encoding every kept list every round is costly (one encoding per intent), so it
is done only on the first call (placements loaded from the store may predate today's IGP) and
when the IGP changed: the set of up links or their metrics.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from controller.pathing.placement import place
from controller.pathing.types import PathRequest, Placement, PlacementResult
from controller.topology import LinkKey, Topology

IgpView = frozenset[tuple[LinkKey, int]]


def igp_view(topology: Topology) -> IgpView:
    """What IGP shortest paths depend on: the up links and their metrics."""
    return frozenset((link.key, link.igp_metric) for link in topology.up_links())


class IgpAwarePlacer:
    """Callable like `place`; remembers the IGP it last placed on."""

    def __init__(self) -> None:
        self._last: IgpView | None = None

    def __call__(
        self,
        topology: Topology,
        requests: Sequence[PathRequest],
        existing: Mapping[str, Placement] | None = None,
    ) -> PlacementResult:
        view = igp_view(topology)
        changed = view != self._last
        self._last = view
        return place(topology, requests, existing, resegment=changed)
