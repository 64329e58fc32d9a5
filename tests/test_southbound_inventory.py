"""Inventory and credentials: secrets from a file or env, never shown; host keys required."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.southbound.errors import InventoryError
from controller.southbound.inventory import load_inventory

HK = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA"


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "inv.yaml"
    path.write_text(body)
    return path


def test_secrets_file_and_env_supply_credentials_without_showing_them(tmp_path: Path) -> None:
    key = tmp_path / "id"
    key.write_text("k")
    inv = _write(
        tmp_path,
        "devices:\n"
        f"  - {{name: r1, host: 127.0.0.1, port: 830, host_key: '{HK}'}}\n"
        f"  - {{name: r2, host: h, username: ops, password_env: R2_PW, host_key: '{HK}'}}\n",
    )
    secrets = tmp_path / "secrets.yaml"
    secrets.write_text(f"default: {{username: netpilot, key_file: {key}}}\ndevices: {{}}\n")
    inventory = load_inventory(inv, secrets, env={"R2_PW": "hunter2-secret"})
    r1, r2 = inventory.devices
    assert r1.credentials.key_file == key and r1.credentials.username == "netpilot"
    assert r2.credentials.password == "hunter2-secret" and r2.credentials.username == "ops"
    assert r2.port == 830
    assert "hunter2-secret" not in repr(inventory)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("devices: 3\n", "top-level `devices:` list"),
        ("devices:\n  - {host: h}\n", "`name` is missing"),
        (f"devices:\n  - {{name: a, host: h, username: u, host_key: '{HK}'}}\n",
         "no credentials"),
        ("devices:\n  - {name: a, host: h, username: u, password: p, host_key: 'xyz'}\n",
         "`host_key` must be an OpenSSH public key"),
        (f"devices:\n  - {{name: a, host: h, username: u, password_env: NOPE, host_key: {HK!r}}}\n",
         "NOPE, which is not set"),
        (f"devices:\n  - {{name: a, host: h, username: u, password: p, host_key: '{HK}'}}\n"
         f"  - {{name: a, host: h, username: u, password: p, host_key: '{HK}'}}\n",
         "duplicate name"),
    ],
)  # fmt: skip
def test_bad_inventories_name_the_field(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(InventoryError, match=message.replace("`", ".").replace("(", ".")):
        load_inventory(_write(tmp_path, body), env={})


def test_known_hosts_file_stands_in_for_host_key(tmp_path: Path) -> None:
    body = "known_hosts: ~/.ssh/kh\ndevices: [{name: a, host: h, username: u, password: p}]"
    inv = _write(tmp_path, body)
    inventory = load_inventory(inv, env={})
    assert inventory.known_hosts is not None and inventory.devices[0].host_key is None
    with pytest.raises(InventoryError, match="no device 'b'"):
        inventory.get("b")
