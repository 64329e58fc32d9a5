"""The two transit gaps closed (issue 20): a branch waypoint, and installed paths that cross a
router the transit policy now forbids (planner.broken and the per-round health check)."""

from __future__ import annotations

from dataclasses import replace

from controller.intents import Intent
from controller.pathing.placement import place
from controller.planner import Candidate, Health, Planner, broken
from controller.topology import Topology
from topologies.loader import load

BANK = load("bank-wan")


def planner(topo: Topology) -> Planner:
    return Planner(topo, place)


def test_a_stored_intent_with_a_branch_waypoint_fails_with_the_reason() -> None:
    via_branch = Intent.model_validate(
        {"name": "via", "src": "BR1", "dst": "DC1", "waypoints": ["BR2"]}
    )
    result = planner(BANK).plan([Candidate(via_branch, True)], {})
    assert result.failed == {
        "via": "waypoints[0]: 'BR2' is non-transit and carries no other router's traffic; "
        "remove the waypoint or set transit: true on it"
    }
    via_hq = via_branch.model_copy(update={"waypoints": ("HQ",)})
    assert "HQ" in planner(BANK).plan([Candidate(via_hq, True)], {}).placements["via"].primary.nodes


def test_a_path_through_a_router_made_non_transit_is_broken() -> None:
    office = Intent.model_validate(
        {"name": "o", "src": "BR3", "dst": "DC1", "service_class": "voice"}
    )
    placed = planner(BANK).plan([Candidate(office, True)], {}).placements["o"]
    inner = placed.primary.nodes[1]
    assert inner == "P-GZ"  # voice takes the private line first
    assert broken(placed, BANK) is None and not Health(BANK, {}).broken(placed)
    closed = Topology(
        BANK.name,
        [replace(n, transit=False) if n.name == inner else n for n in BANK.nodes.values()],
        BANK.links,
    )
    assert broken(placed, closed) == f"path crosses non-transit router {inner}"
    assert Health(closed, {}).broken(placed)
    again = planner(closed).plan([Candidate(office, False)], {"o": placed})
    assert again.placements["o"].primary.nodes[:2] == ("BR3", "VPN-PE")  # the next tier
    assert again.moved["o"] == placed.primary
