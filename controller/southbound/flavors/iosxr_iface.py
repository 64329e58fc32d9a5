"""The iosxr flavour's per-router part, from the router's facts (inventory `locator`,
`interfaces`): its SRv6 locator and the attachment of netpilot's policy maps to interfaces.

- SRv6 locator: `Cisco-IOS-XR-segment-routing-srv6-cfg` (an augment of
  `segment-routing-ms-cfg:sr`): `srv6/enable` and `srv6/locators/locators/locator[netpilot]`
  with the router's locator prefix (netpilot's addressing: `fcbb:bb00:<i>::/48`).
- Attachments, on every interface the facts name (`Cisco-IOS-XR-ifmgr-cfg`
  `interface-configurations/interface-configuration[act, name]`): `Cisco-IOS-XR-qos-ma-cfg`
  `qos/input/service-policy[netpilot-qos-in]` and `qos/output/service-policy[netpilot-qos]`
  (when there is QoS; `netpilot-qos-<interface>` on an interface with shares: iosxr_shares.py),
  `Cisco-IOS-XR-pbr-cfg` `pbr/service-policy-in` = `netpilot-steer` (when there is steering).
An interface entry is never replaced whole (it holds the operator's addressing): edits enter it
and replace only its `qos` and `pbr` containers, which netpilot owns on those interfaces.
"""

from __future__ import annotations

import copy
from collections.abc import Collection

from lxml import etree

from controller.southbound.flavors import iosxr_pm as pm
from controller.southbound.flavors import iosxr_shares as shares
from controller.southbound.flavors.base import OPERATION, Element, element, text_of
from controller.southbound.inventory import DeviceFacts

XR = "http://cisco.com/ns/yang/"
SRV6 = f"{XR}Cisco-IOS-XR-segment-routing-srv6-cfg"
IFCFG = f"{XR}Cisco-IOS-XR-ifmgr-cfg"
QOS = f"{XR}Cisco-IOS-XR-qos-ma-cfg"
PBR = f"{XR}Cisco-IOS-XR-pbr-cfg"
LOCATOR = "netpilot"
MODULES = (
    "Cisco-IOS-XR-ifmgr-cfg",
    "Cisco-IOS-XR-qos-ma-cfg",
    "Cisco-IOS-XR-pbr-cfg",
    "Cisco-IOS-XR-segment-routing-srv6-cfg",
)


def render_locator(sr: Element, facts: DeviceFacts) -> None:
    if facts.locator is None:
        return
    address, length = facts.locator.split("/")
    srv6 = element(SRV6, "srv6", sr)
    element(SRV6, "enable", srv6)
    loc = element(SRV6, "locator", element(SRV6, "locators", element(SRV6, "locators", srv6)))
    element(SRV6, "name", loc, LOCATOR)
    prefix = element(SRV6, "prefix", loc)
    element(SRV6, "prefix", prefix, address)
    element(SRV6, "prefix-length", prefix, length)
    element(SRV6, "locator-enable", loc)


def reassert_locator(edit: Element, sr_name: str, facts: DeviceFacts) -> None:
    """Add the locator (a merge) to an `edit` that lacks it: every push that changes anything
    re-asserts it, since a read-back's DeviceConfig cannot say whether the device has it."""
    if facts.locator is None or edit.find(f".//{{{SRV6}}}srv6") is not None:
        return
    sr = edit.find(sr_name)
    if sr is None:
        ns, _, tag = sr_name[1:].partition("}")
        sr = element(ns, tag, edit)
    render_locator(sr, facts)


def replace_locator(edit: Element, sr_name: str, facts: DeviceFacts) -> None:
    """For a full replace: netpilot's locator entry replaced (or removed when the config is
    empty); the operator's other locators stay."""
    if facts.locator is None:
        return
    loc = edit.find(f".//{{{SRV6}}}locator")
    if loc is None:
        sr = edit.find(sr_name)
        if sr is None:
            ns, _, tag = sr_name[1:].partition("}")
            sr = element(ns, tag, edit)
        srv6 = element(SRV6, "srv6", sr)
        loc = element(SRV6, "locator", element(SRV6, "locators", element(SRV6, "locators", srv6)))
        element(SRV6, "name", loc, LOCATOR)
        loc.set(OPERATION, "remove")
    else:
        loc.set(OPERATION, "replace")


def read_locator(root: Element) -> str | None:
    """The prefix of netpilot's locator on the device (None when it has none)."""
    for loc in root.iterfind(f".//{{{SRV6}}}locators/{{{SRV6}}}locators/{{{SRV6}}}locator"):
        if text_of(loc, "name", ns=SRV6) == LOCATOR:
            prefix = loc.find(f"{{{SRV6}}}prefix")
            address, length = (
                text_of(prefix, "prefix", ns=SRV6),
                text_of(prefix, "prefix-length", ns=SRV6),
            )
            return f"{address}/{length}"  # fmt: skip
    return None


def render_attachments(
    config: Element,
    facts: DeviceFacts,
    qos: bool,
    steering: bool,
    shared: Collection[str] = (),
) -> None:
    """One interface entry per fact interface with netpilot's attachments (none: no entry);
    an interface in `shared` gets its own egress map (its shares)."""
    if not facts.interfaces or not (qos or steering):
        return
    top = element(IFCFG, "interface-configurations", config)
    for name in facts.interfaces:
        entry = element(IFCFG, "interface-configuration", top)
        element(IFCFG, "active", entry, "act")
        element(IFCFG, "interface-name", entry, name)
        if qos:
            q = element(QOS, "qos", entry)
            out = shares.policy_name(name) if name in shared else pm.QOS_OUT
            for direction, policy in (("input", pm.QOS_IN), ("output", out)):
                sp = element(QOS, "service-policy", element(QOS, direction, q))
                element(QOS, "service-policy-name", sp, policy)
        if steering:
            element(PBR, "service-policy-in", element(PBR, "pbr", entry), pm.STEER_MAP)


def in_effect(root: Element, facts: DeviceFacts) -> tuple[bool, bool]:
    """(QoS attached, steering attached) on every fact interface (vacuously true without)."""
    seen = {}
    path = f".//{{{IFCFG}}}interface-configurations/{{{IFCFG}}}interface-configuration"
    for entry in root.iterfind(path):
        seen[text_of(entry, "interface-name", ns=IFCFG)] = entry
    qos = steering = True
    for name in facts.interfaces:
        entry = seen.get(name)
        inputs, outputs = _policies(entry, "input"), _policies(entry, "output")
        out = outputs & {pm.QOS_OUT, shares.policy_name(name)}
        qos = qos and pm.QOS_IN in inputs and bool(out)
        steering = steering and text_of(entry, "pbr", "service-policy-in", ns=PBR) == pm.STEER_MAP
    return qos, steering


def shared_interfaces(root: Element, facts: DeviceFacts) -> set[str] | None:
    """The fact interfaces whose output policy is their own map (their shares are in effect);
    None without facts (every map is read as in effect)."""
    if not facts.interfaces:
        return None
    path = f".//{{{IFCFG}}}interface-configurations/{{{IFCFG}}}interface-configuration"
    out = set()
    for entry in root.iterfind(path):
        name = text_of(entry, "interface-name", ns=IFCFG) or ""
        if name in facts.interfaces and shares.policy_name(name) in _policies(entry, "output"):
            out.add(name)
    return out


def _policies(entry: Element | None, direction: str) -> set[str]:
    if entry is None:
        return set()
    path = f"{{{QOS}}}qos/{{{QOS}}}{direction}/{{{QOS}}}service-policy"
    return {text_of(sp, "service-policy-name", ns=QOS) or "" for sp in entry.iterfind(path)}


def take(config: Element) -> Element | None:
    """Detach and return `interface-configurations` from a rendered config (None: absent)."""
    top = config.find(f"{{{IFCFG}}}interface-configurations")
    if top is not None:
        config.remove(top)
    return top


def edit(
    old: Element | None, new: Element | None, facts: DeviceFacts, full: bool
) -> Element | None:
    """`interface-configurations` entering each fact interface whose attachments change (all of
    them when `full`) and replacing its `qos` and `pbr` containers; None when nothing changes."""
    before, after = _entries(old), _entries(new)
    top = etree.Element(f"{{{IFCFG}}}interface-configurations", nsmap={None: IFCFG})
    for name in facts.interfaces:
        want, had = after.get(name), before.get(name)
        if not full and _same(want, had):
            continue
        entry = element(IFCFG, "interface-configuration", top)
        element(IFCFG, "active", entry, "act")
        element(IFCFG, "interface-name", entry, name)
        for ns, tag in ((QOS, "qos"), (PBR, "pbr")):
            part = None if want is None else want.find(f"{{{ns}}}{tag}")
            part = copy.deepcopy(part) if part is not None else element(ns, tag, entry)
            if part.getparent() is None:
                entry.append(part)
            part.set(OPERATION, "replace")
    return top if len(top) else None


def _entries(top: Element | None) -> dict[str, Element]:
    if top is None:
        return {}
    return {text_of(e, "interface-name", ns=IFCFG) or "": e for e in top}


def _same(a: Element | None, b: Element | None) -> bool:
    return _text(a) == _text(b)


def _text(el: Element | None) -> bytes:
    return b"" if el is None else bytes(etree.tostring(el))


def config_filter_part() -> Element:
    """The subtree filter node selecting each interface's keys and netpilot's attachments."""
    top = etree.Element(f"{{{IFCFG}}}interface-configurations", nsmap={None: IFCFG})
    entry = element(IFCFG, "interface-configuration", top)
    element(IFCFG, "active", entry)
    element(IFCFG, "interface-name", entry)
    element(QOS, "qos", entry)
    element(PBR, "pbr", entry)
    return top
