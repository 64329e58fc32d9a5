"""`netpilot devices`: start a fleet, list, push, get-config, drift and repair, over real SSH."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from cli_inprocess import run_cli
from typer.testing import CliRunner

from cli import app
from controller.desired import DeviceConfig
from controller.southbound.errors import DeviceError
from controller.southbound.inventory import load_inventory
from controller.southbound.render import render_config
from controller.southbound.serialize import config_from_dict
from controller.southbound.session import DeviceSession, SessionOptions
from harness.bigconfig import big_config

NETPILOT = [sys.executable, "-m", "cli"]


def _run(*args: str) -> dict:  # type: ignore[type-arg]
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, (result.output, result.exception)
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def _start_ring3(inv: Path, *flags: str) -> subprocess.Popen[str]:
    """`netpilot devices start ring:3 --flavor mixed --json` with `flags`, as a real process."""
    command = [*NETPILOT, "devices", "start", "ring:3", "--inventory", str(inv), *flags]
    return subprocess.Popen(
        [*command, "--flavor", "mixed", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _started(proc: subprocess.Popen[str]) -> dict[str, Any]:
    """The JSON `devices start` prints once its routers listen."""
    assert proc.stdout is not None
    return json.loads("".join(iter(proc.stdout.readline, "}\n")) + "}")  # type: ignore[no-any-return]


def test_fleet_push_drift_repair(tmp_path: Path) -> None:
    inv = tmp_path / "inv.yaml"
    proc = _start_ring3(inv, "--host-keys", "mixed")
    try:
        started = _started(proc)
        assert [d["name"] for d in started["devices"]] == ["r1", "r2", "r3"]
        assert inv.is_file()  # routers with each key type, all reached with host keys checked
        kinds = [d["host_key"].split()[0] for d in started["devices"]]
        assert kinds == ["ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256"]
        assert [d["flavor"] for d in started["devices"]] == ["netpilot", "iosxr", "openconfig"]
        listed = _run("devices", "list", "-i", str(inv))
        assert [row["flavor"] for row in listed] == ["netpilot", "iosxr", "openconfig"]
        assert all(row["reachable"] and row["candidate"] for row in listed)
        agreed = [row["host_key_algorithm"] for row in listed]
        assert agreed == ["ssh-ed25519", "rsa-sha2-512", "ecdsa-sha2-nistp256"]
        pushed = _run("devices", "push", "--sample", "1", "--topo", "ring:3", "-i", str(inv))
        assert pushed["committed"] is True
        cfg = config_from_dict(_run("devices", "get-config", "r2", "-i", str(inv)))
        assert len(cfg.sr_policies) == 2 and len(cfg.qos) == 6
        assert not any(d["drifted"] for d in _run("devices", "drift", "-i", str(inv))["devices"])
        # an operator removes r2's QoS behind netpilot's back
        session = DeviceSession(load_inventory(inv).get("r2"))
        try:
            rogue = session.flavor.edit(
                cfg, DeviceConfig("r2", cfg.sr_policies, cfg.steering, ()), full=False
            )
            session.rpc("edit", lambda m: m.edit_config(rogue, target="candidate"))
            session.rpc("commit", lambda m: m.commit())
        finally:
            session.close()
        report = _run("devices", "drift", "-i", str(inv))
        drifted = {d["device"]: d for d in report["devices"] if d["drifted"]}
        assert list(drifted) == ["r2"]
        assert "qos class voice: missing" in drifted["r2"]["changes"]
        repaired = _run("devices", "drift", "--repair", "-i", str(inv))
        assert repaired["repair"]["committed"] is True
        assert not any(d["drifted"] for d in _run("devices", "drift", "-i", str(inv))["devices"])
        _give_up_on_a_big_edit(inv)
    finally:
        proc.send_signal(signal.SIGTERM)
        # regression: a 3,000-policy edit took ~100 s on the routers' shared loop (a quadratic
        # key search) and SIGTERM waited for it; the edit now runs in a worker thread
        assert proc.wait(timeout=30) == 0


def test_start_spreads_routers_over_processes(tmp_path: Path) -> None:
    inv = tmp_path / "inv.yaml"
    proc = _start_ring3(inv, "--processes", "2")
    try:
        started = _started(proc)
        assert [d["flavor"] for d in started["devices"]] == ["netpilot", "iosxr", "openconfig"]
        listed = _run("devices", "list", "-i", str(inv))
        assert [row["name"] for row in listed] == ["r1", "r2", "r3"]
        assert all(row["reachable"] and row["candidate"] for row in listed)
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        assert len(children) == 2  # the routers' processes
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    assert not any(Path(f"/proc/{pid}").exists() for pid in children)


def _give_up_on_a_big_edit(inv: Path) -> None:
    """A client sends r1 a 3,000-policy edit and times out before the reply."""
    s = DeviceSession(load_inventory(inv).get("r1"), options=SessionOptions(rpc_timeout_s=0.3))
    edit = render_config(big_config("r1", 3000))
    try:
        with pytest.raises(DeviceError, match="session lost"):
            s.rpc("edit", lambda m: m.edit_config(edit, target="candidate"))
    finally:
        s.close()


def test_bad_inventory_is_one_clear_line(tmp_path: Path) -> None:
    inv = tmp_path / "inv.yaml"
    entry = (
        "devices:\n  - {name: r1, host: 127.0.0.1, port: 99999, username: u, password: s3cr3t-pw"
    )
    for extra, message in (
        ("}", "device 'r1': no `host_key` and no top-level `known_hosts`"),
        (", host_key: 'ssh-ed25519 AAAA'}", "device 'r1': `port` is 99999"),
    ):
        inv.write_text(entry + extra + "\n")
        out = subprocess.run(
            [*NETPILOT, "devices", "list", "-i", str(inv)], capture_output=True, text=True,
            check=False, env={**os.environ, "COLUMNS": "300"},
        )  # fmt: skip
        assert out.returncode == 2
        assert message in out.stderr
        assert "Traceback" not in out.stderr and "s3cr3t-pw" not in out.stderr


def test_start_refuses_a_non_loopback_address(tmp_path: Path) -> None:
    out = subprocess.run(
        [*NETPILOT, "devices", "start", "ring:3", "--host", "192.0.2.1", "-i", str(tmp_path / "i")],
        capture_output=True, text=True, check=False, env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    assert out.returncode == 2 and "loopback only" in out.stderr


def test_unreachable_device_is_reported_not_raised(tmp_path: Path) -> None:
    inv = tmp_path / "inv.yaml"
    key = tmp_path / "key"
    key.write_text("not a key")
    inv.write_text(
        "devices:\n  - {name: r1, host: 127.0.0.1, port: 1, username: u, key_file: "
        f"{key}, host_key: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA'}}\n"
    )
    start = time.monotonic()
    rows = _run("devices", "list", "-i", str(inv))
    assert rows[0]["reachable"] is False and "connect" in rows[0]["error"]
    assert time.monotonic() - start < 30


def test_start_refuses_an_unknown_host_key_type(tmp_path: Path) -> None:
    out = run_cli("devices", "start", "ring:3", "--host-keys", "dsa", "-i", str(tmp_path / "i"))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "--host-keys 'dsa': use one of ed25519, rsa, ecdsa, mixed" in out.stderr
    out = run_cli("devices", "start", "ring:3", "--flavor", "junos", "-i", str(tmp_path / "i"))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "--flavor 'junos': use one of netpilot, iosxr, openconfig, mixed" in out.stderr
