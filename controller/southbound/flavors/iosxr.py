"""The iosxr flavour: Cisco IOS-XR 6.6.3 native models (fetched by vendor_yang, never copied).

Config:
- SR policies: `Cisco-IOS-XR-infra-xtc-agent-cfg` (an augment of `segment-routing-ms-cfg:sr`):
  `traffic-engineering/policies/policy[policy-name]` with `policy-color-endpoint`, `bandwidth`
  (kbps) and one `preference[path-index]` per candidate path (path-index = preference) whose
  `path-info`s name explicit segment lists `traffic-engineering/segments/segment[path-name]`,
  path-name `<policy>@<candidate path>@<segment list>`. 6.6.3 cannot carry an explicit SRv6
  segment list: segments are SR-MPLS labels, and so is the binding SID (iosxr_sids.py has the
  documented mapping, which the parser reverses back to the SRv6 SIDs).
- QoS: `Cisco-IOS-XR-infra-policymgr-cfg`: one `class-map` of type qos per service class
  (match-any, `match/dscp`), and the qos `policy-map` `netpilot-qos` with a rule per class:
  `set/traffic-class` = queue, `priority-level 1` or `bandwidth-remaining` ratio = weight,
  `police/rate` for a rate limit (validated against a copy of the module patched in the cache,
  vendor_yang.PATCHES).
- Steering rules: a `class-map` of type traffic per rule (match-all: `match/dscp`,
  `match/protocol` (the IANA number), the destination prefix as
  `match/destination-address-ipv4` (address, netmask) or `-ipv6` (address, prefix-length),
  `match/destination-port` ("N" or "N-M") and each source prefix as `match/source-address-ipv4`
  or `-ipv6`); 6.6.3's PBR actions cannot name an SR policy, so the
  rule's colour and endpoint are kept in the class map's `description`.
State: interface oper status and bandwidth from `Cisco-IOS-XR-ifmgr-oper`, counters from
`Cisco-IOS-XR-infra-statsd-oper`; SR policy oper status, optics, delay and queues are not read.
"""

from __future__ import annotations

import dataclasses
import functools
import ipaddress
import time

from lxml import etree

from controller.desired import (
    CandidatePath,
    DeviceConfig,
    QosQueue,
    SegmentList,
    SrPolicy,
    SteeringRule,
)
from controller.devicestate import DeviceState, InterfaceState
from controller.errors import ValidationError
from controller.southbound.flavors import iosxr_state
from controller.southbound.flavors.base import (
    Element,
    LazySchema,
    config_root,
    element,
    prune,
    schema_capabilities,
    subtree_filter,
    text_of,
)
from controller.southbound.flavors.iosxr_sids import (
    binding_to_label,
    label_to_binding,
    label_to_sid,
    sid_to_label,
)
from controller.southbound.flavors.xmldiff import full_edit, keyed_edit
from controller.southbound.render import canonical
from controller.southbound.vendor_yang import modules_dir
from controller.southbound.yang import Schema
from controller.southbound.yang import ietf_modules_dir as ietf

XR = "http://cisco.com/ns/yang/"
MS = f"{XR}Cisco-IOS-XR-segment-routing-ms-cfg"
TE = f"{XR}Cisco-IOS-XR-infra-xtc-agent-cfg"
PM = f"{XR}Cisco-IOS-XR-infra-policymgr-cfg"
MODULES = (
    "Cisco-IOS-XR-segment-routing-ms-cfg",
    "Cisco-IOS-XR-infra-xtc-agent-cfg",
    "Cisco-IOS-XR-segment-routing-srv6-cfg",
    "Cisco-IOS-XR-infra-policymgr-cfg",
    "Cisco-IOS-XR-qos-ma-cfg",
    *iosxr_state.MODULES,
)
QOS_POLICY = "netpilot-qos"
STEER = "netpilot steer"
SEP = "@"
UINT32 = 2**32


def _schema() -> Schema:
    search = f"{modules_dir('iosxr')}:{ietf()}"
    return Schema(search, MODULES, "IOS-XR 6.6.3 modules of the iosxr flavour")


class IosXr:
    name = "iosxr"

    def __init__(self) -> None:
        self._schema = LazySchema(_schema)
        self._rendered = functools.lru_cache(maxsize=1024)(self._render_bytes)

    def schema(self) -> Schema:
        return self._schema.get()

    def capabilities(self) -> list[str]:
        return schema_capabilities(self.schema())

    def render(self, cfg: DeviceConfig) -> Element:
        return etree.fromstring(self._rendered(cfg))

    def _render_bytes(self, cfg: DeviceConfig) -> bytes:
        """The rendered config, serialized (cached: a transaction renders each device's old and
        new config for the edit, the new one again to validate it)."""
        problems = self.problems(cfg)
        if problems:
            raise ValidationError(f"config of device {cfg.device!r} (flavor iosxr)", problems)
        config = config_root()
        te = element(TE, "traffic-engineering", element(MS, "sr", config))
        segments, policies = element(TE, "segments", te), element(TE, "policies", te)
        for p in canonical(cfg).sr_policies:
            _policy(policies, segments, p)
        pm = element(PM, "policy-manager", config)
        class_maps = element(PM, "class-maps", pm)
        for rule in sorted(cfg.steering, key=lambda r: r.name):
            _steering_class(class_maps, rule)
        qos = sorted(cfg.qos, key=lambda c: c.service_class)
        if qos:
            pmap = element(PM, "policy-map", element(PM, "policy-maps", pm))
            element(PM, "type", pmap, "qos")
            element(PM, "name", pmap, QOS_POLICY)
            for c in qos:
                _qos_class(class_maps, pmap, c)
        return bytes(etree.tostring(prune(config)))

    def parse(self, device: str, root: Element) -> DeviceConfig:
        what = f"config of device {device!r} (flavor iosxr)"
        lists = _segment_lists(root, what)
        policies = tuple(
            _parse_policy(el, lists, what)
            for el in root.iterfind(f".//{{{TE}}}policies/{{{TE}}}policy")
        )
        steering, classes = _parse_class_maps(root)
        qos = tuple(_parse_qos(root, classes))
        return canonical(DeviceConfig(device, policies, steering, qos))

    def carried(self, cfg: DeviceConfig) -> DeviceConfig:
        policies = tuple(
            dataclasses.replace(p, bandwidth_bps=float(round(p.bandwidth_bps / 1000) * 1000))
            for p in cfg.sr_policies
        )
        qos = tuple(
            dataclasses.replace(
                c,
                weight=1 if c.priority else c.weight,
                rate_limit_bps=None if c.rate_limit_bps is None else _carried_rate(c),
            )
            for c in cfg.qos
        )
        return canonical(DeviceConfig(cfg.device, policies, cfg.steering, qos))

    def problems(self, cfg: DeviceConfig) -> list[str]:
        return _problems(cfg)

    def edit(self, previous: DeviceConfig, desired: DeviceConfig, *, full: bool) -> Element | None:
        new = self.render(desired)
        if full:
            points = (((MS, "sr"), (TE, "traffic-engineering")), ((PM, "policy-manager"),))
            return full_edit(new, points)
        return keyed_edit(self.schema(), self.render(previous), new)

    def config_filter(self) -> Element:
        return subtree_filter((MS, "sr"), (PM, "policy-manager"))

    def state_filter(self) -> Element:
        return iosxr_state.state_filter()

    def render_state(self, state: DeviceState) -> list[Element]:
        return iosxr_state.render_state(state)

    def parse_state(self, device: str, root: Element) -> DeviceState:
        interfaces: tuple[InterfaceState, ...] = iosxr_state.parse_interfaces(root)
        return DeviceState(device, time.time(), interfaces=interfaces)


# -- rendering ----------------------------------------------------------------------------------
def _list_name(p: SrPolicy, cp: CandidatePath, sl: SegmentList) -> str:
    return SEP.join((p.name, cp.name, sl.name))


def _policy(policies: Element, segments: Element, p: SrPolicy) -> None:
    el = element(TE, "policy", policies)
    element(TE, "policy-name", el, p.name)
    pce = element(TE, "policy-color-endpoint", el)
    element(TE, "color", pce, p.color)
    v6 = ":" in p.endpoint
    element(TE, "end-point-type", pce, f"end-point-type-ipv{6 if v6 else 4}")
    element(TE, "end-point-address", pce, p.endpoint)
    kbps = round(p.bandwidth_bps / 1000)
    if kbps:
        element(TE, "bandwidth", el, kbps)
    if p.binding_sid:
        bsid = element(TE, "binding-sid", el)
        element(TE, "binding-sid-type", bsid, "mpls-label-specified")
        element(TE, "mpls-label", bsid, binding_to_label(p.binding_sid))
    prefs = element(TE, "preferences", element(TE, "candidate-paths", el))
    for cp in p.candidate_paths:
        pref = element(TE, "preference", prefs)
        element(TE, "path-index", pref, cp.preference)
        infos = element(TE, "path-infos", pref)
        for sl in cp.segment_lists:
            info = element(TE, "path-info", infos)
            element(TE, "type", info, "explicit")
            element(TE, "hop-type", info, "mpls")
            element(TE, "segment-list-name", info, _list_name(p, cp, sl))
            element(TE, "weight", info, sl.weight)
            _segment_list(segments, _list_name(p, cp, sl), sl.sids)


def _segment_list(segments: Element, name: str, sids: tuple[str, ...]) -> None:
    seg = element(TE, "segment", segments)
    element(TE, "path-name", seg, name)
    inner = element(TE, "segments", seg)
    for index, sid in enumerate(sids, start=1):
        s = element(TE, "segment", inner)
        element(TE, "segment-index", s, index)
        element(TE, "segment-type", s, "mpls-label")
        element(TE, "mpls-label", s, sid_to_label(sid))


def _class_map(class_maps: Element, kind: str, name: str, mode: str) -> Element:
    cm = element(PM, "class-map", class_maps)
    element(PM, "type", cm, kind)
    element(PM, "name", cm, name)
    element(PM, f"class-map-mode-match-{mode}", cm)
    return cm


def _steering_class(class_maps: Element, r: SteeringRule) -> None:
    cm = _class_map(class_maps, "traffic", r.name, "all")
    match = element(PM, "match", cm)
    if r.dscp is not None:
        element(PM, "dscp", match, r.dscp)
    if r.protocol is not None:
        element(PM, "protocol", match, r.protocol)
    if r.prefix is not None:
        _address(match, "destination", r.prefix)
    for port in sorted(set(r.ports), key=_port_key):
        element(PM, "destination-port", match, port)
    for source in sorted(set(r.src_prefixes)):
        _address(match, "source", source)
    element(PM, "description", cm, f"{STEER} color={r.color} endpoint={r.endpoint}")


def _port_key(port: str) -> tuple[int, ...]:
    return tuple(int(n) if n.isdigit() else -1 for n in port.split("-"))


def _address(match: Element, side: str, prefix: str) -> None:
    """`match/<side>-address-ipv4` (address, netmask) or `-ipv6` (address, prefix-length)."""
    net = ipaddress.ip_network(prefix, strict=False)
    entry = element(PM, f"{side}-address-ipv{net.version}", match)
    element(PM, "address", entry, net.network_address)
    if net.version == 4:
        element(PM, "netmask", entry, net.netmask)
    else:
        element(PM, "prefix-length", entry, net.prefixlen)


def _carried_rate(c: QosQueue) -> float:
    value, _, unit = _rate(c)
    return float(value * unit)


def _rate(c: QosQueue) -> tuple[int, str, int]:
    """(value, unit, unit in bps) of a class's police rate: bps while it fits a uint32."""
    bps = round(c.rate_limit_bps or 0)
    return (bps, "bps", 1) if bps < UINT32 else (round(bps / 1000), "kbps", 1000)


def _qos_class(class_maps: Element, pmap: Element, c: QosQueue) -> None:
    cm = _class_map(class_maps, "qos", c.service_class, "any")
    match = element(PM, "match", cm)
    for d in sorted(set(c.dscp)):
        element(PM, "dscp", match, d)
    rule = element(PM, "policy-map-rule", pmap)
    element(PM, "class-name", rule, c.service_class)
    element(PM, "class-type", rule, "qos")
    if c.priority:
        element(PM, "priority-level", rule, 1)
    else:
        remaining = element(PM, "bandwidth-remaining", rule)
        element(PM, "value", remaining, c.weight)
        element(PM, "unit", remaining, "ratio")
    if c.rate_limit_bps is not None:
        value, unit, _ = _rate(c)
        rate = element(PM, "rate", element(PM, "police", rule))
        element(PM, "value", rate, value)
        element(PM, "units", rate, unit)
    element(PM, "traffic-class", element(PM, "set", rule), c.queue)


def _problems(cfg: DeviceConfig) -> list[str]:
    out = []
    for p in cfg.sr_policies:
        prefs = [cp.preference for cp in p.candidate_paths]
        if len(set(prefs)) != len(prefs):
            out.append(f"policy {p.name!r}: two candidate paths with one preference (IOS-XR keys "
                       "candidate paths by preference); give each its own")  # fmt: skip
        for cp in p.candidate_paths:
            if not cp.segment_lists:
                out.append(f"policy {p.name!r} candidate path {cp.name!r}: no segment list "
                           "(IOS-XR cannot name an empty explicit path)")  # fmt: skip
            for sl in cp.segment_lists:
                if SEP in p.name + cp.name + sl.name:
                    out.append(f"policy {p.name!r}: names must not contain {SEP!r} on iosxr")
                bad = [sid for sid in sl.sids if sid_to_label(sid) is None]
                if bad:
                    out.append(
                        f"policy {p.name!r}: SID {bad[0]} has no SR-MPLS label in netpilot's "
                        "mapping (node fcbb:bb00:<i>::1 or adjacency fcbb:bb00:<i>:e<k>::); "
                        "IOS-XR 6.6.3 cannot carry an explicit SRv6 segment list"
                    )
        if p.binding_sid and binding_to_label(p.binding_sid) is None:
            out.append(f"policy {p.name!r}: binding SID {p.binding_sid} has no label in "
                       "netpilot's mapping (fcbb:bb00:<i>:b<k>::)")  # fmt: skip
    colors = {p.color for p in cfg.sr_policies}
    for r in cfg.steering:
        if r.color not in colors:  # what the netpilot module's `must` checks
            out.append(f"steering rule {r.name!r} refers to an SR policy that is not "
                       f"configured (color {r.color})")  # fmt: skip
    names = [p.name for p in cfg.sr_policies]
    if len(set(names)) != len(names):
        out.append("two SR policies with one name (IOS-XR keys policies by name)")
    return out


# -- parsing ------------------------------------------------------------------------------------
def _int(text: str | None, what: str, tag: str) -> int:
    try:
        return int(text or "")
    except ValueError:
        raise ValidationError(what, [f"<{tag}> is {text!r}, expected an integer"]) from None


def _segment_lists(root: Element, what: str) -> dict[str, tuple[str, ...]]:
    out = {}
    for seg in root.iterfind(f".//{{{TE}}}segments/{{{TE}}}segment[{{{TE}}}path-name]"):
        entries = []
        for s in seg.iterfind(f"{{{TE}}}segments/{{{TE}}}segment"):
            label = _int(text_of(s, "mpls-label", ns=TE), what, "mpls-label")
            sid = label_to_sid(label)
            if sid is None:
                raise ValidationError(what, [f"label {label} is not in netpilot's SID mapping"])
            entries.append((_int(text_of(s, "segment-index", ns=TE), what, "segment-index"), sid))
        out[text_of(seg, "path-name", ns=TE) or ""] = tuple(sid for _, sid in sorted(entries))
    return out


def _parse_policy(el: Element, lists: dict[str, tuple[str, ...]], what: str) -> SrPolicy:
    name = text_of(el, "policy-name", ns=TE) or ""
    paths = []
    for pref in el.iterfind(f"{{{TE}}}candidate-paths/{{{TE}}}preferences/{{{TE}}}preference"):
        cp_name, segment_lists = "", []
        for info in pref.iterfind(f"{{{TE}}}path-infos/{{{TE}}}path-info"):
            list_name = text_of(info, "segment-list-name", ns=TE) or ""
            parts = list_name.rsplit(SEP, 2)
            cp_name, sl_name = (parts[1], parts[2]) if len(parts) == 3 else ("", list_name)
            weight = _int(text_of(info, "weight", ns=TE) or "1", what, "weight")
            segment_lists.append(SegmentList(sl_name, lists.get(list_name, ()), weight))
        preference = _int(text_of(pref, "path-index", ns=TE), what, "path-index")
        paths.append(CandidatePath(cp_name, preference, tuple(segment_lists)))
    kbps = _int(text_of(el, "bandwidth", ns=TE) or "0", what, "bandwidth")
    bsid = text_of(el, "binding-sid", "mpls-label", ns=TE)
    return SrPolicy(
        color=_int(text_of(el, "policy-color-endpoint", "color", ns=TE), what, "color"),
        endpoint=text_of(el, "policy-color-endpoint", "end-point-address", ns=TE) or "",
        name=name,
        candidate_paths=tuple(paths),
        bandwidth_bps=float(kbps * 1000),
        binding_sid=None if bsid is None else label_to_binding(_int(bsid, what, "mpls-label")),
    )


def _parse_class_maps(root: Element) -> tuple[tuple[SteeringRule, ...], dict[str, tuple[int, ...]]]:
    rules, classes = [], {}
    for cm in root.iterfind(f".//{{{PM}}}class-maps/{{{PM}}}class-map"):
        kind, name = text_of(cm, "type", ns=PM), text_of(cm, "name", ns=PM) or ""
        dscp = tuple(int(d.text) for d in cm.iterfind(f"{{{PM}}}match/{{{PM}}}dscp"))
        if kind == "qos":
            classes[name] = dscp
            continue
        note = text_of(cm, "description", ns=PM) or ""
        if kind != "traffic" or not note.startswith(STEER):
            continue  # a class map netpilot did not write
        fields = dict(part.split("=", 1) for part in note[len(STEER) :].split() if "=" in part)
        match = cm.find(f"{{{PM}}}match")
        protocol = text_of(match, "protocol", ns=PM)
        rules.append(
            SteeringRule(
                name,
                int(fields.get("color", "0")),
                fields.get("endpoint", ""),
                dscp=dscp[0] if dscp else None,
                prefix=next(iter(_addresses(match, "destination")), None),
                protocol=None if protocol is None else int(protocol),
                ports=_texts(match, "destination-port"),
                src_prefixes=_addresses(match, "source"),
            )
        )
    return tuple(rules), classes


def _texts(match: Element | None, tag: str) -> tuple[str, ...]:
    if match is None:
        return ()
    return tuple(str(el.text).strip() for el in match.iterfind(f"{{{PM}}}{tag}") if el.text)


def _addresses(match: Element | None, side: str) -> tuple[str, ...]:
    """The prefixes of `match/<side>-address-ipv4` and `-ipv6` entries."""
    out: list[str] = []
    if match is None:
        return ()
    for version, length in ((4, "netmask"), (6, "prefix-length")):
        for entry in match.iterfind(f"{{{PM}}}{side}-address-ipv{version}"):
            address, size = text_of(entry, "address", ns=PM), text_of(entry, length, ns=PM)
            out.append(str(ipaddress.ip_network(f"{address}/{size}", strict=False)))
    return tuple(out)


def _parse_qos(root: Element, classes: dict[str, tuple[int, ...]]) -> list[QosQueue]:
    out = []
    for pmap in root.iterfind(f".//{{{PM}}}policy-maps/{{{PM}}}policy-map"):
        if text_of(pmap, "type", ns=PM) != "qos" or text_of(pmap, "name", ns=PM) != QOS_POLICY:
            continue
        for rule in pmap.iterfind(f"{{{PM}}}policy-map-rule"):
            name = text_of(rule, "class-name", ns=PM) or ""
            rate = text_of(rule, "police", "rate", "value", ns=PM)
            unit = 1000 if text_of(rule, "police", "rate", "units", ns=PM) == "kbps" else 1
            out.append(
                QosQueue(
                    service_class=name,
                    queue=int(text_of(rule, "set", "traffic-class", ns=PM) or "0"),
                    dscp=classes.get(name, ()),
                    priority=text_of(rule, "priority-level", ns=PM) is not None,
                    weight=int(text_of(rule, "bandwidth-remaining", "value", ns=PM) or "1"),
                    rate_limit_bps=None if rate is None else float(int(rate) * unit),
                )
            )
    return out
