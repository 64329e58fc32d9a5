"""Shares of a weighted uplink tier meeting on a common core link are summed at placement
(issue 20): no link ends up holding more than its capacity because two shares each fit alone."""

from __future__ import annotations

import yaml

from controller.intents import Intent, to_path_request
from controller.pathing.placement import place
from controller.topology import Topology
from topologies.native import from_dict

CORE = """\
name: shared-core
nodes:
  - {name: DC, role: dc}
  - {name: HUB, role: core}
  - {name: P2, role: core}
  - {name: BR1, role: branch}
links:
  - {a: HUB, b: DC, id: HUB-DC, capacity: 50M, delay: 1ms, igp_metric: 1, te_metric: 1}
  - {a: HUB, b: P2, id: HUB-P2, capacity: 1G, delay: 5ms}
  - {a: P2, b: DC, id: P2-DC, capacity: 1G, delay: 5ms}
  - {a: BR1, b: HUB, id: BR1-i, capacity: 100M, delay: 20ms, transport: internet}
  - {a: BR1, b: HUB, id: BR1-5g, capacity: 100M, delay: 30ms, transport: 5g}
"""


def topology(text: str) -> Topology:
    return from_dict(yaml.safe_load(text), "shared-core.yaml")


def shared_office(bandwidth: str) -> Intent:
    return Intent.model_validate(
        {
            "name": "x",
            "src": "BR1",
            "dst": "DC",
            "service_class": "office",
            "bandwidth": bandwidth,
            "uplinks": {"prefer": [{"internet": 1, "5g": 1}]},
        }
    )


def link_load(topo: Topology, it: Intent) -> tuple[dict[str, float], dict[str, str]]:
    result = place(topo, [to_path_request(it, lambda e, _: str(e.node))])
    load: dict[str, float] = {}
    placement = result.placed.get(it.name)
    if placement is not None:
        total = sum(w for _, w in placement.shares)
        for path, weight in placement.shares:
            for _src, _dst, link in path.links:
                load[link] = load.get(link, 0.0) + it.bandwidth * weight / total
    return load, result.unplaced


def test_two_shares_that_fit_alone_do_not_overfill_their_common_core_link() -> None:
    topo = topology(CORE)
    load, unplaced = link_load(topo, shared_office("60M"))  # 30M + 30M; HUB-DC holds 50M
    assert not unplaced
    assert load["BR1-i"] == load["BR1-5g"] == 30e6
    assert load["HUB-DC"] == 30e6 and load["P2-DC"] == 30e6  # the second share goes round
    capacity = {lk.id: lk.capacity_bps for lk in topo.links}
    assert all(load[link] <= capacity[link] for link in load)


def test_shares_fitting_together_stay_on_the_short_core_link() -> None:
    load, unplaced = link_load(topology(CORE), shared_office("40M"))
    assert not unplaced and load["HUB-DC"] == 40e6 and "P2-DC" not in load


def test_no_room_for_the_sum_means_the_tier_does_not_fit() -> None:
    narrow = CORE.replace(
        "capacity: 1G, delay: 5ms}\n  - {a: P2", "capacity: 10M, delay: 5ms}\n  - {a: P2"
    )
    load, unplaced = link_load(topology(narrow), shared_office("60M"))
    assert not load
    assert "no uplink tier of the intent policy for office fits at BR1" in unplaced["x"]
