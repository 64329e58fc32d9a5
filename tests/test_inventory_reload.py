"""The in-process NETCONF southbound follows its inventory file (controller/southbound/
inventory_reload.py), against simulated routers over real SSH: a router added is pushed to
without a new southbound (host key checked), a router removed while netpilot holds config for it
is kept with the reason, one removed otherwise is gone, a changed entry gets a new session, and a
bad edit is one line naming the file and the field, reported once, the old inventory in force;
NETCONF telemetry polls an added router from its next round.
(ShardedSouthbound's reload runs in `controller run`: tests/test_sharded_runtime.py.)"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from southbound_support import running, same, start_fleet

from controller.southbound.errors import InventoryError
from controller.southbound.inventory import load_inventory
from controller.southbound.inventory_reload import InventoryWatch, plan_reload
from controller.southbound.netconf import NetconfSouthbound
from harness.fleet import FleetThread
from harness.sample import ring, sample_network
from telemetry.netconf_collector import NetconfCollector

NAMES = ["r1", "r2", "r3"]


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FleetThread]:
    runner = start_fleet(NAMES, tmp_path_factory.mktemp("reload"))
    try:
        yield runner
    finally:
        runner.stop()


def save(path: Path, doc: dict[str, Any], names: list[str]) -> None:
    devices = [d for d in doc["devices"] if d["name"] in names]
    tmp = path.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump({**doc, "devices": devices}, sort_keys=False))
    tmp.replace(path)


def test_routers_added_and_removed_without_a_new_southbound(
    fleet: FleetThread, tmp_path: Path
) -> None:
    full = yaml.safe_load(fleet.fleet.write_inventory(tmp_path / "full.yaml").read_text())
    path = tmp_path / "inventory.yaml"
    save(path, full, ["r1", "r2"])
    watch = InventoryWatch(path)
    south = NetconfSouthbound(load_inventory(path), max_workers=4)
    net = sample_network(ring(3), 1)
    try:
        assert watch.poll() is None  # unchanged
        refused = south.apply_sync(1, net, {})
        assert not refused.committed and "not in the inventory" in (
            refused.devices["r3"].error or ""
        )
        save(path, full, NAMES)
        change = south.reload(watch.poll() or pytest.fail("the change was not seen"))
        assert change.added == ("r3",) and not change.removed and not change.refused
        assert south.known_devices() == frozenset(NAMES)
        assert south.apply_sync(2, net, {}).committed  # r3 reached, its host key checked
        assert same(running(fleet), net)
        # r2 removed while netpilot holds config there: kept; r1 removed otherwise: gone
        save(path, full, ["r3"])
        change = south.reload(watch.poll() or pytest.fail("not seen"), keep={"r2"})
        assert change.removed == ("r1",) and list(change.refused) == ["r2"]
        assert "holds config" in change.line() and "removed: r1" in change.line()
        assert south.known_devices() == frozenset({"r2", "r3"})
        # a changed entry (a wrong host key pinned) gets a new session, which checks it
        wrong = {**full, "devices": [dict(d) for d in full["devices"]]}
        r3 = next(d for d in wrong["devices"] if d["name"] == "r3")
        r3["host_key"] = next(d for d in full["devices"] if d["name"] == "r1")["host_key"]
        save(path, wrong, ["r2", "r3"])
        change = south.reload(watch.poll() or pytest.fail("not seen"), keep={"r2"})
        assert change.changed == ("r3",)
        got = south.running_all(["r3"])["r3"]
        assert isinstance(got, str) and "host key" in got.lower(), got
    finally:
        south.close_sync()


def test_netconf_telemetry_polls_a_router_added(fleet: FleetThread, tmp_path: Path) -> None:
    full = load_inventory(fleet.fleet.write_inventory(tmp_path / "full.yaml"))
    collector = NetconfCollector(dataclasses.replace(full, devices=full.devices[:2]))
    try:
        assert collector.add(full, ["r2", "r3"]) == ["r3"]  # r2 polled already
        got = collector.collect(deadline_s=10)
        assert sorted(s.device for s in got.states) == NAMES, got.errors
    finally:
        collector.close()


def test_a_bad_edit_is_one_line_and_the_old_inventory_stays(
    fleet: FleetThread, tmp_path: Path
) -> None:
    full = yaml.safe_load(fleet.fleet.write_inventory(tmp_path / "full.yaml").read_text())
    path = tmp_path / "inventory.yaml"
    save(path, full, ["r1"])
    watch = InventoryWatch(path)
    old = load_inventory(path)
    path.write_text("devices: [ {name: r2\n")
    with pytest.raises(InventoryError) as bad:
        watch.poll()
    assert str(path) in str(bad.value) and len(str(bad.value).splitlines()) == 1
    assert watch.poll() is None and watch.errors == 1  # reported once, until the next edit
    no_user = [{k: v for k, v in d.items() if k != "username"} for d in full["devices"]]
    save(path, {**full, "devices": no_user}, ["r1", "r2"])
    with pytest.raises(InventoryError, match=r"device 'r1': `username` is missing"):
        watch.poll()
    # what a caller keeps meanwhile: the old inventory, which plans no change against itself
    assert plan_reload(old, old).empty
    save(path, full, ["r1", "r2"])
    assert [d.name for d in (watch.poll() or pytest.fail("not seen")).devices] == ["r1", "r2"]
