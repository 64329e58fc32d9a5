"""Operational state of the iosxr flavour (IOS-XR 6.6.3 oper models), into `DeviceState`:

- interface state and bandwidth (kbps): `Cisco-IOS-XR-ifmgr-oper`
  `interface-properties/data-nodes/data-node/system-view/interfaces/interface`;
- counters: `Cisco-IOS-XR-infra-statsd-oper` `infra-statistics/interfaces/interface/latest/
  generic-counters`, with `last-data-time` as the sample time (s) and `last-discontinuity-time`
  (when they were reset) as the boot id;
- optics: `Cisco-IOS-XR-controller-optics-oper` `optics-oper/optics-ports/optics-port[name]/
  optics-lanes/optics-lane[0]` `receive-power` (0.01 dBm) and `laser-bias-current-milli-amps`
  (0.01 mA); a port `Optics<r/s/i/p>` belongs to the interface whose name ends in `<r/s/i/p>`
  (the simulated routers name the port as the interface);
- per-class queue counters: `Cisco-IOS-XR-qos-ma-oper` `qos/interface-table/interface/output/
  service-policy-names/service-policy-instance[netpilot-qos]/statistics/class-stats` (or
  `netpilot-qos-<interface>`, the map of an interface with shares)
  (`general-stats` transmit bytes and packets, total drops; the class named
  `netpilot-tc<queue>-<class>`, iosxr_pm.py); queue depth and delay are not in 6.6.3's
  counters (read as 0);
- LLDP neighbours and SR policy oper state: iosxr_oper.py.
Link delay is not read (6.6.3's `Cisco-IOS-XR-perf-meas-oper` is not loaded).
"""

from __future__ import annotations

import re
import time
from typing import Any

from controller.devicestate import DeviceState, InterfaceState, QueueStats
from controller.southbound.flavors import iosxr_oper
from controller.southbound.flavors.base import Element, element, subtree_filter, text_of
from controller.southbound.flavors.iosxr_pm import QOS_OUT, TC_CLASS
from controller.southbound.flavors.iosxr_shares import interface_of

XR = "http://cisco.com/ns/yang/"
IFMGR = f"{XR}Cisco-IOS-XR-ifmgr-oper"
STATSD = f"{XR}Cisco-IOS-XR-infra-statsd-oper"
OPTICS = f"{XR}Cisco-IOS-XR-controller-optics-oper"
QOSOP = f"{XR}Cisco-IOS-XR-qos-ma-oper"
MODULES = (
    "Cisco-IOS-XR-ifmgr-oper",
    "Cisco-IOS-XR-infra-statsd-oper",
    "Cisco-IOS-XR-controller-optics-oper",
    "Cisco-IOS-XR-qos-ma-oper",
    *iosxr_oper.MODULES,
)
NODE = "0/RP0/CPU0"
COUNTERS = {  # DeviceState attribute -> statsd generic counter
    "in_octets": "bytes-received", "out_octets": "bytes-sent",
    "in_packets": "packets-received", "out_packets": "packets-sent",
    "in_errors": "input-errors", "out_errors": "output-errors",
    "in_discards": "input-drops", "out_discards": "output-drops", "crc_errors": "crc-errors",
}  # fmt: skip
U32 = {"input-errors", "output-errors", "input-drops", "output-drops", "crc-errors"}
QUEUE = {"tx_octets": "transmit-bytes", "tx_packets": "transmit-packets",
         "dropped_packets": "total-drop-packets"}  # fmt: skip
EGRESS_CLASS = re.compile(rf"^{TC_CLASS}(?P<queue>\d+)-(?P<name>.+)$")
PORT_PATH = re.compile(r"(\d+(?:/\d+)+)$")


def state_filter() -> Element:
    return subtree_filter(
        (IFMGR, "interface-properties"),
        (STATSD, "infra-statistics"),
        (OPTICS, "optics-oper"),
        (QOSOP, "qos"),
        *iosxr_oper.TOPS,
    )


def render_state(state: DeviceState) -> list[Element]:
    props = element(IFMGR, "interface-properties")
    node = element(IFMGR, "data-node", element(IFMGR, "data-nodes", props))
    element(IFMGR, "data-node-name", node, NODE)
    view = element(IFMGR, "interfaces", element(IFMGR, "system-view", node))
    stats = element(STATSD, "infra-statistics")
    counters_root = element(STATSD, "interfaces", stats)
    optics = element(OPTICS, "optics-oper")
    ports = element(OPTICS, "optics-ports", optics)
    qos = element(QOSOP, "qos")
    table = element(QOSOP, "interface-table", qos)
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
        element(STATSD, "last-data-time", generic, round(state.timestamp) % 2**32)
        element(STATSD, "last-discontinuity-time", generic, state.boot_id % 2**32)
        _optics(ports, i)
        _queues(table, i)
    return [props, stats, optics, qos, *iosxr_oper.render(state)]


def _optics(ports: Element, i: InterfaceState) -> None:
    if i.rx_power_dbm is None and i.tx_bias_ma is None:
        return
    port = element(OPTICS, "optics-port", ports)
    element(OPTICS, "name", port, i.name)
    lane = element(OPTICS, "optics-lane", element(OPTICS, "optics-lanes", port))
    element(OPTICS, "number", lane, 0)
    if i.tx_bias_ma is not None:
        element(OPTICS, "laser-bias-current-milli-amps", lane, max(0, round(i.tx_bias_ma * 100)))
    if i.rx_power_dbm is not None:
        element(OPTICS, "receive-power", lane, round(i.rx_power_dbm * 100))


def _queues(table: Element, i: InterfaceState) -> None:
    if not i.queues:
        return
    el = element(QOSOP, "interface", table)
    element(QOSOP, "interface-name", el, i.name)
    names = element(QOSOP, "service-policy-names", element(QOSOP, "output", el))
    instance = element(QOSOP, "service-policy-instance", names)
    element(QOSOP, "service-policy-name", instance, QOS_OUT)
    stats = element(QOSOP, "statistics", instance)
    element(QOSOP, "policy-name", stats, QOS_OUT)
    for q in i.queues:
        cs = element(QOSOP, "class-stats", stats)
        element(QOSOP, "class-name", cs, f"{TC_CLASS}{q.queue}-{q.service_class}")
        general = element(QOSOP, "general-stats", cs)
        for attr, tag in QUEUE.items():
            element(QOSOP, tag, general, getattr(q, attr) % 2**64)


# -- parsing ------------------------------------------------------------------------------------
def parse_state(device: str, root: Element) -> DeviceState:
    """The sample time is the counters' `last-data-time` (whole seconds; the time read when
    absent); their `last-discontinuity-time` (when they were last reset) plays the boot id."""
    generic = f".//{{{STATSD}}}latest/{{{STATSD}}}generic-counters"
    times = [text_of(g, "last-data-time", ns=STATSD) for g in root.iterfind(generic)]
    resets = [text_of(g, "last-discontinuity-time", ns=STATSD) for g in root.iterfind(generic)]
    return DeviceState(
        device,
        max((float(t) for t in times if t), default=time.time()),
        boot_id=max((int(r) for r in resets if r), default=0),
        interfaces=parse_interfaces(root),
        sr_policies=iosxr_oper.parse_policies(root),
        neighbors=iosxr_oper.parse_neighbors(root),
    )


def parse_interfaces(root: Element) -> tuple[InterfaceState, ...]:
    counters: dict[str, dict[str, Any]] = {}
    for ci in root.iterfind(f".//{{{STATSD}}}interfaces/{{{STATSD}}}interface"):
        generic = ci.find(f"{{{STATSD}}}latest/{{{STATSD}}}generic-counters")
        counters[text_of(ci, "interface-name", ns=STATSD) or ""] = {
            attr: int(text_of(generic, tag, ns=STATSD) or 0) for attr, tag in COUNTERS.items()
        }
    view = f".//{{{IFMGR}}}system-view/{{{IFMGR}}}interfaces/{{{IFMGR}}}interface"
    names = [text_of(el, "interface-name", ns=IFMGR) or "" for el in root.iterfind(view)]
    optics, queues = _parse_optics(root, names), _parse_queues(root)
    out = []
    for el, name in zip(root.iterfind(view), names, strict=True):
        out.append(
            InterfaceState(
                name,
                oper_up=text_of(el, "state", ns=IFMGR) == "im-state-up",
                speed_bps=float(int(text_of(el, "bandwidth", ns=IFMGR) or 0) * 1000),
                queues=queues.get(name, ()),
                **counters.get(name, {}),
                **optics.get(name, {}),
            )
        )
    return tuple(out)


def _port_owner(port: str, names: list[str]) -> str | None:
    """The interface an optics port belongs to: same name, or `Optics<path>` and `...<path>`."""
    if port in names:
        return port
    path = PORT_PATH.search(port)
    if port.startswith("Optics") and path:
        return next((n for n in names if n.endswith(path.group(1))), None)
    return None


def _parse_optics(root: Element, names: list[str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for port in root.iterfind(f".//{{{OPTICS}}}optics-ports/{{{OPTICS}}}optics-port"):
        owner = _port_owner(text_of(port, "name", ns=OPTICS) or "", names)
        lane = port.find(f"{{{OPTICS}}}optics-lanes/{{{OPTICS}}}optics-lane")
        if owner is None or lane is None:
            continue
        values: dict[str, Any] = {}
        rx = text_of(lane, "receive-power", ns=OPTICS)
        bias = text_of(lane, "laser-bias-current-milli-amps", ns=OPTICS)
        if rx is not None:
            values["rx_power_dbm"] = int(rx) / 100
        if bias is not None:
            values["tx_bias_ma"] = int(bias) / 100
        out[owner] = values
    return out


def _parse_queues(root: Element) -> dict[str, tuple[QueueStats, ...]]:
    out = {}
    for el in root.iterfind(f".//{{{QOSOP}}}interface-table/{{{QOSOP}}}interface"):
        path = (f"{{{QOSOP}}}output/{{{QOSOP}}}service-policy-names/"
                f"{{{QOSOP}}}service-policy-instance")  # fmt: skip
        queues = []
        for instance in el.iterfind(path):
            name = text_of(instance, "service-policy-name", ns=QOSOP)
            if name != QOS_OUT and interface_of(name or "") is None:  # or its shares' map
                continue
            for cs in instance.iterfind(f"{{{QOSOP}}}statistics/{{{QOSOP}}}class-stats"):
                named = EGRESS_CLASS.match(text_of(cs, "class-name", ns=QOSOP) or "")
                if named is None:
                    continue
                general = cs.find(f"{{{QOSOP}}}general-stats")
                queues.append(
                    QueueStats(
                        named["name"],
                        int(named["queue"]),
                        **{a: int(text_of(general, t, ns=QOSOP) or 0) for a, t in QUEUE.items()},
                    )
                )
        out[text_of(el, "interface-name", ns=QOSOP) or ""] = tuple(queues)
    return out
