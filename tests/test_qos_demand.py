"""QoS that follows demand (issue 20, item 6): per-class shares per interface from the placed
intents (and a forecast p90), within floors and ceilings, compiled into the same network config
as the paths, rendered by the native module and read back equal."""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from controller.compiler import CompileItem, compile_network
from controller.configdiff import config_from_dict, config_to_dict, network_diff
from controller.desired import QosShare
from controller.intentfile import load_intents
from controller.intents import Intent, to_path_request
from controller.pathing.placement import place
from controller.qos import SHARE_RULES
from controller.southbound import render
from controller.southbound.flavors import get as flavor
from controller.southbound.serialize import config_from_dict as doc_to_config
from controller.southbound.serialize import config_to_dict as config_to_doc
from controller.southbound.yang import Schema
from topologies.loader import load

BANK = load("bank-wan:4")
INTENTS = load_intents(
    Path(__file__).resolve().parent.parent / "topologies" / "bank-wan-4.intents.yaml"
)


def compiled(intents: list[Intent], forecast: dict | None = None) -> dict:  # type: ignore[type-arg]
    result = place(BANK, [to_path_request(i, lambda e, _: str(e.node)) for i in intents])
    items = [CompileItem(i, result.placed[i.name], 1000 + k) for k, i in enumerate(intents)]
    return compile_network(BANK, items, forecast)


def shares(config: dict, device: str) -> dict[tuple[str, str], QosShare]:  # type: ignore[type-arg]
    return {s.key: s for s in config[device].shares}


def test_shares_follow_the_placed_demand_within_floors_and_ceilings() -> None:
    config = compiled(INTENTS)
    br1 = shares(config, "BR1")
    office = br1[("BR1-internet", "office")]  # 20M of office on a 100M internet uplink
    assert office.guaranteed_bps == 20e6 and office.policer_bps is None and office.weight == 1000
    voice = br1[("BR1-private-line", "voice")]  # 2M of voice on a 10M private line: policed
    assert voice.guaranteed_bps == 2e6 and voice.policer_bps == 2e6
    shared = shares(config, "BR2")  # 40M shared 3:1 over internet and 5G
    assert shared[("BR2-internet", "office")].guaranteed_bps == 30e6
    assert shared[("BR2-5g", "office")].guaranteed_bps == 10e6
    assert ("BR1-5g", "office") not in br1  # nothing placed there: the class queues alone
    assert config["P3"].shares == ()
    tiny = Intent.model_validate(
        {"name": "t", "src": "BR3", "dst": "DC2", "service_class": "bigdata", "bandwidth": "1k"}
    )
    (floor,) = (s for s in compiled([tiny])["BR3"].shares if s.service_class == "bigdata")
    capacity = BANK.physical_links()[floor.interface][0].capacity_bps
    assert floor.guaranteed_bps == SHARE_RULES["bigdata"].floor * capacity  # the floor


def test_demand_growth_changes_shares_in_the_same_revision_as_paths() -> None:
    before = compiled(INTENTS)
    forecast = {("BR1", "INET-GW", "BR1-internet"): {"office": 200e6}}  # p90 far over the ceiling
    after = compiled(INTENTS, forecast)
    office = shares(after, "BR1")[("BR1-internet", "office")]
    assert office.guaranteed_bps == SHARE_RULES["office"].ceiling * 100e6  # the ceiling
    diff = network_diff(before, after)
    assert diff == {"BR1": {"shares": {"changed": ["BR1-internet/office"]}}}
    edit = render.render_edit(before["BR1"], after["BR1"])
    assert edit is not None and len(edit.findall(f".//{render.q('share')}")) == 1


def test_shares_render_validate_and_read_back_equal_on_the_native_module() -> None:
    config = compiled(INTENTS)["BR1"]
    native = flavor("netpilot")
    xml = native.render(config)
    Schema().validate(etree.tostring(xml.find(render.q("qos"))), "config of BR1")
    assert native.parse("BR1", xml) == native.carried(config)
    assert config_from_dict(config_to_dict(config)) == config
    assert doc_to_config(config_to_doc(config)) == config
    iosxr = flavor("iosxr")  # per-interface policy maps (tests/test_southbound_iosxr_shares.py)
    assert len(iosxr.carried(config).shares) == len(config.shares) and not iosxr.problems(config)
    assert iosxr.parse("BR1", iosxr.render(config)) == iosxr.carried(config)
