"""The iosxr flavour's `Cisco-IOS-XR-infra-policymgr-cfg` part: QoS and steering policy maps.

QoS (the six-class table), split the way IOS-XR applies it:
- ingress: a `class-map` of type qos per service class (match-any `match/dscp`) and the qos
  policy map `netpilot-qos-in` setting `set/traffic-class` = the class's queue;
- egress: a `class-map` `netpilot-tc<q>-<class>` per class (`match/traffic-class q`: its queue,
  named so that the queue counters name the class too) and the qos policy
  map `netpilot-qos` with `priority-level 1` or `bandwidth-remaining` (ratio = weight) and
  `police/rate` (bps, kbps above 2^32-1) per queue.
Steering (class-based traffic steering, the steering 6.6.3 offers for SR-TE): a `class-map` of
type traffic per rule (match-all: dscp, protocol, destination and source prefixes, destination
ports; colour and endpoint in its `description`) and the pbr policy map `netpilot-steer`
setting `set/forward-class` = the forward class of the rule's SR policy (iosxr.py gives steered
policies `auto-route` with that forward class). iosxr_iface.py attaches the three maps.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from controller.desired import DeviceConfig, QosQueue, SteeringRule
from controller.southbound.flavors.base import Element, element, text_of

PM = "http://cisco.com/ns/yang/Cisco-IOS-XR-infra-policymgr-cfg"
QOS_IN = "netpilot-qos-in"
QOS_OUT = "netpilot-qos"
STEER_MAP = "netpilot-steer"
TC_CLASS = "netpilot-tc"
STEER = "netpilot steer"
UINT32 = 2**32
MAX_FORWARD_CLASS = 7  # forward-class 0..7; 0 is the default (unsteered) class


def egress_class(queue: int, service_class: str) -> str:
    """The name of the egress class map of a service class (its queue's traffic class)."""
    return f"{TC_CLASS}{queue}-{service_class}"


def forward_classes(cfg: DeviceConfig) -> dict[tuple[int, str], int]:
    """The forward class of each steered SR policy (color, endpoint): 1.. in colour order among
    the steered policies to one endpoint. IOS-XR picks among the autoroute policies to one
    endpoint by forward class, so only seven per endpoint can be steered; the rest get none."""
    steered = {(r.color, r.endpoint) for r in cfg.steering}
    keys = sorted((p.endpoint, p.color) for p in cfg.sr_policies if p.key in steered)
    out: dict[tuple[int, str], int] = {}
    rank: dict[str, int] = {}
    for endpoint, color in keys:
        rank[endpoint] = rank.get(endpoint, 0) + 1
        if rank[endpoint] <= MAX_FORWARD_CLASS:
            out[(color, endpoint)] = rank[endpoint]
    return out


def render(config: Element, cfg: DeviceConfig) -> None:
    """The policy-manager container of `cfg` (nothing when it has no QoS and no steering)."""
    pm = element(PM, "policy-manager", config)
    class_maps = element(PM, "class-maps", pm)
    maps = element(PM, "policy-maps", pm)
    classes = forward_classes(cfg)
    rules = sorted(cfg.steering, key=lambda r: r.name)
    if rules:
        steer = _policy_map(maps, "pbr", STEER_MAP)
        for rule in rules:
            _steering_class(class_maps, rule)
            fc = classes.get((rule.color, rule.endpoint))
            if fc is not None:
                _rule(steer, rule.name, "traffic")
                element(PM, "forward-class", element(PM, "set", steer[-1]), fc)
    qos = sorted(cfg.qos, key=lambda c: c.queue, reverse=True)
    if qos:
        ingress, egress = _policy_map(maps, "qos", QOS_IN), _policy_map(maps, "qos", QOS_OUT)
        for c in qos:
            _qos_class(class_maps, ingress, egress, c)


def _policy_map(maps: Element, kind: str, name: str) -> Element:
    pmap = element(PM, "policy-map", maps)
    element(PM, "type", pmap, kind)
    element(PM, "name", pmap, name)
    return pmap


def _rule(pmap: Element, class_name: str, class_type: str) -> Element:
    rule = element(PM, "policy-map-rule", pmap)
    element(PM, "class-name", rule, class_name)
    element(PM, "class-type", rule, class_type)
    return rule


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


def carried_rate(c: QosQueue) -> float:
    value, _, unit = _rate(c)
    return float(value * unit)


def _rate(c: QosQueue) -> tuple[int, str, int]:
    """(value, unit, unit in bps) of a class's police rate: bps while it fits a uint32."""
    bps = round(c.rate_limit_bps or 0)
    return (bps, "bps", 1) if bps < UINT32 else (round(bps / 1000), "kbps", 1000)


def _qos_class(class_maps: Element, ingress: Element, egress: Element, c: QosQueue) -> None:
    match = element(PM, "match", _class_map(class_maps, "qos", c.service_class, "any"))
    for d in sorted(set(c.dscp)):
        element(PM, "dscp", match, d)
    rule = _rule(ingress, c.service_class, "qos")
    element(PM, "traffic-class", element(PM, "set", rule), c.queue)
    tc = egress_class(c.queue, c.service_class)
    element(PM, "traffic-class", element(PM, "match", _class_map(class_maps, "qos", tc, "any")),
            c.queue)  # fmt: skip
    rule = _rule(egress, tc, "qos")
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


def problems(cfg: DeviceConfig) -> list[str]:
    out = []
    queues = [c.queue for c in cfg.qos]
    if len(set(queues)) != len(queues):
        out.append("two QoS classes with one queue (iosxr: the egress policy keys classes by "
                   "traffic class); give each its own queue")  # fmt: skip
    reserved = [c.service_class for c in cfg.qos if c.service_class.startswith(TC_CLASS)]
    out += [
        f"QoS class {n!r}: names starting {TC_CLASS!r} are netpilot's on iosxr" for n in reserved
    ]
    return out


# -- parsing ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Parsed:
    """What policy-manager holds of netpilot's: the steering rules with the forward class their
    pbr rule sets (None: none), and the QoS classes."""

    rules: tuple[tuple[SteeringRule, int | None], ...]
    qos: tuple[QosQueue, ...]


def parse(root: Element) -> Parsed:
    pmaps = {
        (text_of(p, "type", ns=PM), text_of(p, "name", ns=PM)): p
        for p in root.iterfind(f".//{{{PM}}}policy-maps/{{{PM}}}policy-map")
    }
    rules, dscp = [], {}
    sets = _rule_sets(pmaps.get(("pbr", STEER_MAP)), "forward-class")
    for cm in root.iterfind(f".//{{{PM}}}class-maps/{{{PM}}}class-map"):
        kind, name = text_of(cm, "type", ns=PM), text_of(cm, "name", ns=PM) or ""
        values = tuple(int(d.text) for d in cm.iterfind(f"{{{PM}}}match/{{{PM}}}dscp"))
        if kind == "qos":
            dscp[name] = values
        rule = _steering_rule(cm, values) if kind == "traffic" else None
        if rule is not None:
            rules.append((rule, sets.get(name)))
    return Parsed(tuple(rules), tuple(_qos(pmaps, dscp)))


def _rule_sets(pmap: Element | None, leaf: str) -> dict[str, int]:
    """class name -> the integer its rule sets (`set/<leaf>`) in policy map `pmap`."""
    if pmap is None:
        return {}
    out = {}
    for rule in pmap.iterfind(f"{{{PM}}}policy-map-rule"):
        value = text_of(rule, "set", leaf, ns=PM)
        if value is not None:
            out[text_of(rule, "class-name", ns=PM) or ""] = int(value)
    return out


def _steering_rule(cm: Element, dscp: tuple[int, ...]) -> SteeringRule | None:
    note = text_of(cm, "description", ns=PM) or ""
    if not note.startswith(STEER):
        return None  # a class map netpilot did not write
    fields = dict(part.split("=", 1) for part in note[len(STEER) :].split() if "=" in part)
    match = cm.find(f"{{{PM}}}match")
    protocol = text_of(match, "protocol", ns=PM)
    return SteeringRule(
        text_of(cm, "name", ns=PM) or "",
        int(fields.get("color", "0")),
        fields.get("endpoint", ""),
        dscp=dscp[0] if dscp else None,
        prefix=next(iter(_addresses(match, "destination")), None),
        protocol=None if protocol is None else int(protocol),
        ports=_texts(match, "destination-port"),
        src_prefixes=_addresses(match, "source"),
    )


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


def _qos(pmaps: Mapping[tuple[str | None, str | None], Element], dscp: Mapping[str, tuple[int, ...]]
         ) -> Iterable[QosQueue]:  # fmt: skip
    """A class is read when the ingress map sets its queue and the egress map treats that
    queue (both are needed for it to be in effect)."""
    egress = {
        text_of(rule, "class-name", ns=PM): rule for rule in _rules(pmaps.get(("qos", QOS_OUT)))
    }
    for name, queue in _rule_sets(pmaps.get(("qos", QOS_IN)), "traffic-class").items():
        rule = egress.get(egress_class(queue, name))
        if rule is None:
            continue
        rate = text_of(rule, "police", "rate", "value", ns=PM)
        unit = 1000 if text_of(rule, "police", "rate", "units", ns=PM) == "kbps" else 1
        yield QosQueue(
            service_class=name,
            queue=queue,
            dscp=dscp.get(name, ()),
            priority=text_of(rule, "priority-level", ns=PM) is not None,
            weight=int(text_of(rule, "bandwidth-remaining", "value", ns=PM) or "1"),
            rate_limit_bps=None if rate is None else float(int(rate) * unit),
        )


def _rules(pmap: Element | None) -> list[Element]:
    return [] if pmap is None else list(pmap.iterfind(f"{{{PM}}}policy-map-rule"))
