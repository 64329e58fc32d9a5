"""Active uplink probes (issue 20, item 4): the simulated branch routers' TWAMP-light-style
windows, brownouts from scenarios, the report over NETCONF (validated by the native YANG
module) and gNMI, and the controller's feed into the SLA decisions."""

from __future__ import annotations

import re

import pytest
from lxml import etree

from controller.avoid import avoided_links
from controller.devicestate import DeviceState, InterfaceState, UplinkProbe
from controller.errors import ValidationError
from controller.intents import Intent
from controller.southbound.state_xml import parse_state, render_state
from controller.southbound.yang import Schema
from controller.uplink_sla import ProbeFeed, apply_moves, summary
from harness.routing import LinkIndex
from harness.scenario import FaultPlan, parse_scenario
from harness.uplink_probes import UplinkProber
from telemetry.gnmi_model import DeviceAssembler, encode_containers, encode_leaves
from topologies.loader import load

INDEX = LinkIndex(load("bank-wan:4"))
BROWNOUT = {
    "kind": "brownout",
    "link": "BR1-internet",
    "loss": 0.08,
    "delay": "20ms",
    "jitter": "5ms",
    "at": "10s",
    "until": "30s",
}


def prober(*events: dict[str, object]) -> UplinkProber:
    return UplinkProber(INDEX, FaultPlan(parse_scenario({"events": list(events)}), INDEX))


def window(p: UplinkProber, link: str, t: float) -> UplinkProbe:
    device = link.split("-", maxsplit=1)[0]
    return [w for w in p.at(device, t) if w.link == link][-1]


def test_only_branch_routers_probe_their_uplinks_and_report_the_last_windows() -> None:
    p = prober()
    assert sorted(p.uplinks) == ["BR1", "BR2", "BR3", "BR4"]
    assert p.at("DC1", 100.0) == () and p.at("BR1", 1.0) == ()
    windows = p.at("BR1", 9.0)  # windows end at 2, 4, 6, 8 s: the last four of each uplink
    assert {w.link for w in windows} == {
        "BR1-private-line",
        "BR1-mpls-vpn",
        "BR1-internet",
        "BR1-5g",
    }
    assert sorted({w.seq for w in windows}) == [0, 1, 2, 3]
    healthy = window(p, "BR1-internet", 9.0)
    assert healthy.loss == 0.0 and healthy.sent == 100
    assert healthy.delay_s == pytest.approx(0.0257, abs=0.001)  # the link's delay
    assert healthy.jitter_s < 0.001
    assert p.at("BR1", 9.0) == prober().at("BR1", 9.0)  # a function of the window, not the read


def test_a_brownout_shows_in_the_probes_while_the_link_stays_up() -> None:
    p = prober(BROWNOUT)
    bad = window(p, "BR1-internet", 20.0)
    assert 0.03 <= bad.loss <= 0.15
    assert bad.delay_s == pytest.approx(0.0257 + 0.020 + 0.005, abs=0.003)
    assert bad.jitter_s == pytest.approx(0.005, rel=0.4)
    assert window(p, "BR1-5g", 20.0).loss == 0.0  # the other uplinks are fine
    assert window(p, "BR1-internet", 40.0).loss == 0.0  # over at 30 s
    down = prober({"kind": "link_down", "link": "BR1-5g", "at": "0s"})
    assert window(down, "BR1-5g", 20.0).loss == 1.0


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"loss": 0, "delay": 0, "jitter": 0}, "a brownout needs loss, delay or jitter"),
        ({"loss": 1.5}, "events[0].loss: Input should be less than or equal to 1"),
        ({"until": "5s"}, "until (5s) must come after at (10s)"),
    ],
)
def test_bad_brownouts_are_refused_naming_the_field(change: dict[str, object], words: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(words)):
        parse_scenario({"events": [{**BROWNOUT, **change}]})


def test_probes_travel_as_netconf_state_valid_against_the_module_and_over_gnmi() -> None:
    probes = prober(BROWNOUT).at("BR1", 20.0)
    interfaces = tuple(InterfaceState(link) for link in sorted({w.link for w in probes}))
    state = DeviceState("BR1", 20.0, interfaces=interfaces, probes=probes)
    element = render_state(state)
    Schema().validate(etree.tostring(element), "device-state of BR1", state=True)
    assert parse_state("BR1", element).probes == probes
    newest = tuple(sorted((w for w in probes if w.seq == 9), key=lambda w: w.link))
    for encoded in (encode_containers(state), encode_leaves(state)):
        assembler = DeviceAssembler("BR1")
        for elems, value in encoded:
            assembler.apply(elems, value)
        assert assembler.state().probes == newest  # gNMI keeps the newest window per uplink


def test_the_feed_takes_each_window_once_and_moves_after_three_bad_ones() -> None:
    p, feed = prober(BROWNOUT), ProbeFeed()
    moves = []
    for t in range(2, 20, 2):  # a poll every probe interval, each report holding four windows
        moves += feed.ingest([DeviceState("BR1", t, probes=p.at("BR1", t))])
    assert feed.probes == 4 * 9  # four uplinks, windows 0..8, each once
    office = [m for m in moves if m.service_class == "office"]
    assert [(m.link, m.kind, m.at) for m in office] == [("BR1-internet", "off", 16.0)]
    assert office[0].cause.startswith("SLA: BR1-internet loss ")
    assert "for 3 probes in a row (delay " in office[0].cause
    avoid: dict[str, object] = {}
    assert "office" in apply_moves(avoid, moves, 16.0)  # type: ignore[arg-type]
    office_intent = Intent.model_validate(
        {"name": "o", "src": "BR1", "dst": "DC1", "service_class": "office"}
    )
    assert avoided_links(avoid, office_intent) == {"BR1-internet"}  # type: ignore[arg-type]
    text = summary(moves)
    assert text.startswith("SLA: BR1-internet: voice, production, video, office, bigdata off (loss")
