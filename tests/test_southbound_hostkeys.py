"""Host keys as routers have them: simulated routers presenting Ed25519, RSA and ECDSA keys, each
reached with host-key checking on (pinned key, or known_hosts), RSA over rsa-sha2-*; a wrong key
refused before any credential is sent, with both fingerprints shown; the ncclient pin."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import pytest
from southbound_support import running, same
from typer.testing import CliRunner

from cli import app
from controller.desired import DeviceConfig, SteeringRule
from controller.southbound.hostkeys import HostKeyError, describe, parse_public_key
from controller.southbound.inventory import load_inventory
from controller.southbound.netconf import NetconfSouthbound
from controller.southbound.serialize import write_revision
from controller.southbound.session import NCCLIENT_VERSION, DeviceSession, SessionOptions
from harness.fleet import Fleet, FleetThread
from harness.sample import ring, sample_network

ROOT = Path(__file__).resolve().parent.parent
TOPO = ring(3)
KINDS = {"r1": "ssh-ed25519", "r2": "ssh-rsa", "r3": "ecdsa-sha2-nistp256"}  # "mixed"
AGREED = {"r1": "ssh-ed25519", "r2": "rsa-sha2-512", "r3": "ecdsa-sha2-nistp256"}


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FleetThread, Path]]:
    directory = tmp_path_factory.mktemp("hostkeys")
    runner = FleetThread(lambda: Fleet(sorted(TOPO.nodes), directory, host_keys="mixed"))
    runner.start()
    runner.fleet.write_inventory(directory / "inventory.yaml")
    (directory / "known_hosts").write_text(runner.fleet.known_hosts())
    yield runner, directory
    runner.stop()


def test_each_key_type_connects_pinned_and_from_known_hosts(
    fleet: tuple[FleetThread, Path],
) -> None:
    _, directory = fleet
    inventory = load_inventory(directory / "inventory.yaml")
    for entry in inventory.devices:
        assert entry.host_key is not None and entry.host_key.startswith(KINDS[entry.name] + " ")
        for pinned, known in ((entry, None), (dataclasses.replace(entry, host_key=None), True)):
            s = DeviceSession(
                pinned,
                options=SessionOptions(connect_attempts=1),
                known_hosts=directory / "known_hosts" if known else None,
            )
            try:
                assert s.get_config("running").device == entry.name
                assert s.host_key_algorithm == AGREED[entry.name]
            finally:
                s.close()


def test_a_transaction_across_all_key_types(fleet: tuple[FleetThread, Path]) -> None:
    runner, directory = fleet
    sb = NetconfSouthbound(load_inventory(directory / "inventory.yaml"))
    network = sample_network(TOPO, 1)
    try:
        assert sb.apply_sync(1, network, {}).committed
        assert same(running(runner), network)
        empty = {n: DeviceConfig(n) for n in network}
        assert sb.apply_sync(2, empty, network).committed
        assert same(running(runner), empty)
    finally:
        sb.close_sync()


def test_a_wrong_key_is_refused_at_once_naming_both_keys(fleet: tuple[FleetThread, Path]) -> None:
    _, directory = fleet
    inventory = load_inventory(directory / "inventory.yaml")
    r1, r2 = inventory.get("r1"), inventory.get("r2")
    waits: list[float] = []
    s = DeviceSession(dataclasses.replace(r2, host_key=r1.host_key), sleep=waits.append)
    with pytest.raises(HostKeyError) as info:
        s.manager()
    assert r2.host_key is not None and r1.host_key is not None
    assert describe(parse_public_key(r2.host_key)) in str(info.value)  # what it presented
    assert describe(parse_public_key(r1.host_key)) in str(info.value)  # what was pinned
    assert waits == []  # not retried: a wrong key is no transient failure


def test_push_output_shows_the_fingerprint_and_bracketed_text(
    fleet: tuple[FleetThread, Path], tmp_path: Path
) -> None:
    """Regression: rich read `[...]` in device errors as markup and dropped it."""
    _, directory = fleet
    text = (directory / "inventory.yaml").read_text()
    inventory = load_inventory(directory / "inventory.yaml")
    r1, r2 = inventory.get("r1"), inventory.get("r2")
    assert r1.host_key is not None and r2.host_key is not None
    inv = tmp_path / "inv.yaml"
    inv.write_text(text.replace(r2.host_key, r1.host_key))
    out = CliRunner().invoke(
        app, ["devices", "push", "--sample", "1", "--topo", "ring:3", "-i", str(inv)]
    )
    assert out.exit_code == 1, out.output
    assert describe(parse_public_key(r2.host_key)) in out.stdout
    bad = tmp_path / "bad.json"  # a steering rule naming a policy that is not there
    rule = SteeringRule("[x]", 9, "fc00::9")
    write_revision(bad, 7, {"r1": DeviceConfig("r1", steering=(rule,))})
    out = CliRunner().invoke(
        app, ["devices", "push", str(bad), "-i", str(directory / "inventory.yaml")]
    )
    assert out.exit_code == 1, out.output
    assert "np:rule[np:name='[x]']" in out.stdout, out.stdout


def test_ncclient_is_pinned_and_has_the_private_parts_we_use(
    fleet: tuple[FleetThread, Path],
) -> None:
    """The fast send and idle tick use ncclient internals: the pin is exact, and this fails
    first when an upgrade moves them."""
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert f"ncclient=={NCCLIENT_VERSION}" in deps
    assert version("ncclient") == NCCLIENT_VERSION
    constraints = (ROOT / "constraints.txt").read_text()
    assert re.search(rf"^ncclient=={re.escape(NCCLIENT_VERSION)}$", constraints, re.M)
    _, directory = fleet
    s = DeviceSession(load_inventory(directory / "inventory.yaml").get("r1"))
    try:
        mgr = s.manager()
        session = mgr._session
        for name in ("_q", "_channel", "_base", "_transport"):
            assert hasattr(session, name), name
        assert session.transport is session._transport and session._transport.sock is not None
        assert session.send.__qualname__.startswith("_fast_send")  # our send is in place
    finally:
        s.close()
