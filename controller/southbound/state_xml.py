"""DeviceState <-> the config-false `device-state` container of netpilot-srv6-te (lxml).

The simulated routers render it for `<get>`; telemetry collectors parse it back with
`parse_state` (one function, so both sides agree on the YANG shape).
"""

from __future__ import annotations

from typing import Any, TypeAlias

from lxml import etree

from controller.devicestate import (
    DeviceState,
    InterfaceState,
    PolicyState,
    QueueStats,
    UplinkProbe,
)
from controller.southbound.render import NSMAP, q

Element: TypeAlias = Any  # lxml ships no type stubs; an lxml etree._Element

COUNTERS = (
    "in_octets", "out_octets", "in_packets", "out_packets", "in_errors", "out_errors",
    "in_discards", "out_discards", "crc_errors",
)  # fmt: skip
QUEUE_COUNTERS = ("tx_octets", "tx_packets", "dropped_packets")


def _sub(parent: Element, tag: str, text: object) -> Element:
    child = etree.SubElement(parent, q(tag))
    child.text = str(text)
    return child


def _dec(value: float, digits: int) -> str:
    return f"{value:.{digits}f}"


def _interface(parent: Element, i: InterfaceState) -> None:
    el = etree.SubElement(parent, q("interface"))
    _sub(el, "name", i.name)
    _sub(el, "oper-status", "up" if i.oper_up else "down")
    _sub(el, "speed", round(i.speed_bps))
    counters = etree.SubElement(el, q("counters"))
    for attr in COUNTERS:
        _sub(counters, attr.replace("_", "-"), getattr(i, attr) % 2**64)
    if i.rx_power_dbm is not None:
        _sub(el, "rx-power", _dec(i.rx_power_dbm, 3))
    if i.tx_bias_ma is not None:
        _sub(el, "tx-bias", _dec(i.tx_bias_ma, 3))
    if i.delay_s is not None:
        _sub(el, "delay", _dec(i.delay_s, 9))
    for qs in i.queues:
        qe = etree.SubElement(el, q("queue"))
        _sub(qe, "queue", qs.queue)
        _sub(qe, "service-class", qs.service_class)
        for attr in QUEUE_COUNTERS:
            _sub(qe, attr.replace("_", "-"), getattr(qs, attr) % 2**64)
        _sub(qe, "depth", qs.depth_bytes)
        _sub(qe, "delay", _dec(qs.delay_s, 9))


def render_state(state: DeviceState) -> Element:
    """The `device-state` element for one router."""
    root = etree.Element(q("device-state"), nsmap=NSMAP)
    _sub(root, "timestamp", _dec(state.timestamp, 6))
    _sub(root, "boot-id", state.boot_id)
    for i in state.interfaces:
        _interface(root, i)
    for p in state.sr_policies:
        pe = etree.SubElement(root, q("policy"))
        _sub(pe, "color", p.color)
        _sub(pe, "endpoint", p.endpoint)
        _sub(pe, "oper-status", "up" if p.up else "down")
        if p.active_candidate_path is not None:
            _sub(pe, "active-candidate-path", p.active_candidate_path)
    for probe in state.probes:
        _probe(root, probe)
    return root


def _probe(parent: Element, p: UplinkProbe) -> None:
    el = etree.SubElement(parent, q("uplink-probe"))
    _sub(el, "link", p.link)
    _sub(el, "seq", p.seq)
    _sub(el, "at", _dec(p.at, 6))
    _sub(el, "delay", _dec(p.delay_s, 9))
    _sub(el, "jitter", _dec(p.jitter_s, 9))
    _sub(el, "loss", _dec(p.loss, 6))
    _sub(el, "sent", p.sent)


def _parse_probe(el: Element) -> UplinkProbe:
    t = _texts(el)
    return UplinkProbe(
        link=t.get("link", ""),
        seq=int(t.get("seq", "0")),
        at=float(t.get("at", "0")),
        delay_s=float(t.get("delay", "0")),
        jitter_s=float(t.get("jitter", "0")),
        loss=float(t.get("loss", "0")),
        sent=int(t.get("sent", "0")),
    )


def _texts(el: Element | None) -> dict[str, str]:
    """The text of each leaf child by local name, in one pass over the children (a `find` per
    leaf rescans them: about 200 finds per router, a fifth of a telemetry round's CPU)."""
    if el is None:
        return {}
    return {
        c.tag.rpartition("}")[2]: c.text
        for c in el
        if isinstance(c.tag, str) and c.text is not None and len(c) == 0
    }


def _opt_float(texts: dict[str, str], tag: str) -> float | None:
    text = texts.get(tag)
    return None if text is None else float(text)


def _queue(qe: Element) -> QueueStats:
    t = _texts(qe)
    return QueueStats(
        service_class=t.get("service-class", ""),
        queue=int(t.get("queue", "0")),
        depth_bytes=int(t.get("depth", "0")),
        delay_s=float(t.get("delay", "0")),
        **{attr: int(t.get(attr.replace("_", "-"), "0")) for attr in QUEUE_COUNTERS},
    )


def _parse_interface(el: Element) -> InterfaceState:
    t = _texts(el)
    counters = _texts(el.find(q("counters")))
    return InterfaceState(
        name=t.get("name", ""),
        oper_up=t.get("oper-status", "up") == "up",
        speed_bps=float(t.get("speed", "0")),
        rx_power_dbm=_opt_float(t, "rx-power"),
        tx_bias_ma=_opt_float(t, "tx-bias"),
        delay_s=_opt_float(t, "delay"),
        queues=tuple(_queue(qe) for qe in el.findall(q("queue"))),
        **{attr: int(counters.get(attr.replace("_", "-"), "0")) for attr in COUNTERS},
    )


def parse_state(device: str, root: Element) -> DeviceState:
    """Read `device-state` (anywhere under `root`, e.g. a `<get>` reply) into a DeviceState."""
    el = (
        root
        if etree.QName(root).localname == "device-state"
        else root.find(f".//{q('device-state')}")
    )
    if el is None:
        return DeviceState(device=device, timestamp=0.0)
    policies = tuple(_policy(pe) for pe in el.findall(q("policy")))
    t = _texts(el)
    return DeviceState(
        device=device,
        timestamp=float(t.get("timestamp", "0")),
        boot_id=int(t.get("boot-id", "0")),
        interfaces=tuple(_parse_interface(i) for i in el.findall(q("interface"))),
        sr_policies=policies,
        probes=tuple(_parse_probe(p) for p in el.findall(q("uplink-probe"))),
    )


def _policy(pe: Element) -> PolicyState:
    t = _texts(pe)
    return PolicyState(
        color=int(t.get("color", "0")),
        endpoint=t.get("endpoint", ""),
        up=t.get("oper-status", "down") == "up",
        active_candidate_path=t.get("active-candidate-path"),
    )
