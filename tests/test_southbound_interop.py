"""Interop defects of issue 14, each a regression test against real simulated routers over
NETCONF/SSH: linear edit-config that never stalls the routers sharing a loop (and SIGTERM heard
after a client gave up on a big edit), one unparseable device does not abort `devices drift`,
rpc-errors as RFC 6241 wants them (no malformed-message to 1.0 clients, no 5 MB echo, an
error-path on value errors), device text printed as text (not rich markup)."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree
from southbound_support import RawNetconf, driver, start_fleet
from typer.testing import CliRunner

from cli import app
from controller.desired import DeviceConfig
from controller.southbound.inventory import load_inventory
from controller.southbound.render import NC, canonical, render_config, render_edit
from controller.southbound.serialize import write_revision
from controller.southbound.session import DeviceSession, SessionOptions
from controller.southbound.yang import NS, Schema
from harness.bigconfig import big_config
from harness.datastore import RpcError, apply_edit, new_datastore
from harness.fleet import FleetThread
from harness.sample import ring, sample_network

TOPO = ring(3)
NETPILOT = [sys.executable, "-m", "cli"]


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FleetThread, Path]]:
    directory = tmp_path_factory.mktemp("interop")
    runner = start_fleet(sorted(TOPO.nodes), directory)
    runner.fleet.write_inventory(directory / "inventory.yaml")
    yield runner, directory
    runner.stop()


def _session(directory: Path, name: str, **opts: float) -> DeviceSession:
    entry = load_inventory(directory / "inventory.yaml").get(name)
    return DeviceSession(entry, options=SessionOptions(backoff_s=0.01, **opts))  # type: ignore[arg-type]


def _raw(runner: FleetThread, name: str, base11: bool) -> RawNetconf:
    router = runner.fleet.routers[name]
    key = " ".join(router.host_key.export_public_key("openssh").decode().split()[:2])
    return RawNetconf(router.host, router.port, key, runner.fleet.key_file, base11)


# -- edit-config: linear, off the loop ---------------------------------------------------------
def test_datastore_edits_by_key_in_big_lists() -> None:
    """The keyed index finds the entry each edit addresses: merge, replace, remove, create."""
    schema = Schema()
    store = new_datastore()
    apply_edit(schema, store, render_config(big_config("r1", 300)), "merge")
    new = big_config("r1", 300, revision=2)
    apply_edit(schema, store, render_edit(big_config("r1", 300), new), "merge")
    from controller.southbound.render import parse_config

    assert parse_config("r1", store) == canonical(new)
    fewer = DeviceConfig("r1", new.sr_policies[:250])
    apply_edit(schema, store, render_edit(new, fewer), "merge")
    assert parse_config("r1", store) == canonical(fewer)
    again = render_config(DeviceConfig("r1", new.sr_policies[249:251]))
    for policy in again.iter(f"{{{NS}}}policy"):
        policy.set(f"{{{NC}}}operation", "create")
    with pytest.raises(RpcError) as info:  # the 250th exists: create refused, path named
        apply_edit(schema, store, again, "merge")
    assert (
        info.value.tag == "data-exists" and info.value.path == "/np:srv6-te/np:policies/np:policy"
    )


def test_a_held_edit_on_one_router_does_not_stall_another(
    fleet: tuple[FleetThread, Path],
) -> None:
    """edit-config runs in a worker thread: while r1's edit is held there, r2 (same loop)
    answers get-config, and r1 commits the edit once released."""
    runner, directory = fleet
    r1 = runner.fleet.routers["r1"]
    gate = threading.Event()
    runner.call(lambda: setattr(r1.faults, "hold", gate))
    a, b = _session(directory, "r1"), _session(directory, "r2")
    want = big_config("r1", 300)
    outcome: list[object] = []

    def edit() -> None:
        try:
            a.rpc("edit", lambda m: m.edit_config(render_config(want), target="candidate"))
            outcome.append("ok")
        except Exception as error:  # recorded for the assertion below
            outcome.append(error)

    try:
        worker = threading.Thread(target=edit)
        worker.start()
        while not runner.call(r1.busy.locked):
            assert worker.is_alive(), outcome
            gate.wait(0.01)
        assert b.get_config("running") == DeviceConfig("r2")  # r1's edit is still held
        assert worker.is_alive() and not outcome
        gate.set()
        worker.join(timeout=60)
        assert outcome == ["ok"]
        got = a.get_config("candidate")  # merged over whatever r1 runs (other tests' config)
        assert set(canonical(want).sr_policies) <= set(got.sr_policies)
        a.rpc("discard", lambda m: m.discard_changes())
    finally:
        gate.set()
        runner.call(lambda: setattr(r1.faults, "hold", None))
        a.close()
        b.close()


# -- drift: one row per device -----------------------------------------------------------------
def test_drift_gives_each_device_its_row_when_one_config_does_not_parse(
    fleet: tuple[FleetThread, Path], tmp_path: Path
) -> None:
    runner, _ = fleet
    sb = driver(runner, tmp_path)
    network = sample_network(TOPO, 1)
    try:
        assert sb.apply_sync(1, network, {}).committed
    finally:
        sb.close_sync()
    expected = tmp_path / "expected.json"
    write_revision(expected, 1, network)

    def corrupt() -> None:  # what a device with another idea of the model might hold
        for bandwidth in runner.fleet.routers["r2"].running.iter(f"{{{NS}}}bandwidth"):
            bandwidth.text = "lots"

    runner.call(corrupt)
    inv = str(tmp_path / "inventory.yaml")
    out = CliRunner().invoke(app, ["devices", "drift", "-i", inv, "--expected", str(expected)])
    assert out.exit_code == 0, out.output
    assert "<bandwidth> is 'lots'" in out.stdout  # r2's own row says why
    result = CliRunner().invoke(
        app, ["devices", "drift", "-i", inv, "--expected", str(expected), "--json"]
    )
    rows = {r["device"]: r for r in json.loads(result.stdout)["devices"]}
    assert sorted(rows) == ["r1", "r2", "r3"]
    assert not rows["r1"]["drifted"] and not rows["r3"]["drifted"]
    assert rows["r2"]["drifted"] and "expected an integer" in rows["r2"]["changes"][0]
    runner.call(lambda: runner.fleet.routers["r2"].set_running(render_config(DeviceConfig("r2"))))


# -- rpc-errors ---------------------------------------------------------------------------------
RPC = '<rpc xmlns="urn:ietf:params:xml:ns:netconf:base:1.0" message-id="{id}">{body}</rpc>'
TWO_OPS = RPC.format(id=1, body="<discard-changes/><discard-changes/>")


def _errors(reply: bytes) -> list[dict[str, str]]:
    root = etree.fromstring(reply)
    return [
        {etree.QName(c).localname: (c.text or "") for c in err}
        for err in root.iter(f"{{{NC}}}rpc-error")
    ]


@pytest.mark.parametrize("base11", [False, True])
def test_malformed_message_only_to_base11_sessions(
    fleet: tuple[FleetThread, Path], base11: bool
) -> None:
    runner, _ = fleet
    raw = _raw(runner, "r3", base11)
    try:
        for message in (TWO_OPS.encode(), b"<rpc message-id='2'><get>"):
            [err] = _errors(raw.rpc(message))
            assert err["error-tag"] == ("malformed-message" if base11 else "operation-failed")
            assert err["error-type"] == "rpc"
    finally:
        raw.close()


def test_a_huge_bad_value_is_not_echoed_and_value_errors_name_the_node(
    fleet: tuple[FleetThread, Path],
) -> None:
    runner, _ = fleet
    raw = _raw(runner, "r3", base11=True)
    huge = "9" * 5_000_000
    edit = (
        '<edit-config><target><candidate/></target><config><qos xmlns="{ns}"><class>'
        "<name>voice</name><queue>{q}</queue></class></qos></config></edit-config>"
    )
    try:
        reply = raw.rpc(RPC.format(id=3, body=edit.format(ns=NS, q=huge)))
        assert len(reply) < 4096, len(reply)
        [err] = _errors(reply)
        assert err["error-tag"] == "invalid-value"
        assert "5000000 characters" in err["error-message"]
        reply = raw.rpc(RPC.format(id=4, body=edit.format(ns=NS, q="99")))
        root = etree.fromstring(reply)
        path = root.find(f".//{{{NC}}}error-path")
        assert path.text == "/np:qos/np:class[np:name='voice']/np:queue"
        assert path.nsmap["np"] == NS  # the prefix is declared: a client can evaluate it
    finally:
        raw.close()
