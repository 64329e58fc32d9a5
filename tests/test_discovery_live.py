"""Topology from the routers, end to end on 127.0.0.1: bank-wan's simulated routers with one
link more than the file (`--add-link P-SH:DC2`), streamed over gNMI (HQ polled over NETCONF,
BR6 missing from the inventory at first), the real engine (pushing over NETCONF) and the REST
API behind uvicorn, wired as `controller run` wires them (`start_streams`, the inventory watch).

The learned link becomes an event, a metric, a `topo diff` line and a link of the engine's
graph; cut, it goes down (its LLDP neighbour disappears) and stays known; a cut file link is
down, not a mismatch; BR6 added to the inventory (and HQ given a gnmi_target) are streamed
without a restart, and an intent from BR6, refused while BR6 was missing, is installed on it
(read back over NETCONF) without a restart."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client import CollectorRegistry, generate_latest

from controller.api import create_app
from controller.auth import TOKEN_ENV
from controller.desired import DeviceConfig
from controller.discovery_watch import DiscoveryWatch
from controller.engine import Engine, EngineConfig
from controller.runtime.inventory import InventoryReloader
from controller.southbound.inventory import load_inventory
from controller.southbound.inventory_reload import InventoryWatch
from controller.southbound.netconf import NetconfSouthbound
from controller.store import Store
from controller.topology import LinkState
from harness.netrun import NetworkRun, NetworkSpec
from telemetry.netconf_collector import NetconfCollector
from telemetry.stream_collector import StreamCollector
from telemetry.stream_metrics import register_stream_metrics
from telemetry.stream_setup import round_collector, start_streams
from tests.cli_inprocess import run_cli
from tests.intents_support import LiveServer
from topologies.loader import load

TOKEN = "discovery-test-token"
NEW = "P-SH-DC2"


class Streaming:
    """The lifecycle `controller run` gives the app, cut to the engine, the streams and the
    inventory watch."""

    def __init__(
        self, engine: Engine, collector: StreamCollector, reloader: InventoryReloader
    ) -> None:
        self.engine, self.collector, self.live = engine, collector, self
        self.reloader = reloader
        self.tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self.engine.load()
        self.engine.ready = True
        self.tasks = [
            asyncio.create_task(self.engine.run()),
            asyncio.create_task(self.reloader.run(0.3)),
        ]
        loop = asyncio.get_running_loop()
        await asyncio.to_thread(
            start_streams, self.collector, self.engine, loop, discovery_every_s=0.3
        )

    async def stop(self) -> None:
        self.engine.stop()
        await asyncio.to_thread(self.collector.close)
        for task in self.tasks:
            task.cancel()


def wait(ready: Callable[[], Any], what: str, deadline_s: float = 30.0) -> Any:
    end = time.monotonic() + deadline_s
    while not (got := ready()):
        assert time.monotonic() < end, f"no {what} within {deadline_s}s"
        time.sleep(0.05)
    return got


def edit_inventory(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    doc = yaml.safe_load(path.read_text())
    change(doc)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump(doc, sort_keys=False))
    tmp.replace(path)


@pytest.fixture
def network(tmp_path: Path) -> Iterator[tuple[NetworkRun, Path]]:
    cuts = tmp_path / "cuts.yaml"
    events = [{"kind": "link_down", "link": link, "at": "5s"} for link in (NEW, "BR1-P-SH")]
    cuts.write_text(yaml.safe_dump({"name": "cuts", "events": events}))
    spec = NetworkSpec(topology="bank-wan", inventory=tmp_path / "inv.yaml", scenario=cuts,
                       speed=3600, extra_links=("P-SH:DC2",))  # fmt: skip
    with NetworkRun(spec) as run:
        full = yaml.safe_load(spec.inventory.read_text())
        (tmp_path / "full.yaml").write_text(yaml.safe_dump(full))

        def first(doc: dict[str, Any]) -> None:
            doc["devices"] = [d for d in doc["devices"] if d["name"] != "BR6"]
            next(d for d in doc["devices"] if d["name"] == "HQ").pop("gnmi_target")

        edit_inventory(spec.inventory, first)
        yield run, spec.inventory


def test_routers_teach_the_controller_its_topology(
    network: tuple[NetworkRun, Path], tmp_path: Path
) -> None:
    run, inv = network
    collector = round_collector(load_inventory(inv), inv, NetconfCollector, sample_s=1.0)
    assert isinstance(collector, StreamCollector) and "HQ" not in collector.streams
    store = Store(tmp_path / "np.db")
    south = NetconfSouthbound.from_inventory(inv)
    engine = Engine(load("bank-wan"), store, south, time.time,
                    config=EngineConfig(tick_s=3600, hold_time_s=0))  # fmt: skip
    reloader = InventoryReloader(InventoryWatch(inv), south, engine)
    app = create_app(engine, TOKEN, runtime=Streaming(engine, collector, reloader))
    try:
        with LiveServer(app) as url:
            collector.collect()  # a round: HQ is polled over NETCONF (interfaces, no LLDP)
            watch = wait(lambda: collector.discovery, "discovery")
            assert isinstance(watch, DiscoveryWatch)
            learned_and_cut(watch, engine, collector, url, run)
            http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"})
            body = {"name": "br6-dc1", "src": "BR6", "dst": "DC1", "bandwidth": "1M"}
            assert http.post("/v1/intents", json=body).status_code == 201
            failed = wait(lambda: intent(http, "br6-dc1", "failed"), "br6-dc1 refused")
            assert "BR6: not in the inventory" in failed["reason"], failed
            edit_inventory(inv, lambda doc: doc.update(yaml.safe_load(
                (tmp_path / "full.yaml").read_text())))  # fmt: skip
            # BR6 joins; HQ, polled so far, now streams too
            wait(lambda: watch.routers_added == ["BR6", "HQ"], "BR6 and HQ picked up")
            wait(lambda: collector.health()["BR6"]["samples"], "a sample from BR6")
            wait(lambda: "BR6" in collector.views(), "BR6's neighbours")
            # and the southbound configures it: the intent installed on BR6, without a restart
            wait(lambda: intent(http, "br6-dc1", "verified"), "br6-dc1 verified on BR6")
            assert any(e.kind == "inventory" and "added: BR6" in e.detail for e in engine.events)
            assert len(read_back(tmp_path / "full.yaml", "BR6").sr_policies) == 1
    finally:
        south.close_sync()
        store.close()


def intent(http: httpx.Client, name: str, state: str) -> dict[str, Any] | None:
    got: dict[str, Any] = http.get(f"/v1/intents/{name}").json()
    return got if got["state"] == state else None


def read_back(inventory: Path, device: str) -> DeviceConfig:
    """`device`'s running config, read over NETCONF by a client of its own."""
    south = NetconfSouthbound.from_inventory(inventory)
    try:
        got = south.running_all([device])[device]
    finally:
        south.close_sync()
    assert isinstance(got, DeviceConfig), got
    return got


def learned_and_cut(
    watch: DiscoveryWatch, engine: Engine, collector: StreamCollector, url: str, run: NetworkRun
) -> None:
    wait(lambda: any(lk.id == NEW for lk in engine.topology.links), "the learned link")
    lines = [x.line() for x in watch.diff.mismatches]
    assert len(lines) == 1, lines  # nothing else: HQ's links are seen from both sides
    m = watch.diff.mismatches[0]
    assert (m.kind, m.link, m.a, m.b) == ("routers-only", NEW, "DC2", "P-SH")
    assert any(e.kind == "topology-diff" and NEW in e.cause for e in engine.events)
    assert any(e.kind == "topology" and f"learned {NEW}" in e.cause for e in engine.events)
    registry = CollectorRegistry()
    register_stream_metrics(registry, collector)
    text = generate_latest(registry).decode()
    labels = f'a="DC2",b="P-SH",kind="routers-only",link="{NEW}"'
    assert f"netpilot_topology_mismatch{{{labels}}} 1.0" in text
    assert 'netpilot_topology_mismatches_total{kind="routers-only"} 1.0' in text, text[-3000:]
    assert 'netpilot_gnmi_update_lag_seconds{device="P-SH"}' in text
    assert 'netpilot_topology_links{state="confirmed"}' in text
    done = run_cli("topo", "diff", "--server", url, "--json", env={TOKEN_ENV: TOKEN})
    assert done.returncode == 1, done.stderr  # a mismatch, like diff(1)
    view = json.loads(done.stdout)
    assert [x["link"] for x in view["mismatches"]] == [NEW], view
    assert view["learned"] == [NEW], view
    table = run_cli("topo", "diff", "--server", url, env={TOKEN_ENV: TOKEN})
    assert "routers-only" in table.stdout and NEW in table.stdout
    refused = run_cli("topo", "diff", "--server", url, env={TOKEN_ENV: "wrong"})
    assert refused.returncode != 0 and "refused the token" in refused.stderr
    assert "Traceback" not in refused.stderr
    run.step()  # the scenario cuts the learned link and a file link
    cut = [lk for lk in engine.topology.links if lk.id == NEW]
    wait(lambda: all(lk.state is LinkState.DOWN for lk in engine.topology.links
                     if lk.id in (NEW, "BR1-P-SH")), "both cuts in the engine")  # fmt: skip
    wait(lambda: watch.diff.down >= 1 and "[down now]" in watch.diff.mismatches[-1].detail,
         "the learned link kept, down")  # fmt: skip
    assert [m.link for m in watch.diff.mismatches] == [NEW] and len(cut) == 2
    assert collector.health()["P-SH"]["restarts"] == 0
    assert collector.streams["P-SH"].health.lldp_changes >= 1  # the cut's neighbour delete
