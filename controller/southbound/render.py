"""DeviceConfig <-> YANG-modelled XML (lxml only), and minimal edits between two configs.

`render_edit(previous, desired)` builds an edit-config `<config>` that touches only what changed:
a new or changed list entry (policy, steering rule, QoS class) carries `operation="replace"`,
a gone one `operation="remove"` (delete that tolerates absence), unchanged entries are left out.
`full=True` replaces the whole managed subtree instead (asked for explicitly, e.g. a repair).
`parse_config` reads a get-config reply back into a canonical DeviceConfig.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any, TypeAlias

from lxml import etree

from controller.desired import (
    CandidatePath,
    DeviceConfig,
    QosQueue,
    QosShare,
    SegmentList,
    SrPolicy,
    SteeringRule,
)
from controller.errors import ValidationError
from controller.southbound.yang import NS

NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
OPERATION = f"{{{NC}}}operation"
NSMAP = {None: NS}
Element: TypeAlias = Any  # lxml ships no type stubs; an lxml etree._Element


@functools.cache
def q(tag: str) -> str:
    return f"{{{NS}}}{tag}"


def _sub(parent: Element, tag: str, text: object | None = None) -> Element:
    child = etree.SubElement(parent, q(tag))
    if text is not None:
        child.text = str(text)
    return child


# -- canonical form ---------------------------------------------------------------------------
def canonical(cfg: DeviceConfig) -> DeviceConfig:
    """Sorted, rounded form: two configs with the same meaning compare equal."""
    policies = tuple(sorted((_canon_policy(p) for p in cfg.sr_policies), key=lambda p: p.key))
    steering = tuple(sorted((_canon_rule(r) for r in cfg.steering), key=lambda r: r.name))
    qos = tuple(sorted((_canon_class(c) for c in cfg.qos), key=lambda c: c.service_class))
    shares = tuple(sorted((_canon_share(s) for s in cfg.shares), key=lambda s: s.key))
    return DeviceConfig(cfg.device, policies, steering, qos, shares)


def _canon_share(s: QosShare) -> QosShare:
    """Rates in whole bit/s, as the module carries them."""
    rate = float(round(s.guaranteed_bps))
    police = None if s.policer_bps is None else float(round(s.policer_bps))
    if rate == s.guaranteed_bps and police == s.policer_bps:
        return s
    return replace(s, guaranteed_bps=rate, policer_bps=police)


def _port_key(port: str) -> tuple[int, ...]:
    return tuple(int(n) if n.isdigit() else -1 for n in port.split("-"))


def _canon_rule(r: SteeringRule) -> SteeringRule:
    """Ports and source prefixes match any of them: sorted, each once (a leaf-list's values
    are unique, and a device may return them in its own order)."""
    ports = tuple(sorted(set(r.ports), key=_port_key))
    sources = tuple(sorted(set(r.src_prefixes)))
    if ports == r.ports and sources == r.src_prefixes:
        return r
    return replace(r, ports=ports, src_prefixes=sources)


def _canon_class(c: QosQueue) -> QosQueue:
    rate = None if c.rate_limit_bps is None else float(round(c.rate_limit_bps))
    dscp = tuple(sorted(set(c.dscp)))
    if dscp == c.dscp and rate == c.rate_limit_bps:
        return c
    return replace(c, dscp=dscp, rate_limit_bps=rate)


def _canon_policy(p: SrPolicy) -> SrPolicy:
    paths = tuple(
        sorted(
            (
                replace(cp, segment_lists=tuple(sorted(cp.segment_lists, key=lambda s: s.name)))
                for cp in p.candidate_paths
            ),
            key=lambda cp: cp.name,
        )
    )
    return replace(p, candidate_paths=paths, bandwidth_bps=float(round(p.bandwidth_bps)))


# -- rendering ----------------------------------------------------------------------------------
def policy_element(p: SrPolicy) -> Element:
    el = etree.Element(q("policy"), nsmap=NSMAP)
    _sub(el, "color", p.color)
    _sub(el, "endpoint", p.endpoint)
    _sub(el, "name", p.name)
    _sub(el, "bandwidth", round(p.bandwidth_bps))
    if p.binding_sid:
        _sub(el, "binding-sid", p.binding_sid)
    for cp in p.candidate_paths:
        cpe = _sub(el, "candidate-path")
        _sub(cpe, "name", cp.name)
        _sub(cpe, "preference", cp.preference)
        for sl in cp.segment_lists:
            sle = _sub(cpe, "segment-list")
            _sub(sle, "name", sl.name)
            _sub(sle, "weight", sl.weight)
            for index, sid in enumerate(sl.sids):
                seg = _sub(sle, "segment")
                _sub(seg, "index", index)
                _sub(seg, "sid", sid)
    return el


def rule_element(r: SteeringRule) -> Element:
    r = _canon_rule(r)
    el = etree.Element(q("rule"), nsmap=NSMAP)
    _sub(el, "name", r.name)
    _sub(el, "color", r.color)
    _sub(el, "endpoint", r.endpoint)
    if r.dscp is not None:
        _sub(el, "dscp", r.dscp)
    if r.prefix is not None:
        _sub(el, "prefix", r.prefix)
    if r.protocol is not None:
        _sub(el, "protocol", r.protocol)
    for port in r.ports:
        _sub(el, "port", port)
    for source in r.src_prefixes:
        _sub(el, "source-prefix", source)
    return el


def class_element(c: QosQueue) -> Element:
    el = etree.Element(q("class"), nsmap=NSMAP)
    _sub(el, "name", c.service_class)
    _sub(el, "queue", c.queue)
    for dscp in sorted(set(c.dscp)):
        _sub(el, "dscp", dscp)
    _sub(el, "priority", "true" if c.priority else "false")
    _sub(el, "weight", c.weight)
    if c.rate_limit_bps is not None:
        _sub(el, "rate-limit", round(c.rate_limit_bps))
    return el


def share_element(s: QosShare) -> Element:
    el = etree.Element(q("share"), nsmap=NSMAP)
    _sub(el, "interface", s.interface)
    _sub(el, "class", s.service_class)
    _sub(el, "guaranteed-rate", round(s.guaranteed_bps))
    _sub(el, "weight", s.weight)
    if s.policer_bps is not None:
        _sub(el, "policer", round(s.policer_bps))
    return el


def _skeleton() -> tuple[Element, Element, Element, Element]:
    """<config> with srv6-te/policies, srv6-te/steering and qos containers (empty)."""
    config = etree.Element(f"{{{NC}}}config", nsmap={"nc": NC})
    te = etree.SubElement(config, q("srv6-te"), nsmap=NSMAP)
    policies = _sub(te, "policies")
    steering = _sub(te, "steering")
    qos = etree.SubElement(config, q("qos"), nsmap=NSMAP)
    return config, policies, steering, qos


def _prune(config: Element) -> Element:
    """Drop empty containers (deepest first) so an edit carries only what it changes."""
    for el in reversed(list(config.iter())):
        if el is not config and len(el) == 0 and el.text is None and el.get(OPERATION) is None:
            parent = el.getparent()
            if parent is not None:
                parent.remove(el)
    return config


def render_config(cfg: DeviceConfig) -> Element:
    """The full managed config as a `<config>` element (no operations)."""
    config, policies, steering, qos = _skeleton()
    for p in cfg.sr_policies:
        policies.append(policy_element(p))
    for r in cfg.steering:
        steering.append(rule_element(r))
    for c in cfg.qos:
        qos.append(class_element(c))
    for s in cfg.shares:
        qos.append(share_element(s))
    return _prune(config)


def _diff_into(
    parent: Element,
    *,
    before: Iterable[Any],
    after: Iterable[Any],
    key: Callable[[Any], Any],
    build: Callable[[Any], Element],
    canon: Callable[[Any], Any],
) -> int:
    old = {key(x): canon(x) for x in before}
    new = {key(x): canon(x) for x in after}
    changes = 0
    for k in sorted(new, key=str):
        if old.get(k) != new[k]:
            el = build(new[k])
            el.set(OPERATION, "replace")
            parent.append(el)
            changes += 1
    for k in sorted(set(old) - set(new), key=str):
        el = build(old[k])
        for child in list(el)[len(_key_names(el)) :]:
            el.remove(child)
        el.set(OPERATION, "remove")
        parent.append(el)
        changes += 1
    return changes


def _key_names(el: Element) -> tuple[str, ...]:
    return {"policy": ("color", "endpoint"), "share": ("interface", "class")}.get(
        etree.QName(el).localname, ("name",)
    )


def render_edit(
    previous: DeviceConfig, desired: DeviceConfig, *, full: bool = False
) -> Element | None:
    """A minimal edit-config `<config>` turning `previous` into `desired`; None when equal."""
    if full:
        config = render_config(desired)
        for name in ("srv6-te", "qos"):
            found = config.find(q(name))
            if found is None:
                found = etree.SubElement(config, q(name), nsmap=NSMAP)
            found.set(OPERATION, "replace")
        return config
    config, policies, steering, qos = _skeleton()
    changes = _diff_into(
        policies,
        before=previous.sr_policies,
        after=desired.sr_policies,
        key=lambda p: p.key,
        build=policy_element,
        canon=_canon_policy,
    )
    changes += _diff_into(
        steering,
        before=previous.steering,
        after=desired.steering,
        key=lambda r: r.name,
        build=rule_element,
        canon=_canon_rule,
    )
    changes += _diff_into(
        qos,
        before=previous.qos,
        after=desired.qos,
        key=lambda c: c.service_class,
        build=class_element,
        canon=_canon_class,
    )
    changes += _diff_into(
        qos,
        before=previous.shares,
        after=desired.shares,
        key=lambda s: s.key,
        build=share_element,
        canon=_canon_share,
    )
    return _prune(config) if changes else None


def to_string(el: Element) -> str:
    return str(etree.tostring(el, encoding="unicode"))


# -- parsing ------------------------------------------------------------------------------------
def _text(el: Element, tag: str, what: str) -> str:
    child = el.find(q(tag))
    if child is None or child.text is None:
        raise ValidationError(what, [f"missing <{tag}> in <{etree.QName(el).localname}>"])
    return str(child.text).strip()


def _opt(el: Element, tag: str) -> str | None:
    child = el.find(q(tag))
    return None if child is None or child.text is None else child.text.strip()


def _texts(el: Element, tag: str) -> tuple[str, ...]:
    """The values of leaf-list `tag` in document order (a leaf-list keeps the order given)."""
    return tuple(str(c.text).strip() for c in el.findall(q(tag)) if c.text is not None)


def _int(value: str, tag: str, what: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ValidationError(what, [f"<{tag}> is {value!r}, expected an integer"]) from None


def _parse_policy(el: Element, what: str) -> SrPolicy:
    paths = []
    for cpe in el.findall(q("candidate-path")):
        lists = []
        for sle in cpe.findall(q("segment-list")):
            segs = sorted(
                (_int(_text(s, "index", what), "index", what), _text(s, "sid", what))
                for s in sle.findall(q("segment"))
            )
            weight = _int(_opt(sle, "weight") or "1", "weight", what)
            lists.append(SegmentList(_text(sle, "name", what), tuple(s for _, s in segs), weight))
        pref = _int(_text(cpe, "preference", what), "preference", what)
        paths.append(CandidatePath(_text(cpe, "name", what), pref, tuple(lists)))
    return SrPolicy(
        color=_int(_text(el, "color", what), "color", what),
        endpoint=_text(el, "endpoint", what),
        name=_text(el, "name", what),
        candidate_paths=tuple(paths),
        bandwidth_bps=float(_int(_opt(el, "bandwidth") or "0", "bandwidth", what)),
        binding_sid=_opt(el, "binding-sid"),
    )


def _parse_rule(el: Element, what: str) -> SteeringRule:
    dscp, protocol = _opt(el, "dscp"), _opt(el, "protocol")
    return SteeringRule(
        name=_text(el, "name", what),
        color=_int(_text(el, "color", what), "color", what),
        endpoint=_text(el, "endpoint", what),
        dscp=None if dscp is None else _int(dscp, "dscp", what),
        prefix=_opt(el, "prefix"),
        protocol=None if protocol is None else _int(protocol, "protocol", what),
        ports=_texts(el, "port"),
        src_prefixes=_texts(el, "source-prefix"),
    )


def _parse_class(el: Element, what: str) -> QosQueue:
    rate = _opt(el, "rate-limit")
    return QosQueue(
        service_class=_text(el, "name", what),
        queue=_int(_text(el, "queue", what), "queue", what),
        dscp=tuple(sorted(_int(d.text or "", "dscp", what) for d in el.findall(q("dscp")))),
        priority=(_opt(el, "priority") or "false") == "true",
        weight=_int(_opt(el, "weight") or "1", "weight", what),
        rate_limit_bps=None if rate is None else float(_int(rate, "rate-limit", what)),
    )


def parse_config(device: str, root: Element) -> DeviceConfig:
    """Read the netpilot subtrees under `root` (a <data> reply or <config>) into a DeviceConfig."""
    what = f"config of device {device!r}"
    policies = [
        _parse_policy(el, what) for el in root.iterfind(f".//{q('policies')}/{q('policy')}")
    ]
    rules = [_parse_rule(el, what) for el in root.iterfind(f".//{q('steering')}/{q('rule')}")]
    classes = [_parse_class(el, what) for el in root.iterfind(f".//{q('qos')}/{q('class')}")]
    shares = [_parse_share(el, what) for el in root.iterfind(f".//{q('qos')}/{q('share')}")]
    return canonical(
        DeviceConfig(device, tuple(policies), tuple(rules), tuple(classes), tuple(shares))
    )


def _parse_share(el: Element, what: str) -> QosShare:
    police = _opt(el, "policer")
    return QosShare(
        interface=_text(el, "interface", what),
        service_class=_text(el, "class", what),
        guaranteed_bps=float(_int(_text(el, "guaranteed-rate", what), "guaranteed-rate", what)),
        weight=_int(_opt(el, "weight") or "1", "weight", what),
        policer_bps=None if police is None else float(_int(police, "policer", what)),
    )


def config_filter() -> Element:
    """A subtree filter selecting everything netpilot manages."""
    flt = etree.Element(f"{{{NC}}}filter", nsmap={"nc": NC})
    flt.set("type", "subtree")
    etree.SubElement(flt, q("srv6-te"), nsmap=NSMAP)
    etree.SubElement(flt, q("qos"), nsmap=NSMAP)
    return flt
