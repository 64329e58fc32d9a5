"""Host-key checking for NETCONF sessions: the key a device presents, against the key pinned in
the inventory or the entries of a known_hosts file, before any credential is sent.

ncclient checks a pinned key (`hostkey_b64`) itself, but first narrows the SSH host-key
algorithms to the key's name, which for RSA is `ssh-rsa` (SHA-1 signatures): paramiko 5 no
longer has it, so every RSA device failed with `KeyError: 'ssh-rsa'`. `DeviceSession` gives
ncclient no key at all (and an ssh_config that keeps it from loading ~/.ssh/known_hosts), so
paramiko offers every algorithm it has (ssh-ed25519, ecdsa-sha2-nistp256/384/521,
rsa-sha2-512, rsa-sha2-256); ncclient then calls its `unknown_host_cb` before authenticating,
and `HostKeyCheck` decides there. Without narrowing, a device holding several host keys
presents the one paramiko prefers (ed25519, then ECDSA, then RSA): pin that one.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paramiko

from controller.southbound.errors import ConnectError

NO_KNOWN_HOSTS_CONFIG = Path(__file__).with_name("ssh_config_no_known_hosts")


class HostKeyError(ConnectError):
    """The device presented a host key that is not the pinned or known one (never retried)."""


def parse_public_key(text: str) -> paramiko.PKey:
    """An OpenSSH public key line (`ssh-rsa AAAA...`) as a paramiko key; ValueError if bad."""
    parts = text.split()
    if len(parts) < 2:
        raise ValueError("expected '<type> <base64>'")
    try:
        blob = base64.b64decode(parts[1], validate=True)
        return paramiko.PKey.from_type_string(parts[0], blob)
    except (binascii.Error, paramiko.SSHException, ValueError, TypeError) as error:
        raise ValueError(f"not a {parts[0]} public key ({error})") from None


def describe(key: paramiko.PKey) -> str:
    """`ssh-rsa SHA256:...` (the algorithm family and OpenSSH's fingerprint)."""
    return f"{key.get_name()} {key.fingerprint}"


def _known_keys(device: str, path: Path, host: str, port: int) -> list[paramiko.PKey]:
    known = paramiko.HostKeys()
    try:
        known.load(str(path))
    except OSError as error:
        reason = f"cannot read known_hosts {path}: {error.strerror or error}"
        raise HostKeyError(device, "host key check", reason) from None
    keys: list[paramiko.PKey] = []
    for name in (f"[{host}]:{port}", host):
        entries = known.lookup(name)
        keys += list(entries.values()) if entries else []
    return keys


@dataclass
class HostKeyCheck:
    """Which keys a device may present; called with the paramiko transport once the device
    has shown its key. Records why it refused (`refusal`) for the error message."""

    device: str
    host: str
    port: int
    accepted: list[paramiko.PKey]
    source: str
    presented: paramiko.PKey | None = field(default=None, repr=False)
    refusal: str | None = None

    @classmethod
    def for_device(
        cls, device: str, host: str, port: int, pinned: str | None, known_hosts: Path | None
    ) -> HostKeyCheck:
        where = (device, host, port)
        if pinned:
            try:
                return cls(*where, [parse_public_key(pinned)], "pinned in the inventory")
            except ValueError as error:  # refused when the device shows its key (if reachable)
                return cls(*where, [], f"pinned in the inventory: its host_key is bad, {error}")
        if known_hosts is not None:
            keys = _known_keys(device, known_hosts, host, port)
            return cls(*where, keys, f"in {known_hosts}")
        return cls(*where, [], "known (no host_key and no known_hosts)")

    def __call__(self, transport: Any) -> bool:
        key: paramiko.PKey = transport.get_remote_server_key()
        self.presented = key
        if any(key.asbytes() == ok.asbytes() for ok in self.accepted):
            return True
        wanted = "; ".join(describe(k) for k in self.accepted) or "none"
        self.refusal = (
            f"host key {describe(key)} of {self.host}:{self.port} is not the one "
            f"{self.source} ({wanted}); fix the inventory's host_key or known_hosts"
        )
        return False
