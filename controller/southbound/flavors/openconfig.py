"""The openconfig flavour: OpenConfig models for state, netpilot's module for what they lack.

As operators run OpenConfig devices (and vendors fill its gaps with native augments), it is a
hybrid: interfaces, oper status and counters come from `openconfig-interfaces`, optics
(receive power, laser bias) from `openconfig-platform-transceiver` (one transceiver component
per interface, named after it); OpenConfig 0.1.9 has no SR-TE policy, no QoS and no
policy-forwarding model, so SR policies, steering rules and QoS classes stay in netpilot's
module (`netpilot-srv6-te`), as does what OpenConfig state lacks (timestamp, boot id, link
delay, per-queue counters, SR policy oper status). docs/southbound-flavors.md has the gap table.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from lxml import etree

from controller.devicestate import DeviceState, InterfaceState, Neighbor
from controller.southbound import state_xml
from controller.southbound.flavors.base import (
    Element,
    LazySchema,
    element,
    schema_capabilities,
    subtree_filter,
    text_of,
)
from controller.southbound.flavors.netpilot import Netpilot
from controller.southbound.vendor_yang import modules_dir
from controller.southbound.yang import MODULE, NS, YANG_DIR, Schema
from controller.southbound.yang import ietf_modules_dir as ietf

OC_IF = "http://openconfig.net/yang/interfaces"
OC_LLDP = "http://openconfig.net/yang/lldp"
OC_PLATFORM = "http://openconfig.net/yang/platform"
OC_XCVR = "http://openconfig.net/yang/platform/transceiver"
PT = "http://openconfig.net/yang/platform-types"
IANA_IF = "urn:ietf:params:xml:ns:yang:iana-if-type"
MODULES = (
    MODULE,
    "iana-if-type",
    "openconfig-interfaces",
    "openconfig-platform",
    "openconfig-platform-types",
    "openconfig-platform-transceiver",
    "openconfig-lldp",
)
COUNTERS = {  # DeviceState attribute -> openconfig-interfaces counter
    "in_octets": "in-octets", "out_octets": "out-octets",
    "in_packets": "in-unicast-pkts", "out_packets": "out-unicast-pkts",
    "in_errors": "in-errors", "out_errors": "out-errors",
    "in_discards": "in-discards", "out_discards": "out-discards",
}  # fmt: skip


def _schema() -> Schema:
    search = f"{YANG_DIR}:{modules_dir('openconfig')}:{ietf()}"
    return Schema(search, MODULES, "modules of the openconfig flavour")


class OpenConfig(Netpilot):
    """Config as the netpilot flavour has it (render, parse, edits: OpenConfig 0.1.9 has no
    SR-TE policy, QoS or steering model); state, capabilities and modules its own."""

    name = "openconfig"

    def __init__(self) -> None:
        self._schema = LazySchema(_schema)

    def capabilities(self) -> list[str]:
        return schema_capabilities(self.schema())

    # state: OpenConfig where it has a model, netpilot's device-state for the rest
    def state_filter(self) -> Element:
        return subtree_filter(
            (OC_IF, "interfaces"), (OC_PLATFORM, "components"), (OC_LLDP, "lldp"),
            (NS, "device-state"),
        )  # fmt: skip

    def render_state(self, state: DeviceState) -> list[Element]:
        interfaces = element(OC_IF, "interfaces")
        components = element(OC_PLATFORM, "components")
        for i in state.interfaces:
            _oc_interface(interfaces, i)
            if i.rx_power_dbm is not None or i.tx_bias_ma is not None:
                _transceiver(components, i)
        rest = dataclasses.replace(
            state,
            interfaces=tuple(
                InterfaceState(i.name, i.oper_up, i.speed_bps, delay_s=i.delay_s, queues=i.queues)
                for i in state.interfaces
            ),
        )
        native = state_xml.render_state(rest)
        for el in native.iterfind(f"{{{NS}}}interface"):  # oper status and counters: OpenConfig
            for tag in ("oper-status", "counters"):
                found = el.find(f"{{{NS}}}{tag}")
                if found is not None:
                    el.remove(found)
        return [interfaces, components, _lldp(state), native]

    def parse_state(self, device: str, root: Element) -> DeviceState:
        native = state_xml.parse_state(device, root)
        optics = _optics(root)
        by_name = {i.name: i for i in native.interfaces}
        interfaces = []
        for el in root.iterfind(f".//{{{OC_IF}}}interfaces/{{{OC_IF}}}interface"):
            name = text_of(el, "name", ns=OC_IF) or ""
            base = by_name.pop(name, InterfaceState(name))
            counters = el.find(f"{{{OC_IF}}}state/{{{OC_IF}}}counters")
            values: dict[str, Any] = {
                a: int(text_of(counters, t, ns=OC_IF) or 0) for a, t in COUNTERS.items()
            }
            rx, bias = optics.get(name, (None, None))
            interfaces.append(
                dataclasses.replace(
                    base,
                    oper_up=text_of(el, "state", "oper-status", ns=OC_IF) == "UP",
                    rx_power_dbm=rx,
                    tx_bias_ma=bias,
                    **values,
                )
            )
        interfaces += by_name.values()
        neighbors = _neighbors(root)
        return dataclasses.replace(native, interfaces=tuple(interfaces), neighbors=neighbors)


def _oc_interface(parent: Element, i: InterfaceState) -> None:
    el = element(OC_IF, "interface", parent)
    element(OC_IF, "name", el, i.name)
    config = element(OC_IF, "config", el)
    element(OC_IF, "name", config, i.name)
    _iftype(config)
    state = element(OC_IF, "state", el)
    _iftype(state)
    element(OC_IF, "admin-status", state, "UP")
    element(OC_IF, "oper-status", state, "UP" if i.oper_up else "DOWN")
    counters = element(OC_IF, "counters", state)
    for attr, tag in COUNTERS.items():
        element(OC_IF, tag, counters, getattr(i, attr) % 2**64)


def _iftype(parent: Element) -> None:
    """`type` is an identityref: its prefix is declared on the element itself."""
    kind = etree.SubElement(parent, f"{{{OC_IF}}}type", nsmap={"ianaift": IANA_IF})
    kind.text = "ianaift:ethernetCsmacd"


def _transceiver(parent: Element, i: InterfaceState) -> None:
    comp = element(OC_PLATFORM, "component", parent)
    element(OC_PLATFORM, "name", comp, i.name)
    element(OC_PLATFORM, "name", element(OC_PLATFORM, "config", comp), i.name)
    kind = etree.SubElement(
        element(OC_PLATFORM, "state", comp), f"{{{OC_PLATFORM}}}type", nsmap={"oc-pt": PT}
    )
    kind.text = "oc-pt:TRANSCEIVER"
    state = element(OC_XCVR, "state", element(OC_XCVR, "transceiver", comp))
    if i.rx_power_dbm is not None:
        element(OC_XCVR, "instant", element(OC_XCVR, "input-power", state), f"{i.rx_power_dbm:.2f}")
    if i.tx_bias_ma is not None:
        bias = element(OC_XCVR, "laser-bias-current", state)
        element(OC_XCVR, "instant", bias, f"{i.tx_bias_ma:.2f}")


def _lldp(state: DeviceState) -> Element:
    """`openconfig-lldp` `lldp/interfaces/interface[name]/neighbors/neighbor[id]/state/
    {system-name, port-id}` (the neighbour's id is its system name)."""
    lldp = element(OC_LLDP, "lldp")
    interfaces = element(OC_LLDP, "interfaces", lldp)
    by_interface: dict[str, Element] = {}
    for n in state.neighbors:
        neighbors = by_interface.get(n.interface)
        if neighbors is None:
            el = element(OC_LLDP, "interface", interfaces)
            element(OC_LLDP, "name", el, n.interface)
            element(OC_LLDP, "name", element(OC_LLDP, "config", el), n.interface)
            neighbors = by_interface[n.interface] = element(OC_LLDP, "neighbors", el)
        neighbor = element(OC_LLDP, "neighbor", neighbors)
        element(OC_LLDP, "id", neighbor, n.system)
        st = element(OC_LLDP, "state", neighbor)
        element(OC_LLDP, "id", st, n.system)
        element(OC_LLDP, "system-name", st, n.system)
        element(OC_LLDP, "port-id", st, n.port)
    return lldp


def _neighbors(root: Element) -> tuple[Neighbor, ...]:
    out = []
    for el in root.iterfind(f".//{{{OC_LLDP}}}lldp/{{{OC_LLDP}}}interfaces/{{{OC_LLDP}}}interface"):
        name = text_of(el, "name", ns=OC_LLDP) or ""
        for n in el.iterfind(f"{{{OC_LLDP}}}neighbors/{{{OC_LLDP}}}neighbor/{{{OC_LLDP}}}state"):
            system = text_of(n, "system-name", ns=OC_LLDP) or text_of(n, "id", ns=OC_LLDP) or ""
            out.append(Neighbor(name, system, text_of(n, "port-id", ns=OC_LLDP) or ""))
    return tuple(sorted(out, key=lambda n: (n.interface, n.system)))


def _optics(root: Element) -> dict[str, tuple[float | None, float | None]]:
    out = {}
    for comp in root.iterfind(f".//{{{OC_PLATFORM}}}components/{{{OC_PLATFORM}}}component"):
        state = comp.find(f"{{{OC_XCVR}}}transceiver/{{{OC_XCVR}}}state")
        rx = text_of(state, "input-power", "instant", ns=OC_XCVR)
        bias = text_of(state, "laser-bias-current", "instant", ns=OC_XCVR)
        name = text_of(comp, "name", ns=OC_PLATFORM) or ""
        out[name] = (None if rx is None else float(rx), None if bias is None else float(bias))
    return out
