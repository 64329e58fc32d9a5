"""Turn device states into link telemetry: rates, utilisation per link and class, loss, delay.

`TelemetryProcessor.ingest(state)` takes one router's `DeviceState`: it computes rates from the
counters (telemetry/rates: wrap- and restart-safe), writes series into a `TelemetryStore`, keeps
the latest `LinkTelemetry` per directed link, and calls `on_event` right away when an interface
changes oper-status or a device restarts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from controller.devicestate import DeviceState, InterfaceState
from controller.topology import Topology
from telemetry.events import EventSink, TopologyEvent
from telemetry.rates import CounterSample, RateTracker
from telemetry.store import SeriesKey, TelemetryStore, series

PLAUSIBLE = 1.5
"""A rate above 1.5 x line rate is a counter reset, not traffic."""
MIN_PACKET_BITS = 64 * 8


@dataclass
class LinkTelemetry:
    """The latest view of one directed link (src router, link id)."""

    link: str
    src: str
    dst: str
    t: float = 0.0
    oper_up: bool = True
    speed_bps: float = 0.0
    out_bps: float | None = None
    utilisation: float | None = None
    class_utilisation: dict[str, float] = field(default_factory=dict)
    class_loss: dict[str, float] = field(default_factory=dict)
    class_delay_s: dict[str, float] = field(default_factory=dict)
    loss: float | None = None
    delay_s: float | None = None
    crc_per_s: float | None = None
    rx_power_dbm: float | None = None
    tx_bias_ma: float | None = None


def _ratio(part: float | None, rest: float | None) -> float | None:
    if part is None or rest is None:
        return None
    total = part + rest
    return part / total if total > 0 else 0.0


class TelemetryProcessor:
    def __init__(
        self, topology: Topology, store: TelemetryStore, on_event: EventSink | None = None
    ) -> None:
        self.topology = topology
        self.store = store
        self.on_event = on_event
        self.rates = RateTracker()
        self.links: dict[tuple[str, str], LinkTelemetry] = {}
        self._boot: dict[str, int] = {}
        self._keys: dict[tuple[str, str, str, str], SeriesKey] = {}

    def ingest(self, state: DeviceState) -> None:
        dev, t = state.device, state.timestamp
        previous_boot = self._boot.get(dev)
        self._boot[dev] = state.boot_id
        if previous_boot is not None and previous_boot != state.boot_id:
            self._emit(TopologyEvent(t, "device_restart", dev))
        for iface in state.interfaces:
            self._interface(state, iface)

    def _emit(self, event: TopologyEvent) -> None:
        if self.on_event is not None:
            self.on_event(event)

    def _interface(self, state: DeviceState, iface: InterfaceState) -> None:
        dev, t = state.device, state.timestamp
        key = (dev, iface.name)
        lt = self.links.get(key)
        if lt is None:
            dst = next((lk.dst for lk in self.topology.out_links(dev) if lk.id == iface.name), "")
            lt = self.links[key] = LinkTelemetry(iface.name, dev, dst, oper_up=iface.oper_up)
        elif lt.oper_up != iface.oper_up:
            self._emit(
                TopologyEvent(t, "link_up" if iface.oper_up else "link_down", dev, iface.name)
            )
        lt.t, lt.oper_up, lt.speed_bps = t, iface.oper_up, iface.speed_bps
        self._rates(state, iface, lt)
        lt.delay_s, lt.rx_power_dbm, lt.tx_bias_ma = (
            iface.delay_s,
            iface.rx_power_dbm,
            iface.tx_bias_ma,
        )
        self._record(lt)

    def _rate(
        self, state: DeviceState, key: tuple[str, ...], value: int, limit: float
    ) -> float | None:
        sample = CounterSample(state.timestamp, value, state.boot_id)
        return self.rates.update(
            (state.device, *key), sample, limit * PLAUSIBLE if limit > 0 else None
        )

    def _rates(self, state: DeviceState, iface: InterfaceState, lt: LinkTelemetry) -> None:
        speed = iface.speed_bps
        pps = speed / MIN_PACKET_BITS
        octets = self._rate(state, (iface.name, "out_octets"), iface.out_octets, speed / 8)
        lt.out_bps = None if octets is None else 8 * octets
        lt.utilisation = None if lt.out_bps is None or speed <= 0 else lt.out_bps / speed
        tx = self._rate(state, (iface.name, "out_packets"), iface.out_packets, pps)
        drops = self._rate(state, (iface.name, "out_discards"), iface.out_discards, pps)
        lt.loss = _ratio(drops, tx)
        lt.crc_per_s = self._rate(state, (iface.name, "crc"), iface.crc_errors, pps)
        for q in iface.queues:
            c = q.service_class
            qo = self._rate(state, (iface.name, c, "tx_octets"), q.tx_octets, speed / 8)
            qt = self._rate(state, (iface.name, c, "tx_packets"), q.tx_packets, pps)
            qd = self._rate(state, (iface.name, c, "dropped"), q.dropped_packets, pps)
            if qo is not None and speed > 0:
                lt.class_utilisation[c] = 8 * qo / speed
            loss = _ratio(qd, qt)
            if loss is not None:
                lt.class_loss[c] = loss
            lt.class_delay_s[c] = q.delay_s

    def _key(self, metric: str, lt: LinkTelemetry, cls: str = "") -> SeriesKey:
        cache_key = (metric, lt.src, lt.link, cls)
        key = self._keys.get(cache_key)
        if key is None:
            labels = {"link": lt.link, "src": lt.src} | ({"cls": cls} if cls else {})
            key = self._keys[cache_key] = series(metric, **labels)
        return key

    def _record(self, lt: LinkTelemetry) -> None:
        put = self.store.append
        for metric, value in (
            ("utilisation", lt.utilisation),
            ("loss", lt.loss),
            ("delay_s", lt.delay_s),
            ("crc_per_s", lt.crc_per_s),
            ("rx_power_dbm", lt.rx_power_dbm),
            ("tx_bias_ma", lt.tx_bias_ma),
            ("oper_up", 1.0 if lt.oper_up else 0.0),
        ):
            if value is not None:
                put(self._key(metric, lt), lt.t, value)
        for c, u in lt.class_utilisation.items():
            put(self._key("class_utilisation", lt, c), lt.t, u)
        for c, v in lt.class_loss.items():
            put(self._key("class_loss", lt, c), lt.t, v)

    def snapshot(self) -> list[LinkTelemetry]:
        return [self.links[k] for k in sorted(self.links)]
