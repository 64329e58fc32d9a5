"""`network run` serves gNMI beside NETCONF: the inventory says where, the streamed state is the
state NETCONF reads, and a cut streamed ON_CHANGE reaches the real engine, which moves the
intents off the link before any telemetry round."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from controller.engine import Engine, EngineConfig
from controller.intentfile import load_intents
from controller.southbound.inventory import load_inventory
from controller.southbound.memory import MemorySouthbound
from controller.store import Store
from controller.topology import LinkState
from harness.netrun import NetworkRun, NetworkSpec
from telemetry.gnmi_inventory import load_gnmi
from telemetry.netconf_collector import NetconfCollector
from telemetry.stream_collector import StreamCollector
from telemetry.stream_setup import round_collector, start_streams
from topologies.loader import load

ROOT = Path(__file__).resolve().parent.parent
CUT = "BR1-P-SH"


def wait(ready: Callable[[], bool], what: str, deadline_s: float = 30.0) -> None:
    end = time.monotonic() + deadline_s
    while not ready():
        assert time.monotonic() < end, f"no {what} within {deadline_s}s"
        time.sleep(0.02)


def test_streamed_cut_reroutes_through_the_engine(tmp_path: Path) -> None:
    inv_path = tmp_path / "inv.yaml"
    spec = NetworkSpec(
        topology="bank-wan", inventory=inv_path, speed=3600,
        scenario=ROOT / "harness/scenarios/bank-wan-link-cut.yaml",
    )  # fmt: skip
    topo = load("bank-wan")
    store = Store(tmp_path / "np.db")
    engine = Engine(topo, store, MemorySouthbound(), time.time, config=EngineConfig(tick_s=3600))
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    with NetworkRun(spec) as run:
        inventory = load_inventory(inv_path)  # the NETCONF part is unchanged
        access = load_gnmi(inv_path)
        assert access is not None and set(access.devices) == set(inventory.names)
        assert {d.port for d in access.devices.values()} == {run.gnmi.server.port}  # type: ignore[union-attr]
        collector = round_collector(inventory, inv_path, lambda inv: None, 0.2)  # type: ignore[arg-type,return-value]
        assert isinstance(collector, StreamCollector) and collector.fallback is None
        netconf = run.devices.collector()  # type: ignore[union-attr]
        try:
            store.apply_intents(
                load_intents(ROOT / "topologies/bank-wan.intents.yaml"), actor="test"
            )
            asyncio.run_coroutine_threadsafe(engine.start(), loop).result(60)
            asyncio.run_coroutine_threadsafe(engine.reconcile("test"), loop).result(60)
            over = {
                n for n, p in engine.placements().items() if CUT in {k[2] for k in p.primary.links}
            }
            assert over, "some intents use the link that will be cut"
            assert start_streams(collector, engine, loop)
            wait(lambda: all(h["samples"] for h in collector.health().values()), "first samples")
            assert not collector.collect().errors
            _same_as_netconf(collector, netconf, access.devices["BR1"].name)
            _mixed_with_polling(inv_path, tmp_path / "mixed.yaml")
            while run.sim.t < 320:
                run.step()  # the cut falls at 310 s; nobody polls
            # a "topology" event alone is not the cut: LLDP discovery sets the topology too
            wait(lambda: any(CUT in e.cause for e in engine.events if e.kind == "topology"),
                 "the streamed cut")  # fmt: skip
            link = next(lk for lk in engine.topology.links if lk.id == CUT)
            kinds = ("topology", "stale-signal")
            told = [(e.kind, e.cause) for e in engine.events if e.kind in kinds]
            assert link.state is LinkState.DOWN, told
            wait(lambda: not any(CUT in {k[2] for k in p.primary.links}
                                 for p in engine.placements().values()), "the reroute")  # fmt: skip
            cause = next(e.cause for e in engine.events if e.kind == "topology")
            assert cause.startswith("telemetry: gNMI: ") and cause.endswith(f"{CUT} down")
        finally:
            collector.close()
            netconf.close()
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            store.close()


def _same_as_netconf(collector: StreamCollector, netconf: object, name: str) -> None:
    streamed = collector.streams[name].assembler.state()
    polled = next(s for s in netconf.collect().states if s.device == name)  # type: ignore[attr-defined]
    assert [i.name for i in streamed.interfaces] == sorted(i.name for i in polled.interfaces)
    by_name = {i.name: i for i in polled.interfaces}
    for iface in streamed.interfaces:
        want = by_name[iface.name]
        assert (iface.oper_up, iface.in_octets, iface.out_octets, iface.crc_errors) == (
            want.oper_up, want.in_octets, want.out_octets, want.crc_errors,
        )  # fmt: skip
        assert iface.rx_power_dbm == want.rx_power_dbm and iface.queues == want.queues
    assert streamed.boot_id == polled.boot_id


def _mixed_with_polling(inv_path: Path, mixed: Path) -> None:
    """A device without `gnmi_target` is polled over NETCONF in the same rounds."""
    doc = yaml.safe_load(inv_path.read_text())
    del doc["devices"][1]["gnmi_target"]
    polled = doc["devices"][1]["name"]
    mixed.write_text(yaml.safe_dump(doc))
    inventory = load_inventory(mixed)
    collector = round_collector(inventory, mixed, NetconfCollector, 0.2)
    assert isinstance(collector, StreamCollector) and polled not in collector.streams
    try:
        collector.start()
        wait(lambda: all(h["samples"] for h in collector.health().values()), "first samples")
        result = collector.collect(5.0)
        assert not result.errors
        assert {s.device for s in result.states} == set(inventory.names)
        stamps = {s.device: s.timestamp for s in result.states}
        streamed = [t for d, t in stamps.items() if d != polled]
        assert stamps[polled] < 1e6 < min(streamed)  # NETCONF stamps simulated s, gNMI Unix time
    finally:
        collector.close()
