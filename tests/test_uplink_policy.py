"""Per-class uplink policies (issue 20, item 2): tiers in order, next tier on failure,
weighted load-sharing in one SR policy, exclusions, site and intent overrides, bad input."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError as PydanticValidationError

from controller.compiler import CompileItem, compile_network
from controller.errors import TopologyError
from controller.intentcheck import intent_problems
from controller.intents import Intent, PrefixMap, to_path_request
from controller.pathing.placement import place
from controller.pathing.reopt import reoptimize
from controller.pathing.types import Placement
from controller.pathing.uplinks import parse_policy
from controller.serial import placement_from_dict, placement_to_dict
from controller.topology import LinkState, Topology
from topologies.loader import load
from topologies.native import from_dict

BANK = load("bank-wan:4")


def intent(**fields: Any) -> Intent:
    spec = {"name": "x", "src": "BR1", "dst": "DC1", "bandwidth": "4M", **fields}
    return Intent.model_validate(spec)


def placed(topo: Topology, it: Intent) -> Placement:
    result = place(topo, [to_path_request(it, lambda e, _: str(e.node))])
    assert not result.unplaced, result.unplaced
    return result.placed[it.name]


def unplaced(topo: Topology, it: Intent) -> str:
    result = place(topo, [to_path_request(it, lambda e, _: str(e.node))])
    return result.unplaced[it.name]


def down(topo: Topology, *links: str) -> Topology:
    for link in links:
        topo = topo.with_link_state(link, LinkState.DOWN)
    return topo


def uplink(p: Placement) -> str:
    return p.primary.links[0][2]


def test_class_defaults_pick_the_first_tier_then_the_next_on_failure() -> None:
    office = intent(service_class="office")
    assert (uplink(placed(BANK, office)), placed(BANK, office).tier) == ("BR1-internet", "internet")
    assert uplink(placed(down(BANK, "BR1-internet"), office)) == "BR1-5g"
    reason = unplaced(down(BANK, "BR1-internet", "BR1-5g"), office)
    assert reason == (
        "x: no uplink tier of the class policy for office fits at BR1 (internet then 5g): "
        "internet is down; 5g is down"
    )
    voice = intent(service_class="voice", bandwidth="15M")  # the 10M private line cannot fit it
    assert uplink(placed(BANK, voice)) == "BR1-mpls-vpn"
    assert uplink(placed(BANK, intent(service_class="voice"))) == "BR1-private-line"


def test_protected_voice_backs_up_over_the_next_tier() -> None:
    p = placed(BANK, intent(service_class="voice", protection="path"))
    assert uplink(p) == "BR1-private-line"
    assert p.backup is not None and p.backup.links[0][2] == "BR1-mpls-vpn"


def test_bigdata_never_rides_metered_5g() -> None:
    bulk = intent(service_class="bigdata")
    only_5g = down(BANK, "BR1-private-line", "BR1-mpls-vpn", "BR1-internet")
    assert "off metered links" in unplaced(only_5g, bulk)
    assert all(not lk.metered for lk in map(only_5g.link, placed(BANK, bulk).primary.links))


def test_weighted_tier_shares_bandwidth_over_weighted_segment_lists() -> None:
    shares = {"prefer": [{"internet": 3, "5g": 1}]}
    shared = intent(service_class="office", bandwidth="40M", uplinks=shares)
    p = placed(BANK, shared)
    assert [(path.links[0][2], w) for path, w in p.shares] == [("BR1-internet", 3), ("BR1-5g", 1)]
    config = compile_network(BANK, [CompileItem(shared, p, 1000)])
    (candidate,) = config["BR1"].sr_policies[0].candidate_paths
    assert [(s.name, s.weight) for s in candidate.segment_lists] == [
        ("x-primary-0", 3),
        ("x-primary-1", 1),
    ]
    # the shares hold 30M and 10M: a 75M intent still fits the 100M 5G uplink beside them
    big = intent(name="y", bandwidth="75M", uplinks={"prefer": ["5g"]})
    both = place(BANK, [to_path_request(i, lambda e, _: str(e.node)) for i in (shared, big)])
    assert set(both.placed) == {"x", "y"}
    again = place(BANK, [to_path_request(i, lambda e, _: str(e.node)) for i in (shared, big)])
    assert again.placed == both.placed
    kept, report = reoptimize(BANK, [to_path_request(shared, lambda e, _: str(e.node))], {"x": p})
    assert kept.placed["x"] is p and report.kept == ("x",)
    assert placement_from_dict(placement_to_dict(p)) == p
    stored = parse_policy({"prefer": [{"5g": 1, "internet": 3}]})  # e.g. keys sorted on disk
    assert stored == parse_policy(shares) == to_path_request(shared, lambda e, _: "").uplinks
    # one share's uplink goes down: the placement is broken and the tier is tried again
    assert uplink(placed(down(BANK, "BR1-5g"), shared)) == "BR1-internet"


SITE = """\
name: two-branches
nodes:
  - {name: DC, role: dc}
  - {name: HUB, role: core}
  - {name: BR1, role: branch, uplinks: {office: {prefer: [5g, internet]}}}
  - {name: BR2, role: branch}
links:
  - {a: DC, b: HUB, capacity: 10G, delay: 1ms}
  - {a: BR1, b: HUB, id: BR1-i, capacity: 100M, delay: 20ms, transport: internet}
  - {a: BR1, b: HUB, id: BR1-5g, capacity: 100M, delay: 30ms, transport: 5g, metered: true}
  - {a: BR2, b: HUB, id: BR2-i, capacity: 100M, delay: 20ms, transport: internet}
  - {a: BR2, b: HUB, id: BR2-5g, capacity: 100M, delay: 30ms, transport: 5g, metered: true}
"""


def site_topology(text: str) -> Topology:
    import yaml

    return from_dict(yaml.safe_load(text), "two-branches.yaml")


def test_site_policy_overrides_the_class_and_the_intent_overrides_the_site() -> None:
    topo = site_topology(SITE)
    office = intent(src="BR1", dst="DC", service_class="office")
    assert uplink(placed(topo, office)) == "BR1-5g"  # the site says 5G first
    back = intent(src="DC", dst="BR1", service_class="office")  # the site's policy at the tail
    assert placed(topo, back).primary.links[-1][2] == "BR1-5g"
    assert uplink(placed(topo, intent(src="BR2", dst="DC"))) == "BR2-i"  # class: internet first
    own = intent(src="BR1", dst="DC", uplinks={"prefer": ["internet"]})
    assert uplink(placed(topo, own)) == "BR1-i"


def test_site_policy_leaving_no_transport_refuses_the_topology() -> None:
    bad = SITE.replace("{prefer: [5g, internet]}", "{prefer: [private-line]}")
    with pytest.raises(TopologyError) as error:
        site_topology(bad)
    assert error.value.problems == [
        "uplink policy for office at site BR1: no allowed transport left (private-line; BR1 "
        "has internet, 5g); allow one of internet, 5g or drop the exclusion"
    ]
    on_hub = SITE.replace("{name: HUB, role: core}", "{name: HUB, role: core, uplinks: {test: {}}}")
    with pytest.raises(TopologyError) as error:
        site_topology(on_hub)
    assert error.value.problems == [
        "node 'HUB': uplinks: policies apply at sites, non-transit routers with uplinks (links "
        "with a transport); move them to the branch or remove them"
    ]
    unknown = SITE.replace("{prefer: [5g, internet]}", "{prefer: [lte]}")
    with pytest.raises(TopologyError) as error:
        site_topology(unknown)
    assert error.value.problems[0].startswith(
        "uplink policy for office at site BR1: unknown transport 'lte' in topology "
        "'two-branches'; use one of"
    )
    void = SITE.replace("{prefer: [5g, internet]}", "{prefer: [{5g: 0, internet: 0}]}")
    with pytest.raises(TopologyError) as error:
        site_topology(void)
    assert error.value.problems == [
        "uplink policy for office at site BR1: prefer[0]: weights sum to 0; give at least one "
        "transport a positive weight, e.g. {internet: 3, 5g: 1}"
    ]


def door(it: Intent, topo: Topology = BANK) -> list[str]:
    return intent_problems(it, topo, PrefixMap({}), lambda _: True)


def test_bad_policies_are_one_line_naming_policy_site_and_fix() -> None:
    assert door(intent(service_class="office")) == []
    assert door(intent(uplinks={"prefer": ["lte"]})) == [
        "uplinks: the intent's office policy at site BR1: unknown transport 'lte' in topology "
        "'bank-wan-4'; use one of 5g, internet, mpls-vpn, private-line"
    ]
    leaves_none = intent(service_class="bigdata", uplinks={"prefer": ["5g"], "metered": False})
    assert door(leaves_none) == [
        "uplinks: the intent's bigdata policy at site BR1: no allowed transport left (5g; never "
        "metered; BR1 has private-line, mpls-vpn, internet, 5g); allow one of private-line, "
        "mpls-vpn, internet, 5g or drop the exclusion"
    ]
    assert door(intent(uplinks={"prefer": ["internet", {"internet": 0, "5g": 0}]})) == [
        "uplinks: the intent's office policy at site BR1: prefer[1]: weights sum to 0; give at "
        "least one transport a positive weight, e.g. {internet: 3, 5g: 1}"
    ]
    hub = intent(src="DC1", dst="DC2", uplinks={"prefer": [{"internet": 0}]})
    assert door(hub) == [  # no site at either end: the policy alone
        "uplinks: the intent's office policy: prefer[0]: weights sum to 0; give at least one "
        "transport a positive weight, e.g. {internet: 3, 5g: 1}"
    ]
    with pytest.raises(PydanticValidationError) as error:
        intent(uplinks={"prefer": [{"internet": -1, "5g": 2}]})
    assert "weight of 'internet' is negative; use 0 or more" in str(error.value)


def test_a_branch_waypoint_is_refused_at_the_door() -> None:
    assert door(intent(waypoints=["BR2"])) == [
        "waypoints[0]: 'BR2' is non-transit (role branch) and carries no other router's "
        "traffic; remove the waypoint or set transit: true on it"
    ]


TRANSPORT = st.sampled_from(["private-line", "mpls-vpn", "internet", "5g"])


@settings(max_examples=60, deadline=None)
@given(
    tiers=st.lists(TRANSPORT, min_size=1, max_size=4, unique=True),
    downs=st.sets(TRANSPORT),
    metered=st.booleans(),
)
def test_the_first_tier_that_is_up_carries_it(
    tiers: list[str], downs: set[str], metered: bool
) -> None:
    """Against the rule itself: the first tier with an up, allowed uplink at the branch."""
    topo = down(BANK, *(f"BR2-{t}" for t in downs))
    it = intent(src="BR2", uplinks={"prefer": tiers, "metered": metered})
    usable = [t for t in tiers if t not in downs and (metered or t != "5g")]
    result = place(topo, [to_path_request(it, lambda e, _: str(e.node))])
    if not usable:
        assert "no uplink tier of the intent policy" in result.unplaced["x"]
        return
    p = result.placed["x"]
    assert (p.tier, uplink(p)) == (usable[0], f"BR2-{usable[0]}")
    assert not any(topo.nodes[n].role == "branch" for n in p.primary.nodes[1:-1])
