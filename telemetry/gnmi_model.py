"""The OpenConfig-style gNMI model of a router's state, both ways: `DeviceState` <-> leaves.

Paths below the target (`I`: interface = link id, `C`: service class), OpenConfig where
OpenConfig has the leaf, `netpilot-*` extensions where it has none:

- `interfaces/interface[name=I]/state/oper-status`: `UP` / `DOWN` (openconfig-interfaces)
- `interfaces/interface[name=I]/state/high-speed`: Mbit/s, double
- `interfaces/interface[name=I]/state/counters/X`: uint64, X in in-octets, out-octets,
  in-pkts, out-pkts, in-errors, out-errors, in-discards, out-discards, in-fcs-errors
- `interfaces/interface[name=I]/state/netpilot-delay`: measured one-way delay, s (extension)
- `interfaces/interface[name=I]/state/netpilot-probe/X`: the latest window of a branch
  router's active probes on uplink I (extension; X in seq, at, delay, jitter, loss, sent)
- `qos/interfaces/interface[interface-id=I]/output/queues/queue[name=C]/state/X`: uint64, X in
  transmit-octets, transmit-pkts, dropped-pkts (openconfig-qos); extensions netpilot-queue-id,
  netpilot-depth-bytes, netpilot-delay (s)
- `components/component[name=I]/transceiver/state/{input-power,laser-bias-current}`: dBm, mA
  (openconfig-platform-transceiver, its per-channel `instant` values flattened)
- `lldp/interfaces/interface[name=I]/neighbors/neighbor[id=R]/state/{system-name,port-id}`
  (openconfig-lldp)
- `system/state/netpilot-boot-id`: changes on every restart (extension)

Interfaces are named by link id (controller/devicestate.py), so a transceiver component is
named after its interface. `encode_leaves` gives the leaves of one state; `DeviceAssembler`
rebuilds a `DeviceState` from updates, refusing unknown paths and wrongly typed values with a
`PathError` naming the path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from controller.devicestate import DeviceState, InterfaceState, QueueStats, UplinkProbe
from telemetry.gnmi_paths import Elems, Keys, PathError, Scalar, text

Leaf = tuple[Elems, Scalar]

IF_COUNTERS = {
    "in-octets": "in_octets",
    "out-octets": "out_octets",
    "in-pkts": "in_packets",
    "out-pkts": "out_packets",
    "in-errors": "in_errors",
    "out-errors": "out_errors",
    "in-discards": "in_discards",
    "out-discards": "out_discards",
    "in-fcs-errors": "crc_errors",
}
QUEUE_LEAVES = {
    "transmit-octets": "tx_octets",
    "transmit-pkts": "tx_packets",
    "dropped-pkts": "dropped_packets",
    "netpilot-queue-id": "queue",
    "netpilot-depth-bytes": "depth_bytes",
    "netpilot-delay": "delay_s",
}
OPTICS = {"input-power": "rx_power_dbm", "laser-bias-current": "tx_bias_ma"}
IF_FLOATS = {"high-speed": "speed_bps", "netpilot-delay": "delay_s"}
OPER_STATUS = "oper-status"
PROBE = "netpilot-probe"
PROBE_LEAVES = {"seq": "seq", "at": "at", "delay": "delay_s", "jitter": "jitter_s"}
PROBE_LEAVES |= {"loss": "loss", "sent": "sent"}

ON_CHANGE_PATHS = (
    "interfaces/interface/state/oper-status",
    "lldp/interfaces/interface/neighbors",
    "interfaces/interface/state/netpilot-probe",
)
"""What the controller subscribes to ON_CHANGE (a probe window as soon as it closes)."""
SAMPLE_PATHS = ("interfaces", "qos", "components", "system")
"""What it subscribes to SAMPLE (everything a telemetry round reads)."""


def _k(**keys: str) -> Keys:
    return tuple(sorted(keys.items()))


def oper_path(iface: str) -> Elems:
    return (("interfaces", ()), ("interface", _k(name=iface)), ("state", ()), (OPER_STATUS, ()))


def neighbor_path(iface: str, system: str) -> Elems:
    return (
        ("lldp", ()), ("interfaces", ()), ("interface", _k(name=iface)), ("neighbors", ()),
        ("neighbor", _k(id=system)),
    )  # fmt: skip


def encode_leaves(state: DeviceState) -> list[Leaf]:
    """Every leaf of `state` (LLDP comes separately: `neighbor_leaves`)."""
    out: list[Leaf] = [((("system", ()), ("state", ()), ("netpilot-boot-id", ())), state.boot_id)]
    for iface in state.interfaces:
        out.extend(_interface_leaves(iface))
    return out + probe_leaves(state.probes)


def probe_leaves(probes: Iterable[UplinkProbe]) -> list[Leaf]:
    """The `netpilot-probe` leaves of each uplink's newest window (published ON_CHANGE as a
    window closes, and in the SAMPLEs' interface containers)."""
    out: list[Leaf] = []
    for link, body in _latest_probes(probes).items():
        base: Elems = (("interfaces", ()), ("interface", _k(name=link)), ("state", ()), (PROBE, ()))
        out.extend(((*base, (leaf, ())), value) for leaf, value in body.items())
    return out


def is_probe(elems: Elems) -> bool:
    """A leaf of an uplink's probe window (an event: not part of a SAMPLE)."""
    return len(elems) == 5 and elems[3][0] == PROBE and elems[0][0] == "interfaces"


def _latest_probes(probes: Iterable[UplinkProbe]) -> dict[str, dict[str, Any]]:
    """Per uplink, its newest probe window (gNMI keeps the latest value of a leaf)."""
    latest: dict[str, UplinkProbe] = {}
    for p in probes:
        if p.link not in latest or p.seq > latest[p.link].seq:
            latest[p.link] = p
    return {
        link: {leaf: getattr(p, f) for leaf, f in PROBE_LEAVES.items()}
        for link, p in latest.items()
    }


def _interface_leaves(iface: InterfaceState) -> list[Leaf]:
    base: Elems = (("interfaces", ()), ("interface", _k(name=iface.name)), ("state", ()))
    out: list[Leaf] = [(oper_path(iface.name), "UP" if iface.oper_up else "DOWN")]
    out.append(((*base, ("high-speed", ())), iface.speed_bps / 1e6))
    if iface.delay_s is not None:
        out.append(((*base, ("netpilot-delay", ())), float(iface.delay_s)))
    counters = (*base, ("counters", ()))
    out.extend(((*counters, (leaf, ())), getattr(iface, f)) for leaf, f in IF_COUNTERS.items())
    qbase: Elems = (
        ("qos", ()), ("interfaces", ()), ("interface", _k(**{"interface-id": iface.name})),
        ("output", ()), ("queues", ()),
    )  # fmt: skip
    for q in iface.queues:
        qstate = (*qbase, ("queue", _k(name=q.service_class)), ("state", ()))
        out.extend(((*qstate, (leaf, ())), getattr(q, f)) for leaf, f in QUEUE_LEAVES.items())
    optics: Elems = (
        ("components", ()), ("component", _k(name=iface.name)), ("transceiver", ()),
        ("state", ()),
    )  # fmt: skip
    for leaf, f in OPTICS.items():
        value = getattr(iface, f)
        if value is not None:
            out.append(((*optics, (leaf, ())), float(value)))
    return out


def neighbor_leaves(iface: str, system: str, port: str) -> list[Leaf]:
    base = (*neighbor_path(iface, system), ("state", ()))
    return [((*base, ("system-name", ())), system), ((*base, ("port-id", ())), port)]


Container = tuple[Elems, dict[str, Any]]
LIST_KEYS = {"queue": "name", "neighbor": "id", "interface": "name", "component": "name"}
"""The key leaf of each list, for JSON_IETF containers (RFC 7951: entries carry their key)."""


def encode_containers(state: DeviceState) -> list[Container]:
    """The same state as a few JSON_IETF containers (what a SAMPLE sends: one update per
    container instead of one per leaf; uint64 as strings, as RFC 7951 wants)."""
    out: list[Container] = [
        ((("system", ()), ("state", ())), {"netpilot-boot-id": str(state.boot_id)})
    ]
    probes = _latest_probes(state.probes)
    for iface in state.interfaces:
        body: dict[str, Any] = {
            OPER_STATUS: "UP" if iface.oper_up else "DOWN",
            "high-speed": iface.speed_bps / 1e6,
            "counters": {leaf: str(getattr(iface, f)) for leaf, f in IF_COUNTERS.items()},
        }
        if iface.delay_s is not None:
            body["netpilot-delay"] = float(iface.delay_s)
        if iface.name in probes:
            body[PROBE] = {
                k: str(v) if isinstance(v, int) else v for k, v in probes[iface.name].items()
            }
        out.append(((("interfaces", ()), ("interface", _k(name=iface.name)), ("state", ())), body))
        queues = [
            {"name": q.service_class, "state": {
                leaf: (float(getattr(q, f)) if f == "delay_s" else str(getattr(q, f)))
                for leaf, f in QUEUE_LEAVES.items()
            }}
            for q in iface.queues
        ]  # fmt: skip
        qpath: Elems = (
            ("qos", ()), ("interfaces", ()), ("interface", _k(**{"interface-id": iface.name})),
            ("output", ()), ("queues", ()),
        )  # fmt: skip
        out.append((qpath, {"queue": queues}))
        optics = {leaf: float(getattr(iface, f)) for leaf, f in OPTICS.items()
                  if getattr(iface, f) is not None}  # fmt: skip
        if optics:
            opath: Elems = (
                ("components", ()), ("component", _k(name=iface.name)), ("transceiver", ()),
                ("state", ()),
            )  # fmt: skip
            out.append((opath, optics))
    return out


def flatten(elems: Elems, node: dict[str, Any]) -> list[Leaf]:
    """A container's leaves (uint64 strings back to ints), for Get and leaf subscriptions."""
    out: list[Leaf] = []
    for key, value in node.items():
        if isinstance(value, dict):
            out.extend(flatten((*elems, (key, ())), value))
        elif isinstance(value, list):
            list_key = LIST_KEYS[key]
            for item in value:
                rest = {k: v for k, v in item.items() if k != list_key}
                out.extend(flatten((*elems, (key, ((list_key, str(item[list_key])),))), rest))
        else:
            leaf = int(value) if isinstance(value, str) and value.isdigit() else value
            out.append(((*elems, (key, ())), leaf))
    return out


def encode_events(state: DeviceState) -> list[Leaf]:
    """The leaves ON_CHANGE watches (oper-status); the rest goes in `encode_containers`."""
    return [(oper_path(i.name), "UP" if i.oper_up else "DOWN") for i in state.interfaces]


Slot = tuple[dict[str, Any], str, Callable[[Elems, Any], Any]]


@dataclass
class DeviceAssembler:
    """One device's state as its updates build it up (not thread-safe: one stream owns it).

    `apply` takes a leaf (scalar) or a container (decoded JSON); each leaf path is checked once
    and its slot cached, so a device's samples after the first cost a dict lookup per leaf."""

    device: str
    timestamp: float = 0.0
    system: dict[str, Any] = field(default_factory=dict)
    interfaces: dict[str, dict[str, Any]] = field(default_factory=dict)
    queues: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    neighbors: dict[str, dict[str, str]] = field(default_factory=dict)
    """interface -> {system-name: port-id} (LLDP)."""
    probes: dict[str, dict[str, Any]] = field(default_factory=dict)
    """uplink -> its latest probe window's fields (`netpilot-probe`)."""
    _slots: dict[Elems, Slot] = field(default_factory=dict, repr=False)

    @property
    def boot_id(self) -> int:
        return int(self.system.get("boot_id", 0))

    def apply(self, elems: Elems, value: Any) -> None:
        """Take one update (a leaf, or a container as decoded JSON); PathError if not in the
        model or of the wrong type."""
        if isinstance(value, dict):
            self._tree(elems, value)
            return
        slot = self._slots.get(elems)
        if slot is None:
            if elems and elems[0][0] == "lldp":
                self._lldp(elems, value)
                return
            slot = self._slots[elems] = self._slot(elems)
        target, name, convert = slot
        target[name] = convert(elems, value)

    def _tree(self, elems: Elems, node: dict[str, Any]) -> None:
        for raw, value in node.items():
            key = raw.rsplit(":", 1)[-1]  # RFC 7951 module prefixes
            if isinstance(value, list):
                list_key = LIST_KEYS.get(key)
                if list_key is None:
                    raise PathError(
                        f"update for {text((*elems, (key, ())))}: not a list of the model"
                    )
                for item in value:
                    if not isinstance(item, dict) or list_key not in item:
                        raise PathError(
                            f"update for {text((*elems, (key, ())))}: entry without its {list_key}"
                        )
                    rest = {k: v for k, v in item.items() if k != list_key}
                    self._tree((*elems, (key, ((list_key, str(item[list_key])),))), rest)
            else:
                self.apply((*elems, (key, ())), value)

    def delete(self, elems: Elems) -> None:
        """A delete: only LLDP neighbours go away in this model; others are ignored."""
        names = _names(elems)
        if names[:5] == ("lldp", "interfaces", "interface", "neighbors", "neighbor"):
            iface, system = _key(elems, 2, "name"), _key(elems, 4, "id")
            self.neighbors.get(iface, {}).pop(system, None)
        elif names[:4] == ("lldp", "interfaces", "interface", "neighbors"):
            self.neighbors.pop(_key(elems, 2, "name"), None)

    def _slot(self, elems: Elems) -> Slot:
        names = _names(elems)
        head = names[0] if names else ""
        if head == "interfaces":
            return self._interface(elems, names)
        if head == "qos":
            return self._queue(elems, names)
        optics = ("components", "component", "transceiver", "state")
        if names[:4] == optics and len(names) == 5 and names[4] in OPTICS:
            return self.interfaces.setdefault(_key(elems, 1, "name"), {}), OPTICS[names[4]], _float
        if names == ("system", "state", "netpilot-boot-id"):
            return self.system, "boot_id", _int
        raise PathError(f"update for {text(elems)}: not a path of the model")

    def _interface(self, elems: Elems, names: tuple[str, ...]) -> Slot:
        if names[:3] != ("interfaces", "interface", "state") or len(names) not in (4, 5):
            raise PathError(f"update for {text(elems)}: not a path of the model")
        leaf = names[-1]
        if len(names) == 5 and names[3] == PROBE and leaf in PROBE_LEAVES:
            probe = self.probes.setdefault(_key(elems, 1, "name"), {})
            return probe, PROBE_LEAVES[leaf], _int if leaf in ("seq", "sent") else _float
        iface = self.interfaces.setdefault(_key(elems, 1, "name"), {})
        if len(names) == 5 and names[3] == "counters" and leaf in IF_COUNTERS:
            return iface, IF_COUNTERS[leaf], _int
        if len(names) == 4 and leaf == OPER_STATUS:
            return iface, "oper_up", _oper
        if len(names) == 4 and leaf in IF_FLOATS:
            return iface, IF_FLOATS[leaf], _mbps if leaf == "high-speed" else _float
        raise PathError(f"update for {text(elems)}: not a path of the model")

    def _queue(self, elems: Elems, names: tuple[str, ...]) -> Slot:
        want = ("qos", "interfaces", "interface", "output", "queues", "queue", "state")
        if names[:7] != want or len(names) != 8 or names[7] not in QUEUE_LEAVES:
            raise PathError(f"update for {text(elems)}: not a path of the model")
        iface = _key(elems, 2, "interface-id")
        queue = self.queues.setdefault(iface, {}).setdefault(_key(elems, 5, "name"), {})
        return queue, QUEUE_LEAVES[names[7]], _float if names[7] == "netpilot-delay" else _int

    def _lldp(self, elems: Elems, value: Any) -> None:
        names = _names(elems)
        want = ("lldp", "interfaces", "interface", "neighbors", "neighbor", "state")
        if names[:6] != want or len(names) != 7 or names[6] not in ("system-name", "port-id"):
            raise PathError(f"update for {text(elems)}: not a path of the model")
        iface, system = _key(elems, 2, "name"), _key(elems, 4, "id")
        ports = self.neighbors.setdefault(iface, {})
        if names[6] == "port-id":
            ports[system] = str(value)
        else:
            ports.setdefault(system, "")

    def state(self) -> DeviceState:
        """The state as the updates so far give it, stamped with the latest timestamp."""
        interfaces = []
        for name in sorted(self.interfaces):
            fields = dict(self.interfaces[name])
            queues = [
                QueueStats(service_class=cls, **q)  # in the device's order
                for cls, q in self.queues.get(name, {}).items()
            ]
            interfaces.append(InterfaceState(name=name, queues=tuple(queues), **fields))
        probes = self.uplink_probes()
        return DeviceState(
            self.device, self.timestamp, self.boot_id, tuple(interfaces), probes=probes
        )

    def uplink_probes(self) -> tuple[UplinkProbe, ...]:
        """Each uplink's latest probe window (complete ones only)."""
        return tuple(
            UplinkProbe(link=link, **fields)
            for link, fields in sorted(self.probes.items())
            if len(fields) == len(PROBE_LEAVES)
        )

    def oper_status(self) -> dict[str, bool]:
        return {n: bool(f["oper_up"]) for n, f in self.interfaces.items() if "oper_up" in f}


def _int(elems: Elems, value: Any) -> int:
    if isinstance(value, str) and value.isdigit():
        return int(value)  # JSON_IETF uint64
    return int(_number(elems, value))


def _float(elems: Elems, value: Any) -> float:
    return float(_number(elems, value))


def _mbps(elems: Elems, value: Any) -> float:
    return float(_number(elems, value)) * 1e6


def _oper(elems: Elems, value: Any) -> bool:
    if value not in ("UP", "DOWN"):
        raise PathError(f"update for {text(elems)}: {value!r} is not UP or DOWN")
    return bool(value == "UP")


def _names(elems: Elems) -> tuple[str, ...]:
    return tuple(name for name, _ in elems)


def _key(elems: Elems, i: int, key: str) -> str:
    value = dict(elems[i][1]).get(key)
    if not value or value == "*":
        raise PathError(f"update for {text(elems)}: element {elems[i][0]!r} needs [{key}=...]")
    return value


def _number(elems: Elems, value: Scalar) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PathError(f"update for {text(elems)}: {value!r} is not a number")
    return value


def neighbors_of(state_neighbors: Mapping[str, tuple[str, str]]) -> list[Leaf]:
    """LLDP leaves of a router: interface -> (neighbour system name, its port)."""
    out: list[Leaf] = []
    for iface, (system, port) in sorted(state_neighbors.items()):
        out.extend(neighbor_leaves(iface, system, port))
    return out
