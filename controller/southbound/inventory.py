"""Inventory of NETCONF devices (YAML) and their credentials.

```yaml
known_hosts: ~/.ssh/known_hosts      # optional; used for devices without host_key
devices:
  - name: r1
    host: 127.0.0.1
    port: 40001
    username: netpilot
    key_file: /path/to/client_ed25519   # or password: ..., or password_env: VAR
    host_key: ssh-ed25519 AAAAC3Nza...  # pinned host key (or rely on known_hosts)
    flavor: iosxr                       # optional: netpilot (default) | iosxr | openconfig
    locator: fcbb:bb00:1::/48           # optional: the router's SRv6 locator (iosxr writes it)
    interfaces: [r1-r2, r1-r3]          # optional: where iosxr attaches QoS and steering
```

A secrets file (YAML `devices: {name: {username, password | key_file}}` plus an optional
`default:` entry) overrides credentials so that the inventory itself can be shared. Passwords
never appear in `repr`, logs or error messages.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from controller.errors import NetpilotError, NotFoundError
from controller.southbound.errors import InventoryError
from controller.textfile import CONFIG_LIMIT, load_yaml

SECRET_KEYS = ("username", "password", "password_env", "key_file")
FLAVORS = ("netpilot", "iosxr", "openconfig")
"""The YANG models a device speaks (controller/southbound/flavors/, docs/southbound-flavors.md)."""


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str | None = field(default=None, repr=False)
    key_file: Path | None = None


@dataclass(frozen=True)
class DeviceFacts:
    """What a flavour needs to know of the router itself (from the topology, written by
    `devices start`): its SRv6 locator prefix and the interfaces its QoS and steering policies
    are attached to (the iosxr flavour; docs/southbound-flavors.md)."""

    locator: str | None = None
    interfaces: tuple[str, ...] = ()


@dataclass(frozen=True)
class DeviceEntry:
    name: str
    host: str
    port: int
    credentials: Credentials
    host_key: str | None = None  # "ssh-ed25519 AAAA..." (OpenSSH public key)
    flavor: str = "netpilot"  # one of FLAVORS
    facts: DeviceFacts = field(default_factory=DeviceFacts)


@dataclass(frozen=True)
class Inventory:
    devices: tuple[DeviceEntry, ...]
    known_hosts: Path | None = None
    source: Path | None = None

    def get(self, name: str) -> DeviceEntry:
        for dev in self.devices:
            if dev.name == name:
                return dev
        known = ", ".join(d.name for d in self.devices[:5])
        raise InventoryError(f"no device {name!r} in the inventory; known devices: {known}")

    @property
    def names(self) -> list[str]:
        return [d.name for d in self.devices]


def _read_yaml(path: Path, what: str) -> Any:
    """Parsed YAML; a syntax error names the place, never the line (it may hold a password)."""
    try:
        return load_yaml(path, what, CONFIG_LIMIT, redact=True)
    except NotFoundError:
        raise InventoryError(f"{what} {path} not found; give an existing file") from None
    except NetpilotError as error:
        raise InventoryError(str(error)) from None


def _secrets(doc: Any, path: Path | None) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """(default entry, entries by device) of a secrets file; problems name keys, never values."""
    where = f"secrets file {path}"
    if doc is None:
        return {}, {}
    if not isinstance(doc, dict):
        raise InventoryError(f"{where}: needs a mapping with `devices:` and/or `default:`")
    _known_keys(doc, ("devices", "default"), where)
    default = _secret_entry(doc.get("default"), f"{where}, default")
    devices = doc.get("devices") or {}
    if not isinstance(devices, dict):
        raise InventoryError(f"{where}: `devices` must map device names to their credentials")
    entries = {str(k): _secret_entry(v, f"{where}, device {str(k)!r}") for k, v in devices.items()}
    return default, entries


def _secret_entry(entry: Any, where: str) -> dict[str, Any]:
    if entry is None:
        return {}
    if not isinstance(entry, dict):
        raise InventoryError(f"{where}: must be a mapping like `{{username: ..., password: ...}}`")
    _known_keys(entry, SECRET_KEYS, where)
    return entry


def _known_keys(entry: Mapping[Any, Any], allowed: tuple[str, ...], where: str) -> None:
    for key in entry:
        if key not in allowed:
            raise InventoryError(f"{where}: {_unknown(key, allowed)}; use {', '.join(allowed)}")


def _unknown(key: object, allowed: tuple[str, ...]) -> str:
    """Name an unknown key only when it is a misspelt known one: `{password hunter2}` (a
    forgotten colon) is a key too, and must not be shown."""
    text = str(key)
    close = difflib.get_close_matches(text, allowed, n=1, cutoff=0.8)
    if close and text.isidentifier() and len(text) <= len(close[0]) + 2:
        return f"unknown key {text!r} (did you mean {close[0]!r}?)"
    return "an unknown key (not shown: it may hold a secret)"


def _str(entry: Mapping[str, Any], key: str, where: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        raise InventoryError(f"{where}: `{key}` is missing or not a string; add `{key}: ...`")
    return value.strip()


def _credentials(
    entry: Mapping[str, Any], secret: Mapping[str, Any], where: str, env: Mapping[str, str]
) -> Credentials:
    """Precedence: the device's entry in the secrets file, the inventory, the secrets default."""
    merged = {**secret.get("default", {}), **entry, **secret.get("device", {})}
    username = _str(merged, "username", where)
    password = merged.get("password")
    if password is not None and not isinstance(password, str):
        raise InventoryError(
            f"{where}: `password` (inventory or secrets file) must be a string; quote it"
        )
    if password is None and merged.get("password_env"):
        var = str(merged["password_env"])
        password = env.get(var)
        if password is None:
            raise InventoryError(f"{where}: password_env names {var}, which is not set")
    key_file = merged.get("key_file")
    if password is None and key_file is None:
        raise InventoryError(
            f"{where}: no credentials; add `key_file`, `password_env` or `password` "
            "(in the inventory or the secrets file)"
        )
    key_path = None
    if key_file is not None:
        key_path = Path(str(key_file)).expanduser()
        if not key_path.is_file():
            raise InventoryError(f"{where}: key_file {key_path} not found")
    return Credentials(username, None if password is None else str(password), key_path)


def _port(entry: Mapping[str, Any], where: str) -> int:
    port = entry.get("port", 830)
    if not isinstance(port, int) or not 0 < port < 65536:
        raise InventoryError(f"{where}: `port` is {port!r}; give a TCP port between 1 and 65535")
    return port


def _host_key(entry: Mapping[str, Any], where: str) -> str | None:
    key = entry.get("host_key")
    if key is None:
        return None
    parts = str(key).split()
    if len(parts) < 2 or not parts[0].startswith(("ssh-", "ecdsa-")):
        raise InventoryError(
            f"{where}: `host_key` must be an OpenSSH public key like 'ssh-ed25519 AAAA...'"
        )
    return f"{parts[0]} {parts[1]}"


def _flavor(entry: Mapping[str, Any], where: str) -> str:
    flavor = entry.get("flavor", "netpilot")
    if flavor not in FLAVORS:
        raise InventoryError(
            f"{where}: `flavor` is {flavor!r}; use one of {', '.join(FLAVORS)} (default netpilot)"
        )
    return str(flavor)


def _facts(entry: Mapping[str, Any], where: str) -> DeviceFacts:
    locator, interfaces = entry.get("locator"), entry.get("interfaces", [])
    if locator is not None:
        try:
            net = ipaddress.IPv6Network(str(locator))
        except ValueError:
            net = None
        if net is None or not 32 <= net.prefixlen <= 112:
            raise InventoryError(
                f"{where}: `locator` is {locator!r}; give an IPv6 prefix of length 32 to 112, "
                "like fcbb:bb00:1::/48"
            )
        locator = str(net)
    if not isinstance(interfaces, list) or not all(isinstance(i, str) for i in interfaces):
        raise InventoryError(f"{where}: `interfaces` must be a list of interface names")
    return DeviceFacts(locator, tuple(interfaces))


def load_inventory(
    path: Path, secrets: Path | None = None, env: Mapping[str, str] | None = None
) -> Inventory:
    """Read and check an inventory file; every problem names the device and the field."""
    env = os.environ if env is None else env
    doc = _read_yaml(Path(path), "inventory")
    if not isinstance(doc, dict) or not isinstance(doc.get("devices"), list):
        raise InventoryError(f"inventory {path}: needs a top-level `devices:` list")
    secret_doc = _read_yaml(Path(secrets), "secrets file") if secrets else None
    default_secret, secret_devices = _secrets(secret_doc, secrets)
    known_hosts = doc.get("known_hosts")
    known = Path(str(known_hosts)).expanduser() if known_hosts else None
    devices: list[DeviceEntry] = []
    seen: set[str] = set()
    for i, entry in enumerate(doc["devices"]):
        where = f"inventory {path}, devices[{i}]"
        if not isinstance(entry, dict):
            raise InventoryError(f"{where}: must be a mapping with name, host, port, ...")
        name = _str(entry, "name", where)
        where = f"inventory {path}, device {name!r}"
        if name in seen:
            raise InventoryError(f"{where}: duplicate name; device names must be unique")
        seen.add(name)
        secret = {"default": default_secret, "device": secret_devices.get(name) or {}}
        host_key = _host_key(entry, where)
        if host_key is None and known is None:
            raise InventoryError(
                f"{where}: no `host_key` and no top-level `known_hosts`; host keys are always "
                "checked: add `host_key: ssh-ed25519 AAAA...` or `known_hosts: FILE`"
            )
        devices.append(
            DeviceEntry(
                name=name,
                host=_str(entry, "host", where),
                port=_port(entry, where),
                credentials=_credentials(entry, secret, where, env),
                host_key=host_key,
                flavor=_flavor(entry, where),
                facts=_facts(entry, where),
            )
        )
    return Inventory(tuple(devices), known, Path(path))
