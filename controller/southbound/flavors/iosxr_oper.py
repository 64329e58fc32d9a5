"""LLDP neighbours and SR policy oper state of the iosxr flavour (IOS-XR 6.6.3 oper models).

- LLDP: `Cisco-IOS-XR-ethernet-lldp-oper` `lldp/nodes/node[node-name]/neighbors/devices/device`
  with `interface-name` (the local interface), `device-id` (the neighbour's system name) and
  `lldp-neighbor/port-id-detail` (the neighbour's port);
- SR policies: `Cisco-IOS-XR-infra-xtc-agent-oper` `xtc/policies/policy[id]` with `color`,
  `destination-address/{af-name, ipv4|ipv6}`, `operational-up` and `candidate-path` entries
  (`name`, `preference`, `is-active`): the active one's name is the active candidate path.
"""

from __future__ import annotations

from controller.devicestate import DeviceState, Neighbor, PolicyState
from controller.southbound.flavors.base import Element, element, text_of

XR = "http://cisco.com/ns/yang/"
LLDP = f"{XR}Cisco-IOS-XR-ethernet-lldp-oper"
XTC = f"{XR}Cisco-IOS-XR-infra-xtc-agent-oper"
MODULES = ("Cisco-IOS-XR-ethernet-lldp-oper", "Cisco-IOS-XR-infra-xtc-agent-oper")
TOPS = ((LLDP, "lldp"), (XTC, "xtc"))
NODE = "0/RP0/CPU0"


def render(state: DeviceState) -> list[Element]:
    lldp = element(LLDP, "lldp")
    node = element(LLDP, "node", element(LLDP, "nodes", lldp))
    element(LLDP, "node-name", node, NODE)
    devices = element(LLDP, "devices", element(LLDP, "neighbors", node))
    for n in state.neighbors:
        dev = element(LLDP, "device", devices)
        element(LLDP, "device-id", dev, n.system)
        element(LLDP, "interface-name", dev, n.interface)
        entry = element(LLDP, "lldp-neighbor", dev)
        element(LLDP, "receiving-interface-name", entry, n.interface)
        element(LLDP, "device-id", entry, n.system)
        element(LLDP, "port-id-detail", entry, n.port)
    xtc = element(XTC, "xtc")
    policies = element(XTC, "policies", xtc)
    for index, p in enumerate(state.sr_policies, start=1):
        el = element(XTC, "policy", policies)
        element(XTC, "id", el, index)
        dest = element(XTC, "destination-address", el)
        family = "ipv6" if ":" in p.endpoint else "ipv4"
        element(XTC, "af-name", dest, family)
        element(XTC, family, dest, p.endpoint)
        element(XTC, "administrative-up", el, 1)
        element(XTC, "operational-up", el, int(p.up))
        element(XTC, "color", el, p.color)
        if p.active_candidate_path is not None:
            cp = element(XTC, "candidate-path", el)
            element(XTC, "name", cp, p.active_candidate_path)
            element(XTC, "is-active", cp, "true")
    return [lldp, xtc]


def parse_neighbors(root: Element) -> tuple[Neighbor, ...]:
    out = []
    tags = ("nodes", "node", "neighbors", "devices", "device")
    path = ".//" + "/".join(f"{{{LLDP}}}{tag}" for tag in tags)
    for dev in root.iterfind(path):
        entry = dev.find(f"{{{LLDP}}}lldp-neighbor")
        interface = text_of(dev, "interface-name", ns=LLDP) or text_of(
            entry, "receiving-interface-name", ns=LLDP
        )
        system = text_of(dev, "device-id", ns=LLDP) or text_of(entry, "device-id", ns=LLDP)
        port = text_of(entry, "port-id-detail", ns=LLDP)
        if interface and system:
            out.append(Neighbor(interface, system, port or ""))
    return tuple(sorted(out, key=lambda n: (n.interface, n.system)))


def parse_policies(root: Element) -> tuple[PolicyState, ...]:
    out = []
    for el in root.iterfind(f".//{{{XTC}}}xtc/{{{XTC}}}policies/{{{XTC}}}policy"):
        dest = el.find(f"{{{XTC}}}destination-address")
        family = text_of(dest, "af-name", ns=XTC) or "ipv6"
        active = next(
            (
                text_of(cp, "name", ns=XTC)
                for cp in el.iterfind(f"{{{XTC}}}candidate-path")
                if text_of(cp, "is-active", ns=XTC) == "true"
            ),
            None,
        )
        out.append(
            PolicyState(
                color=int(text_of(el, "color", ns=XTC) or 0),
                endpoint=text_of(dest, family, ns=XTC) or "",
                up=text_of(el, "operational-up", ns=XTC) not in (None, "0"),
                active_candidate_path=active,
            )
        )
    return tuple(out)
