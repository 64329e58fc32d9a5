"""Application classification (issue 20, item 3): an intent's traffic matched by protocol, port
and prefix besides DSCP, validated at the door and compiled into the head end's steering rules."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError as PydanticValidationError

from controller.compiler import CompileItem, compile_network
from controller.intents import Intent, to_path_request
from controller.pathing.placement import place
from controller.southbound.serialize import config_from_dict, config_to_dict
from topologies.loader import load

BANK = load("bank-wan:2")


def intent(**fields: Any) -> Intent:
    spec = {"name": "sip", "src": "BR1", "dst": "DC1", "service_class": "voice", **fields}
    return Intent.model_validate(spec)


def rules(it: Intent) -> list[tuple[object, ...]]:
    placement = place(BANK, [to_path_request(it, lambda e, _: str(e.node))]).placed[it.name]
    config = compile_network(BANK, [CompileItem(it, placement, 1000)])
    assert config_from_dict(config_to_dict(config["BR1"])) == config["BR1"]
    return [
        (r.name, r.dscp, r.prefix, r.protocol, r.ports, r.src_prefixes)
        for r in config["BR1"].steering
    ]


def test_protocol_port_and_prefix_become_steering_rules() -> None:
    voice = intent(
        match={
            "protocols": ["udp", "tcp"],
            "ports": [5060, "16384-32767"],
            "src_prefixes": ["10.8.1.7/24"],
            "dst_prefixes": ["10.1.20.0/24"],
        }
    )
    assert voice.match is not None and voice.match.src_prefixes == ("10.8.1.0/24",)
    assert rules(voice) == [
        ("sip#0", None, "10.1.20.0/24", 17, ("5060", "16384-32767"), ("10.8.1.0/24",)),
        ("sip#1", None, "10.1.20.0/24", 6, ("5060", "16384-32767"), ("10.8.1.0/24",)),
    ]
    # no match: the class DSCP, as before; an explicit dscp joins the application match
    assert rules(intent()) == [("sip", 46, None, None, (), ())]
    assert rules(intent(dscp=40, match={"protocols": [50]})) == [("sip", 40, None, 50, (), ())]


def test_ports_bind_the_protocols_that_have_them() -> None:
    web = intent(match={"ports": ["443", "8443-8080"]})  # ports alone: tcp and udp; any order
    assert rules(web) == [
        ("sip#0", None, None, 6, ("443", "8080-8443"), ()),
        ("sip#1", None, None, 17, ("443", "8080-8443"), ()),
    ]
    mixed = intent(match={"protocols": ["icmp", "udp"], "ports": [53]})
    assert rules(mixed) == [
        ("sip#0", None, None, 1, (), ()),
        ("sip#1", None, None, 17, ("53",), ()),
    ]


@pytest.mark.parametrize(
    ("match", "words"),
    [
        ({"protocols": ["quic"]}, "'quic' is not an IP protocol; use icmp, tcp, udp"),
        ({"protocols": [256]}, "256 is not an IP protocol"),
        (
            {"protocols": ["tcp"], "ports": ["0-80"]},
            "'0-80' is not a port or range of ports 1..65535",
        ),
        ({"protocols": ["tcp"], "ports": ["http"]}, "'http' is not a port or range"),
        ({"src_prefixes": ["10.300.0.0/16"]}, "'10.300.0.0/16' is not an IP prefix"),
        ({"ports": [80], "colour": "red"}, "Extra inputs are not permitted"),
    ],
)
def test_bad_classifiers_name_the_field_and_the_fix(match: dict[str, Any], words: str) -> None:
    with pytest.raises(PydanticValidationError) as error:
        intent(match=match)
    assert words in str(error.value)
