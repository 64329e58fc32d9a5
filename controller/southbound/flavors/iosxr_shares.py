"""The iosxr flavour's per-interface QoS shares (issue 20, item 6): what follows demand.

An interface with shares gets its own egress qos policy map `netpilot-qos-<interface>`
(`Cisco-IOS-XR-infra-policymgr-cfg`), attached as its output service policy instead of the
common `netpilot-qos` (`Cisco-IOS-XR-qos-ma-cfg`, iosxr_iface.py). It holds every class's egress
rule, as `netpilot-qos` does, and for each class with a share there:
- `min-bandwidth` (the guaranteed rate; bps, or kbps above a uint32) and `bandwidth-remaining`
  ratio = the share's weight;
- `police/rate` at the share's policer, when it has one;
- a strict-priority class (voice) cannot take `min-bandwidth` on IOS-XR: its share is its
  policer (strict priority up to the policed rate is what it is guaranteed), so its guaranteed
  rate reads back as the policer and its weight as 1.
Read back, a rule is a share when it has `min-bandwidth`, or for a priority class a policer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from controller.desired import QosQueue, QosShare
from controller.southbound.flavors.base import Element, element, text_of
from controller.southbound.flavors.iosxr_pm import egress_class

PM = "http://cisco.com/ns/yang/Cisco-IOS-XR-infra-policymgr-cfg"
UINT32 = 2**32


def policy_name(interface: str) -> str:
    return f"netpilot-qos-{interface}"


def interface_of(policy: str) -> str | None:
    prefix = policy_name("")
    return policy[len(prefix) :] if policy.startswith(prefix) and policy != prefix else None


def value_unit(bps: float) -> tuple[int, str, int]:
    """(value, unit, unit in bps): bps while it fits a uint32, else kbps."""
    rate = round(bps)
    return (rate, "bps", 1) if rate < UINT32 else (round(rate / 1000), "kbps", 1000)


def carried_bps(bps: float) -> float:
    value, _, unit = value_unit(bps)
    return float(value * unit)


def carried(shares: Iterable[QosShare], queues: Iterable[QosQueue]) -> tuple[QosShare, ...]:
    """The shares as IOS-XR holds them (rates rounded to the unit; a priority class's share is
    its policer, weight 1); shares of a class with no queue are not rendered."""
    by_class = {q.service_class: q for q in queues}
    out = []
    for s in shares:
        q = by_class.get(s.service_class)
        if q is None:
            continue
        if q.priority:
            rate = carried_bps(s.policer_bps if s.policer_bps is not None else s.guaranteed_bps)
            out.append(QosShare(s.interface, s.service_class, rate, 1, rate))
            continue
        police = None if s.policer_bps is None else carried_bps(s.policer_bps)
        out.append(
            QosShare(s.interface, s.service_class, carried_bps(s.guaranteed_bps), s.weight, police)
        )
    return tuple(out)


def problems(shares: Iterable[QosShare], queues: Iterable[QosQueue]) -> list[str]:
    shares = tuple(shares)
    if not shares:
        return []
    out = [
        f"QoS class {q.service_class!r}: a strict-priority class with its own rate limit cannot "
        "sit beside shares on iosxr (a priority class's share is its policer); drop the limit"
        for q in queues
        if q.priority and q.rate_limit_bps is not None
    ]
    out += [
        f"share on {s.interface!r}: the interface name is too long for an IOS-XR policy map "
        f"name ({policy_name(s.interface)!r}, at most 63 characters)"
        for s in {s.interface: s for s in shares}.values()
        if len(policy_name(s.interface)) > 63
    ]
    return out


def render(maps: Element, queues: Iterable[QosQueue], shares: Iterable[QosShare]) -> None:
    """One egress policy map per interface with shares, under `policy-maps`."""
    ordered = sorted(queues, key=lambda c: c.queue, reverse=True)
    per_interface: dict[str, dict[str, QosShare]] = {}
    for s in shares:
        per_interface.setdefault(s.interface, {})[s.service_class] = s
    for interface, by_class in sorted(per_interface.items()):
        pmap = element(PM, "policy-map", maps)
        element(PM, "type", pmap, "qos")
        element(PM, "name", pmap, policy_name(interface))
        for q in ordered:
            rule = element(PM, "policy-map-rule", pmap)
            element(PM, "class-name", rule, egress_class(q.queue, q.service_class))
            element(PM, "class-type", rule, "qos")
            share_rule(rule, q, by_class.get(q.service_class))


def share_rule(rule: Element, q: QosQueue, share: QosShare | None) -> None:
    """Fill one egress rule of class `q` (after its class name and type)."""
    if q.priority:
        element(PM, "priority-level", rule, 1)
    elif share is not None:
        value, unit, _ = value_unit(share.guaranteed_bps)
        minimum = element(PM, "min-bandwidth", rule)
        element(PM, "value", minimum, value)
        element(PM, "unit", minimum, unit)
    if not q.priority:
        remaining = element(PM, "bandwidth-remaining", rule)
        element(PM, "value", remaining, q.weight if share is None else share.weight)
        element(PM, "unit", remaining, "ratio")
    police = q.rate_limit_bps
    if share is not None:
        police = share.policer_bps if not q.priority or share.policer_bps else share.guaranteed_bps
    if police is not None:
        value, unit, _ = value_unit(police)
        rate = element(PM, "rate", element(PM, "police", rule))
        element(PM, "value", rate, value)
        element(PM, "units", rate, unit)


def parse(
    pmaps: Mapping[tuple[str | None, str | None], Element],
    egress_names: Mapping[str, QosQueue],
    attached: set[str] | None,
) -> tuple[QosShare, ...]:
    """Shares of the per-interface maps attached (`attached`: interface names; None: every
    map, for a router without facts); `egress_names`: egress class name -> its class."""
    out = []
    for (kind, name), pmap in pmaps.items():
        interface = interface_of(name or "")
        if kind != "qos" or interface is None:
            continue
        if attached is not None and interface not in attached:
            continue
        for rule in pmap.iterfind(f"{{{PM}}}policy-map-rule"):
            q = egress_names.get(text_of(rule, "class-name", ns=PM) or "")
            share = None if q is None else _share(rule, interface, q)
            if share is not None:
                out.append(share)
    return tuple(out)


def _share(rule: Element, interface: str, q: QosQueue) -> QosShare | None:
    police = _bps(rule, "police", "rate", "units")
    if q.priority:
        return None if police is None else QosShare(interface, q.service_class, police, 1, police)
    guaranteed = _bps(rule, "min-bandwidth", "unit")
    if guaranteed is None:
        return None
    weight = int(text_of(rule, "bandwidth-remaining", "value", ns=PM) or "1")
    return QosShare(interface, q.service_class, guaranteed, weight, police)


def _bps(rule: Element, *path: str) -> float | None:
    *where, unit_leaf = path
    value = text_of(rule, *where, "value", ns=PM)
    if value is None:
        return None
    unit = text_of(rule, *where, unit_leaf, ns=PM)
    return float(int(value) * (1000 if unit == "kbps" else 1))
