"""Regression: after a link came back, a kept placement's SID list steered traffic off its
recorded path (its node SID now resolved over the restored, cheaper link)."""

from __future__ import annotations

from controller.igp_placer import IgpAwarePlacer
from controller.pathing.sids import IgpRouting, expand
from controller.pathing.types import PathRequest
from controller.topology import Link, LinkState, Node, Topology


def _diamond() -> Topology:
    """A-B-D (IGP 2) and A-C-D (IGP 4)."""
    nodes = [Node(name=n, index=i + 1) for i, n in enumerate("ABCD")]
    links = [
        Link(id=f"{a}{b}", src=s, dst=d, capacity_bps=10e9, delay_s=1e-3, igp_metric=m)
        for a, b, m in [("A", "B", 1), ("B", "D", 1), ("A", "C", 2), ("C", "D", 2)]
        for s, d in ((a, b), (b, a))
    ]
    return Topology("diamond", nodes, links)


def test_kept_sid_lists_are_reencoded_when_a_link_comes_back() -> None:
    healed = _diamond()
    cut = healed.with_link_state("BD", LinkState.DOWN)
    reqs = [PathRequest("p", "A", "D")]
    placer = IgpAwarePlacer()
    during = placer(cut, reqs, None).placed["p"]
    assert during.primary.nodes == ("A", "C", "D")
    # the link comes back: the path is kept (hysteresis), but its SIDs must still steer A-C-D
    after = placer(healed, reqs, {"p": during}).placed["p"]
    assert after.primary.links == during.primary.links
    assert expand(IgpRouting.of(healed), "A", after.primary.sids) == [after.primary.links]


def test_unchanged_igp_keeps_the_same_placement_objects() -> None:
    topo = _diamond()
    reqs = [PathRequest("p", "A", "D"), PathRequest("q", "B", "C")]
    placer = IgpAwarePlacer()
    first = placer(topo, reqs, None)
    again = placer(topo, reqs, first.placed)
    assert all(again.placed[name] is placement for name, placement in first.placed.items())
