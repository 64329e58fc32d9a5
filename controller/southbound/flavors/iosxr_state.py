"""Operational state of the iosxr flavour: `Cisco-IOS-XR-ifmgr-oper` (interface state and
bandwidth, kbps) and `Cisco-IOS-XR-infra-statsd-oper` (`latest/generic-counters`)."""

from __future__ import annotations

from typing import Any

from controller.devicestate import DeviceState, InterfaceState
from controller.southbound.flavors.base import Element, element, subtree_filter, text_of

XR = "http://cisco.com/ns/yang/"
IFMGR = f"{XR}Cisco-IOS-XR-ifmgr-oper"
STATSD = f"{XR}Cisco-IOS-XR-infra-statsd-oper"
MODULES = ("Cisco-IOS-XR-ifmgr-oper", "Cisco-IOS-XR-infra-statsd-oper")
NODE = "0/RP0/CPU0"
COUNTERS = {  # DeviceState attribute -> statsd generic counter
    "in_octets": "bytes-received", "out_octets": "bytes-sent",
    "in_packets": "packets-received", "out_packets": "packets-sent",
    "in_errors": "input-errors", "out_errors": "output-errors",
    "in_discards": "input-drops", "out_discards": "output-drops", "crc_errors": "crc-errors",
}  # fmt: skip
U32 = {"input-errors", "output-errors", "input-drops", "output-drops", "crc-errors"}


def state_filter() -> Element:
    return subtree_filter((IFMGR, "interface-properties"), (STATSD, "infra-statistics"))


def render_state(state: DeviceState) -> list[Element]:
    props = element(IFMGR, "interface-properties")
    node = element(IFMGR, "data-node", element(IFMGR, "data-nodes", props))
    element(IFMGR, "data-node-name", node, NODE)
    view = element(IFMGR, "interfaces", element(IFMGR, "system-view", node))
    stats = element(STATSD, "infra-statistics")
    counters_root = element(STATSD, "interfaces", stats)
    for i in state.interfaces:
        el = element(IFMGR, "interface", view)
        element(IFMGR, "interface-name", el, i.name)
        element(IFMGR, "state", el, "im-state-up" if i.oper_up else "im-state-down")
        element(IFMGR, "bandwidth", el, min(round(i.speed_bps / 1000), 2**32 - 1))
        ci = element(STATSD, "interface", counters_root)
        element(STATSD, "interface-name", ci, i.name)
        generic = element(STATSD, "generic-counters", element(STATSD, "latest", ci))
        for attr, tag in COUNTERS.items():
            element(STATSD, tag, generic, getattr(i, attr) % (2**32 if tag in U32 else 2**64))
    return [props, stats]


def parse_interfaces(root: Element) -> tuple[InterfaceState, ...]:
    counters: dict[str, dict[str, Any]] = {}
    for ci in root.iterfind(f".//{{{STATSD}}}interfaces/{{{STATSD}}}interface"):
        generic = ci.find(f"{{{STATSD}}}latest/{{{STATSD}}}generic-counters")
        counters[text_of(ci, "interface-name", ns=STATSD) or ""] = {
            attr: int(text_of(generic, tag, ns=STATSD) or 0) for attr, tag in COUNTERS.items()
        }
    out = []
    view = f".//{{{IFMGR}}}system-view/{{{IFMGR}}}interfaces/{{{IFMGR}}}interface"
    for el in root.iterfind(view):
        name = text_of(el, "interface-name", ns=IFMGR) or ""
        out.append(
            InterfaceState(
                name,
                oper_up=text_of(el, "state", ns=IFMGR) == "im-state-up",
                speed_bps=float(int(text_of(el, "bandwidth", ns=IFMGR) or 0) * 1000),
                **counters.get(name, {}),
            )
        )
    return tuple(out)
