"""The iosxr flavour renders QoS that follows demand (issue 20, item 6): per interface with
shares, its own egress policy map (guaranteed rate as `min-bandwidth`, weight as the
`bandwidth-remaining` ratio, a policer; a strict-priority class's share is its policer),
attached as that interface's output service policy; validated by libyang against the IOS-XR
6.6.3 modules, read back equal to what the flavour carries, and edited in place when demand
grows."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from lxml import etree

from controller.compiler import CompileItem, compile_network
from controller.desired import QosShare
from controller.intentfile import load_intents
from controller.intents import to_path_request
from controller.pathing.placement import place
from controller.southbound import vendor_yang
from controller.southbound.flavors import get
from controller.southbound.inventory import DeviceFacts
from topologies.loader import load

BANK = load("bank-wan:4")
INTENTS = load_intents(
    Path(__file__).resolve().parent.parent / "topologies" / "bank-wan-4.intents.yaml"
)
INTERNET = ("BR1", "INET-GW", "BR1-internet")


@pytest.fixture(scope="module", autouse=True)
def vendor_modules() -> None:
    vendor_yang.fetch("iosxr")  # from PyPI on the first run, then from the cache


def compiled(forecast: dict | None = None) -> dict:  # type: ignore[type-arg]
    requests = [to_path_request(i, lambda e, _: str(e.node)) for i in INTENTS]
    result = place(BANK, requests)
    items = [CompileItem(i, result.placed[i.name], 1000 + k) for k, i in enumerate(INTENTS)]
    return compile_network(BANK, items, forecast)


def facts(name: str) -> DeviceFacts:
    return DeviceFacts(
        BANK.nodes[name].locator, tuple(sorted(lk.id for lk in BANK.out_links(name)))
    )


def doc(config: etree._Element) -> bytes:
    return b"".join(etree.tostring(e) for e in config)


def rule(config: etree._Element, pmap: str, cls: str) -> etree._Element:
    found = config.find(f".//{{*}}policy-map[{{*}}name='{pmap}']/"
                        f"{{*}}policy-map-rule[{{*}}class-name='{cls}']")  # fmt: skip
    assert found is not None, f"no rule for {cls} in {pmap}"
    return found


def test_shares_render_per_interface_maps_valid_and_read_back() -> None:
    cfg = compiled()["BR1"]
    f = get("iosxr", facts("BR1"))
    config = f.render(cfg)
    f.schema().validate(doc(config), "iosxr config of BR1")
    carried = f.carried(cfg)
    assert f.parse("BR1", config) == carried
    assert {s.key for s in carried.shares} == {s.key for s in cfg.shares}  # all carried
    office = rule(config, "netpilot-qos-BR1-internet", "netpilot-tc3-office")
    assert office.findtext("{*}min-bandwidth/{*}value") == "20000000"
    assert office.findtext("{*}min-bandwidth/{*}unit") == "bps"
    assert office.findtext("{*}bandwidth-remaining/{*}unit") == "ratio"
    voice = rule(config, "netpilot-qos-BR1-private-line", "netpilot-tc7-voice")
    assert voice.findtext("{*}priority-level") == "1" and voice.find("{*}min-bandwidth") is None
    assert voice.findtext("{*}police/{*}rate/{*}value") == "2000000"
    # a class with no share there keeps the common map's treatment
    video = rule(config, "netpilot-qos-BR1-internet", "netpilot-tc5-video")
    assert video.find("{*}min-bandwidth") is None
    outputs = {
        e.findtext("{*}interface-name"): e.findtext(
            "{*}qos/{*}output/{*}service-policy/{*}service-policy-name"
        )
        for e in config.iterfind(".//{*}interface-configuration")
    }
    shared = {s.interface for s in cfg.shares}
    assert outputs == {
        i: f"netpilot-qos-{i}" if i in shared else "netpilot-qos" for i in facts("BR1").interfaces
    }


def test_demand_growth_edits_the_guaranteed_rate_in_place() -> None:
    before = compiled()["BR1"]
    after = compiled({INTERNET: {"office": 45e6}})["BR1"]
    f = get("iosxr", facts("BR1"))
    edit = f.edit(before, after, full=False)
    assert edit is not None
    text = etree.tostring(edit).decode()
    assert "45000000" in text and "netpilot-qos-BR1-internet" in text
    assert edit.find(".//{*}interface-configuration") is None  # attachments unchanged
    assert f.parse("BR1", f.render(after)) == f.carried(after)


def test_what_the_flavour_cannot_hold_is_dropped_or_refused_in_one_line() -> None:
    cfg = compiled()["BR1"]
    away = dataclasses.replace(cfg, shares=(QosShare("not-a-fact", "office", 1e6),))
    assert get("iosxr", facts("BR1")).carried(away).shares == ()  # no interface to attach to
    limited = tuple(
        dataclasses.replace(q, rate_limit_bps=1e6) if q.priority else q for q in cfg.qos
    )
    (problem,) = get("iosxr", facts("BR1")).problems(dataclasses.replace(cfg, qos=limited))
    assert problem.startswith("QoS class 'voice': a strict-priority class with its own rate")
    big = dataclasses.replace(cfg, shares=(QosShare("BR1-internet", "office", 5e9, 3),))
    config = get("iosxr").render(big)  # no facts: every map is read as in effect
    office = rule(config, "netpilot-qos-BR1-internet", "netpilot-tc3-office")
    assert office.findtext("{*}min-bandwidth/{*}unit") == "kbps"
    assert get("iosxr").parse("BR1", config).shares == (QosShare("BR1-internet", "office", 5e9, 3),)
