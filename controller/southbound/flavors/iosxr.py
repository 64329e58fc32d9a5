"""The iosxr flavour: Cisco IOS-XR 6.6.3 native models (fetched by vendor_yang, never copied).

Config:
- SR policies: `Cisco-IOS-XR-infra-xtc-agent-cfg` (an augment of `segment-routing-ms-cfg:sr`):
  `traffic-engineering/policies/policy[policy-name]` with `policy-color-endpoint`, `bandwidth`
  (kbps) and one `preference[path-index]` per candidate path (path-index = preference) whose
  `path-info`s name explicit segment lists `traffic-engineering/segments/segment[path-name]`,
  path-name `<policy>@<candidate path>@<segment list>`. 6.6.3 cannot carry an explicit SRv6
  segment list: segments are SR-MPLS labels, and so is the binding SID (iosxr_sids.py has the
  documented mapping, which the parser reverses back to the SRv6 SIDs).
- QoS and steering: `Cisco-IOS-XR-infra-policymgr-cfg` class and policy maps (iosxr_pm.py),
  and per interface with shares (QoS that follows demand) its own egress policy map with each
  class's guaranteed rate, remaining-bandwidth ratio and policer (iosxr_shares.py);
  a steered policy gets `auto-route` with the forward class its steering rules set
  (class-based traffic steering: the steering IOS-XR 6.6.3 can do for SR-TE policies).
- Per router (iosxr_iface.py, from the inventory's facts): the SRv6 locator
  (`Cisco-IOS-XR-segment-routing-srv6-cfg`) and the attachment of the QoS and steering policy
  maps to the router's interfaces (`Cisco-IOS-XR-qos-ma-cfg`, `Cisco-IOS-XR-pbr-cfg`).
State: iosxr_state.py (interfaces, counters, LLDP neighbours, SR policy oper state).
"""

from __future__ import annotations

import dataclasses
import functools

from lxml import etree

from controller.desired import (
    CandidatePath,
    DeviceConfig,
    QosShare,
    SegmentList,
    SrPolicy,
)
from controller.devicestate import DeviceState
from controller.errors import ValidationError
from controller.southbound.flavors import iosxr_iface as iface
from controller.southbound.flavors import iosxr_pm as pm
from controller.southbound.flavors import iosxr_shares as xr_shares
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
from controller.southbound.inventory import DeviceFacts
from controller.southbound.render import canonical
from controller.southbound.vendor_yang import modules_dir
from controller.southbound.yang import Schema
from controller.southbound.yang import ietf_modules_dir as ietf

XR = "http://cisco.com/ns/yang/"
MS = f"{XR}Cisco-IOS-XR-segment-routing-ms-cfg"
TE = f"{XR}Cisco-IOS-XR-infra-xtc-agent-cfg"
PM = pm.PM
MODULES = (
    "Cisco-IOS-XR-segment-routing-ms-cfg",
    "Cisco-IOS-XR-infra-xtc-agent-cfg",
    "Cisco-IOS-XR-infra-policymgr-cfg",
    *iface.MODULES,
    *iosxr_state.MODULES,
)
SEP = "@"


def _schema() -> Schema:
    search = f"{modules_dir('iosxr')}:{ietf()}"
    return Schema(search, MODULES, "IOS-XR 6.6.3 modules of the iosxr flavour")


SCHEMA = LazySchema(_schema)
"""One libyang context per process, shared by every router's IosXr."""


class IosXr:
    """The iosxr flavour for one router's `facts` (locator, interfaces; none: neither is
    written and QoS and steering are read as in effect)."""

    name = "iosxr"

    def __init__(self, facts: DeviceFacts | None = None) -> None:
        self.facts = facts or DeviceFacts()
        self._rendered = functools.lru_cache(maxsize=64)(self._render_bytes)

    def schema(self) -> Schema:
        return SCHEMA.get()

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
        sr = element(MS, "sr", config)
        te = element(TE, "traffic-engineering", sr)
        segments, policies = element(TE, "segments", te), element(TE, "policies", te)
        classes = pm.forward_classes(cfg)
        for p in canonical(cfg).sr_policies:
            _policy(policies, segments, p, classes.get(p.key))
        if cfg.sr_policies or cfg.steering or cfg.qos:  # an empty config: none of netpilot's
            iface.render_locator(sr, self.facts)
        pm.render(config, cfg)
        carried = self._shares(cfg)
        maps = config.find(f"{{{PM}}}policy-manager/{{{PM}}}policy-maps")
        if carried and maps is not None:
            xr_shares.render(maps, cfg.qos, carried)
        shared = {s.interface for s in carried}
        iface.render_attachments(config, self.facts, bool(cfg.qos), bool(cfg.steering), shared)
        return bytes(etree.tostring(prune(config)))

    def parse(self, device: str, root: Element) -> DeviceConfig:
        """The running config; QoS and steering rules count only where they are in effect
        (attached on every fact interface; a rule's forward class is its policy's)."""
        what = f"config of device {device!r} (flavor iosxr)"
        lists = _segment_lists(root, what)
        policies, classes = [], {}
        for el in root.iterfind(f".//{{{TE}}}policies/{{{TE}}}policy"):
            policy = _parse_policy(el, lists, what)
            policies.append(policy)
            fc = text_of(el, "auto-route", "forward-class", ns=TE)
            classes[policy.key] = None if fc is None else int(fc)
        read = pm.parse(root)
        qos_on, steer_on = iface.in_effect(root, self.facts)
        steering = tuple(
            rule
            for rule, fc in read.rules
            if steer_on and classes.get((rule.color, rule.endpoint)) == fc
        )
        qos = read.qos if qos_on else ()
        shares: tuple[QosShare, ...] = ()
        if qos_on:
            egress = {pm.egress_class(q.queue, q.service_class): q for q in qos}
            maps = {
                (text_of(p, "type", ns=PM), text_of(p, "name", ns=PM)): p
                for p in root.iterfind(f".//{{{PM}}}policy-maps/{{{PM}}}policy-map")
            }
            shares = xr_shares.parse(maps, egress, iface.shared_interfaces(root, self.facts))
        return canonical(DeviceConfig(device, tuple(policies), steering, qos, shares))

    def carried(self, cfg: DeviceConfig) -> DeviceConfig:
        policies = tuple(
            dataclasses.replace(p, bandwidth_bps=float(round(p.bandwidth_bps / 1000) * 1000))
            for p in cfg.sr_policies
        )
        qos = tuple(
            dataclasses.replace(
                c,
                weight=1 if c.priority else c.weight,
                rate_limit_bps=None if c.rate_limit_bps is None else pm.carried_rate(c),
            )
            for c in cfg.qos
        )
        shares = xr_shares.carried(self._shares(cfg), cfg.qos)
        return canonical(DeviceConfig(cfg.device, policies, cfg.steering, qos, shares))

    def _shares(self, cfg: DeviceConfig) -> tuple[QosShare, ...]:
        """The shares a router can attach: on its fact interfaces (all, without facts), of
        classes it has queues for."""
        classes = {q.service_class for q in cfg.qos}
        ifaces = set(self.facts.interfaces)
        return tuple(
            s
            for s in cfg.shares
            if s.service_class in classes and (not ifaces or s.interface in ifaces)
        )

    def problems(self, cfg: DeviceConfig) -> list[str]:
        return _problems(cfg) + pm.problems(cfg) + xr_shares.problems(cfg.shares, cfg.qos)

    def edit(self, previous: DeviceConfig, desired: DeviceConfig, *, full: bool) -> Element | None:
        """Minimal edits (keyed diff), or with `full` netpilot's subtrees replaced whole:
        `sr/traffic-engineering`, the locator `netpilot` (with one), `policy-manager`, and
        the `qos` and `pbr` containers of each fact interface (never the interface entry)."""
        new, old = self.render(desired), self.render(previous)
        new_ifs, old_ifs = iface.take(new), iface.take(old)
        if full:
            points = (((MS, "sr"), (TE, "traffic-engineering")), ((PM, "policy-manager"),))
            out: Element | None = full_edit(new, points)
            iface.replace_locator(out, f"{{{MS}}}sr", self.facts)
        else:
            out = keyed_edit(self.schema(), old, new)
            if out is not None and new.find(f"{{{MS}}}sr/{{{iface.SRV6}}}srv6") is not None:
                iface.reassert_locator(out, f"{{{MS}}}sr", self.facts)
        ifs = iface.edit(old_ifs, new_ifs, self.facts, full)
        if ifs is not None:
            out = config_root() if out is None else out
            out.append(ifs)
        return out

    def config_filter(self) -> Element:
        flt = subtree_filter((MS, "sr"), (PM, "policy-manager"))
        if self.facts.interfaces:
            flt.append(iface.config_filter_part())
        return flt

    def state_filter(self) -> Element:
        return iosxr_state.state_filter()

    def render_state(self, state: DeviceState) -> list[Element]:
        return iosxr_state.render_state(state)

    def parse_state(self, device: str, root: Element) -> DeviceState:
        return iosxr_state.parse_state(device, root)


# -- rendering ----------------------------------------------------------------------------------
def _list_name(p: SrPolicy, cp: CandidatePath, sl: SegmentList) -> str:
    return SEP.join((p.name, cp.name, sl.name))


def _policy(policies: Element, segments: Element, p: SrPolicy, fc: int | None) -> None:
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
    if fc is not None:  # steered: autoroute, selected by the forward class its rules set
        route = element(TE, "auto-route", el)
        element(TE, "forward-class", route, fc)
        element(TE, "enable", route)
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
