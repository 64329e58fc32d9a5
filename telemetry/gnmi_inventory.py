"""The gNMI part of an inventory file: which devices stream, where, and how to authenticate.

```yaml
gnmi:                          # top level; without it nothing streams (NETCONF polling only)
  port: 50051                  # default port of the devices' gNMI servers
  ca_file: keys/gnmi-ca.pem    # CA that signed the servers' certificates (TLS always on)
  username: netpilot
  password_file: keys/gnmi-password   # or password_env: VAR
devices:
  - name: BR1
    host: 127.0.0.1
    port: 40001                # NETCONF, as before
    gnmi_target: BR1           # streams over gNMI (prefix target); absent: polled over NETCONF
    gnmi_port: 50052           # optional, overrides gnmi.port
```

`netpilot network run` writes it so. Relative paths are taken from the inventory's folder.
Every problem is one line naming the field (an `InventoryError`); passwords never appear.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from controller.southbound.errors import InventoryError
from controller.textfile import CONFIG_LIMIT, load_yaml


@dataclass(frozen=True)
class GnmiDevice:
    name: str
    host: str
    port: int
    target: str


@dataclass(frozen=True)
class GnmiAccess:
    ca_file: Path
    username: str
    password: str = field(repr=False)
    devices: dict[str, GnmiDevice] = field(default_factory=dict)


def _port(value: Any, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < 65536:
        raise InventoryError(f"{where}: give a TCP port between 1 and 65535")
    return value


def _path(value: Any, base: Path, where: str) -> Path:
    if not isinstance(value, str) or not value.strip():
        raise InventoryError(f"{where}: missing; give a file path")
    path = Path(value).expanduser()
    path = path if path.is_absolute() else base / path
    if not path.is_file():
        raise InventoryError(f"{where}: {path} not found; give an existing file")
    return path


def _password(section: Mapping[str, Any], base: Path, where: str, env: Mapping[str, str]) -> str:
    if "password_file" in section:
        return _path(section["password_file"], base, f"{where}.password_file").read_text().strip()
    var = section.get("password_env")
    if isinstance(var, str) and var:
        if var not in env:
            raise InventoryError(f"{where}.password_env: {var} is not set; export it")
        return env[var]
    raise InventoryError(f"{where}: no password; add `password_file: FILE` or `password_env: VAR`")


def load_gnmi(path: Path, env: Mapping[str, str] | None = None) -> GnmiAccess | None:
    """The gNMI access of the inventory at `path`, or None when it has no `gnmi:` section."""
    env = os.environ if env is None else env
    doc = load_yaml(Path(path), "inventory", CONFIG_LIMIT, redact=True)
    section = doc.get("gnmi") if isinstance(doc, dict) else None
    if section is None:
        return None
    where = f"inventory {path}: gnmi"
    if not isinstance(section, dict):
        raise InventoryError(f"{where}: must be a mapping with port, ca_file, username, ...")
    base = Path(path).parent
    username = section.get("username")
    if not isinstance(username, str) or not username:
        raise InventoryError(f"{where}.username: missing; add `username: ...`")
    access = GnmiAccess(
        _path(section.get("ca_file"), base, f"{where}.ca_file"),
        username,
        _password(section, base, where, env),
    )
    default_port = section.get("port")
    for i, entry in enumerate(doc.get("devices") or []):
        if not isinstance(entry, dict) or "gnmi_target" not in entry:
            continue
        name = str(entry.get("name", f"devices[{i}]"))
        here = f"inventory {path}, device {name!r}"
        port = entry.get("gnmi_port", default_port)
        if port is None:
            raise InventoryError(f"{here}: gnmi_target without a port; add gnmi.port or gnmi_port")
        access.devices[name] = GnmiDevice(
            name, str(entry.get("host", "127.0.0.1")), _port(port, f"{here}: gnmi_port"),
            str(entry["gnmi_target"]),
        )  # fmt: skip
    return access
