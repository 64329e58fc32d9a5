"""The simulated router as a NETCONF server: RFC 6241 behaviour, both framings, faults, an
independent client (netconf-console2)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree
from ncclient.operations import RPCError
from southbound_support import driver, running, same, start_fleet, wait_settled

from controller.desired import DeviceConfig, QosQueue
from controller.devicestate import DeviceState, InterfaceState, QueueStats
from controller.southbound.errors import ConnectError, DeviceError
from controller.southbound.inventory import load_inventory
from controller.southbound.render import NC, canonical, render_config
from controller.southbound.session import DeviceSession, SessionOptions
from controller.southbound.state_xml import parse_state
from harness.device import RouterOptions
from harness.fleet import FleetThread
from harness.sample import ring, sample_config, sample_network

TOPO = ring(4)
NP = "urn:netpilot:yang:srv6-te"
XPATH = "/np:qos/np:class[np:queue='5']"


def _options(name: str) -> RouterOptions:
    if name == "r3":
        return RouterOptions(netconf11=False)  # end-of-message framing only
    if name == "r4":
        return RouterOptions(candidate=False)  # writable-running only
    return RouterOptions()


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FleetThread, Path]]:
    directory = tmp_path_factory.mktemp("sim")
    runner = start_fleet(["r1", "r2", "r3", "r4"], directory, options=_options)
    runner.fleet.write_inventory(directory / "inventory.yaml")
    yield runner, directory
    runner.stop()


@pytest.fixture
def clean(fleet: tuple[FleetThread, Path]) -> FleetThread:
    runner, _ = fleet

    def reset() -> None:
        for router in runner.fleet.routers.values():
            router.faults.on_rpc.clear()
            router.faults.delay_s = 0.0
            router.faults.refuse_connections = False
            router.set_running(render_config(DeviceConfig(router.name)))

    runner.call(reset)
    return runner


def _session(directory: Path, name: str, **opts: float) -> DeviceSession:
    inv = load_inventory(directory / "inventory.yaml")
    return DeviceSession(inv.get(name), options=SessionOptions(backoff_s=0.01, **opts))  # type: ignore[arg-type]


def _raw_error(session: DeviceSession, call: object) -> RPCError:
    mgr = session.manager()
    with pytest.raises(RPCError) as info:
        call(mgr)  # type: ignore[operator]
    return info.value


def test_netconf_10_framing_router_serves_get_config_and_edits(
    fleet: tuple[FleetThread, Path], clean: FleetThread
) -> None:
    _, directory = fleet
    s = _session(directory, "r3")
    try:
        s.manager()
        assert not s.capabilities.base11
        want = sample_config(TOPO, "r3", 2)
        s.rpc("edit", lambda m: m.edit_config(render_config(want), target="candidate"))
        s.rpc("commit", lambda m: m.commit())
        assert s.get_config("running") == canonical(want)
    finally:
        s.close()


def test_rpc_error_has_the_rfc_6241_fields(
    fleet: tuple[FleetThread, Path], clean: FleetThread
) -> None:
    _, directory = fleet
    a, b = _session(directory, "r1"), _session(directory, "r1")
    try:
        a.rpc("lock", lambda m: m.lock("running"))
        err = _raw_error(b, lambda m: m.lock("running"))
        assert err.tag == "lock-denied" and err.type == "protocol" and err.severity == "error"
        assert "session" in err.message
        info = etree.fromstring(
            err.xml.encode() if isinstance(err.xml, str) else etree.tostring(err.xml)
        )
        assert info.find(f".//{{{NC}}}session-id").text == str(a.manager().session_id)
    finally:
        a.close()
        b.close()


def test_edit_config_operations(fleet: tuple[FleetThread, Path], clean: FleetThread) -> None:
    _, directory = fleet
    s = _session(directory, "r1")
    base = render_config(sample_config(TOPO, "r1", 1))
    try:
        s.rpc("edit", lambda m: m.edit_config(base, target="candidate"))
        # create on an existing entry -> data-exists
        created = render_config(sample_config(TOPO, "r1", 1))
        created.find(f".//{{{NP}}}class").set(f"{{{NC}}}operation", "create")
        assert (
            _raw_error(s, lambda m: m.edit_config(created, target="candidate")).tag == "data-exists"
        )
        # delete of a missing entry -> data-missing; remove of it is fine
        gone = etree.fromstring(
            f'<config xmlns="{NC}"><qos xmlns="{NP}"><class xmlns:nc="{NC}" nc:operation="delete">'
            "<name>nope</name></class></qos></config>"
        )
        assert (
            _raw_error(s, lambda m: m.edit_config(gone, target="candidate")).tag == "data-missing"
        )
        gone.find(f".//{{{NP}}}class").set(f"{{{NC}}}operation", "remove")
        s.rpc("remove", lambda m: m.edit_config(gone, target="candidate"))
        # merge a leaf under default-operation none
        weight = etree.fromstring(
            f'<config xmlns="{NC}"><qos xmlns="{NP}"><class><name>office</name>'
            "<weight>77</weight></class></qos></config>"
        )
        s.rpc("none", lambda m: m.edit_config(weight, target="candidate", default_operation="none"))
        s.rpc("merge", lambda m: m.edit_config(weight, target="candidate"))
        office = [c for c in s.get_config("candidate").qos if c.service_class == "office"]
        assert office[0].weight == 77
        # test-only validates without changing anything
        bad = etree.fromstring(
            f'<config xmlns="{NC}"><qos xmlns="{NP}"><class><name>office</name>'
            "<queue>99</queue></class></qos></config>"
        )
        before = s.get_config("candidate")
        err = _raw_error(
            s, lambda m: m.edit_config(bad, target="candidate", test_option="test-only")
        )
        assert err.tag == "invalid-value"
        assert s.get_config("candidate") == before
        # replace the whole datastore
        only_office = render_config(DeviceConfig("r1", qos=(QosQueue("office", 1, (18,)),)))
        s.rpc(
            "replace",
            lambda m: m.edit_config(only_office, target="candidate", default_operation="replace"),
        )
        assert [c.service_class for c in s.get_config("candidate").qos] == ["office"]
        s.rpc("discard", lambda m: m.discard_changes())
    finally:
        s.close()


def test_unknown_element_is_refused(fleet: tuple[FleetThread, Path], clean: FleetThread) -> None:
    _, directory = fleet
    s = _session(directory, "r1")
    try:
        bogus = etree.fromstring(f'<config xmlns="{NC}"><qos xmlns="{NP}"><klass/></qos></config>')
        err = _raw_error(s, lambda m: m.edit_config(bogus, target="candidate"))
        assert err.tag == "unknown-element" and "klass" in err.message
    finally:
        s.close()


def test_subtree_and_xpath_filters(fleet: tuple[FleetThread, Path], clean: FleetThread) -> None:
    runner, directory = fleet
    want = sample_config(TOPO, "r1", 1)
    runner.call(lambda: runner.fleet.routers["r1"].set_running(render_config(want)))
    s = _session(directory, "r1")
    try:
        flt = etree.fromstring(
            f'<filter xmlns="{NC}" type="subtree"><qos xmlns="{NP}"><class><name>voice</name>'
            "</class></qos></filter>"
        )
        reply = s.rpc("get-config", lambda m: m.get_config("running", filter=flt))
        names = reply.data_ele.findall(f".//{{{NP}}}class/{{{NP}}}name")
        assert [n.text for n in names] == ["voice"]
        assert reply.data_ele.find(f".//{{{NP}}}srv6-te") is None
        reply = s.rpc(
            "xpath",
            lambda m: m.get_config(
                "running", filter=("xpath", ({"np": NP}, "/np:qos/np:class[np:queue='5']"))
            ),
        )
        assert [n.text for n in reply.data_ele.findall(f".//{{{NP}}}class/{{{NP}}}name")] == [
            "voice"
        ]
    finally:
        s.close()


class Counters:
    """A StateProvider as the simulator would supply it."""

    def device_state(self, name: str) -> DeviceState:
        queue = QueueStats("voice", 5, tx_octets=10, tx_packets=1, dropped_packets=2, delay_s=0.001)
        return DeviceState(
            name,
            timestamp=12.5,
            boot_id=3,
            interfaces=(
                InterfaceState("r1-r2", True, 10e9, in_octets=2**64 - 1, out_octets=5,
                               rx_power_dbm=-3.5, delay_s=0.0021, queues=(queue,)),
            ),
        )  # fmt: skip


def test_get_serves_the_provider_state(fleet: tuple[FleetThread, Path], clean: FleetThread) -> None:
    runner, directory = fleet
    router = runner.fleet.routers["r2"]
    old = router.provider
    runner.call(lambda: setattr(router, "provider", Counters()))
    s = _session(directory, "r2")
    try:
        state = s.get_state()
        assert state == Counters().device_state("r2")
        reply = s.rpc("get", lambda m: m.get())
        assert parse_state("r2", reply.data_ele) == state
    finally:
        s.close()
        runner.call(lambda: setattr(router, "provider", old))


def test_faults_refuse_delay_die(fleet: tuple[FleetThread, Path], clean: FleetThread) -> None:
    runner, directory = fleet
    router = runner.fleet.routers["r2"]
    runner.call(lambda: setattr(router.faults, "refuse_connections", True))
    with pytest.raises(ConnectError):
        _session(directory, "r2", connect_attempts=2).manager()
    runner.call(lambda: setattr(router.faults, "refuse_connections", False))
    s = _session(directory, "r2", rpc_timeout_s=0.2)
    try:
        s.manager()
        runner.call(lambda: setattr(router.faults, "delay_s", 0.5))
        with pytest.raises(DeviceError, match="session lost"):
            s.rpc("lock", lambda m: m.lock("candidate"))
        runner.call(lambda: setattr(router.faults, "delay_s", 0.0))
        runner.call(lambda: router.faults.on_rpc.update({"get-config": "die"}))
        with pytest.raises(DeviceError):
            s.get_config("running")
        assert not runner.call(lambda: router.alive)
        runner.run(router.revive())
        assert s.get_config("running") == DeviceConfig("r2")
    finally:
        s.close()


def test_running_only_device_is_undone_with_the_reverse_edit(
    fleet: tuple[FleetThread, Path], clean: FleetThread, tmp_path: Path
) -> None:
    runner, _ = fleet
    sb = driver(runner, tmp_path)
    old, new = sample_network(TOPO, 1), sample_network(TOPO, 2)
    try:
        assert sb.apply_sync(1, old, {}).committed
        assert sb.sessions["r4"].capabilities.candidate is False
        # r1 fails to confirm-commit after r4 already edited its running datastore
        runner.call(lambda: runner.fleet.routers["r1"].faults.on_rpc.update({"commit": "fail"}))
        result = sb.apply_sync(2, new, old)
        assert not result.committed and result.failed_devices == ["r1"]
        wait_settled(runner)
        assert same(running(runner), old)
        assert sb.apply_sync(3, new, old).committed
        assert same(running(runner), new)
    finally:
        sb.close_sync()


def _console(directory: Path, runner: FleetThread, *args: str) -> subprocess.CompletedProcess[str]:
    router = runner.fleet.routers["r1"]
    (directory / "known_hosts").write_text(runner.fleet.known_hosts())
    (directory / "ssh_config").write_text(
        f"Host *\n  UserKnownHostsFile {directory / 'known_hosts'}\n"
    )
    cmd = [
        str(Path(sys.executable).parent / "netconf-console2"),
        "--host", router.host, "--port", str(router.port), "-u", router.username,
        "--privKeyFile", str(runner.fleet.key_file),
        "--hostkey-verify", "--ssh-config", str(directory / "ssh_config"), *args,
    ]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)


def test_netconf_console2_hello_get_config_and_locked_edit(
    fleet: tuple[FleetThread, Path], clean: FleetThread, tmp_path: Path
) -> None:
    runner, _ = fleet
    hello = _console(tmp_path, runner, "--hello")
    assert hello.returncode == 0, hello.stderr
    assert "urn:ietf:params:netconf:capability:candidate:1.0" in hello.stdout
    assert "module=netpilot-srv6-te" in hello.stdout
    edit = tmp_path / "edit.xml"
    edit.write_text(
        f'<qos xmlns="{NP}"><class><name>voice</name><queue>5</queue><dscp>46</dscp>'
        "<priority>true</priority></class></qos>"
    )
    result = _console(
        tmp_path, runner, "--db", "running", "--lock", "--edit-config", str(edit), "--unlock"
    )
    assert result.returncode == 0, result.stderr + result.stdout
    got = _console(tmp_path, runner, "--get-config", "-x", "/np:qos", "-N", f"np={NP}")
    assert got.returncode == 0, got.stderr
    data = etree.fromstring(got.stdout.encode())
    assert data.findtext(f"{{{NP}}}qos/{{{NP}}}class/{{{NP}}}queue") == "5"
    assert [c.service_class for c in running(runner)["r1"].qos] == ["voice"]


def test_host_keys_are_checked_pinned_or_known_hosts(
    fleet: tuple[FleetThread, Path], clean: FleetThread, tmp_path: Path
) -> None:
    import dataclasses

    runner, directory = fleet
    inventory = load_inventory(directory / "inventory.yaml")
    r1, r2 = inventory.get("r1"), inventory.get("r2")
    wrong = dataclasses.replace(r1, host_key=r2.host_key)
    with pytest.raises(ConnectError, match=r"SSHUnknownHostError|host"):
        DeviceSession(wrong, options=SessionOptions(connect_attempts=1)).manager()
    unpinned = dataclasses.replace(r1, host_key=None)
    with pytest.raises(ConnectError):  # no pin and no known_hosts entry: refused
        DeviceSession(unpinned, options=SessionOptions(connect_attempts=1)).manager()
    known = tmp_path / "known_hosts"
    known.write_text(runner.fleet.known_hosts())
    s = DeviceSession(unpinned, known_hosts=known)
    try:
        assert s.get_config("running") == DeviceConfig("r1")
    finally:
        s.close()


def test_failed_unlock_does_not_leave_a_stale_lock(
    fleet: tuple[FleetThread, Path], clean: FleetThread, tmp_path: Path
) -> None:
    """Regression: an unlock that failed after a commit kept our lock; the next push was denied."""
    runner, _ = fleet
    sb = driver(runner, tmp_path)
    r1, r2, r3 = (sample_network(TOPO, i) for i in (1, 2, 3))
    try:
        assert sb.apply_sync(1, r1, {}).committed
        runner.call(lambda: runner.fleet.routers["r1"].faults.on_rpc.update({"unlock": "fail"}))
        assert sb.apply_sync(2, r2, r1).committed  # the revision is in; only the unlock failed
        result = sb.apply_sync(3, r3, r2)
        assert result.committed, result
        assert same(running(runner), r3)
    finally:
        sb.close_sync()
