"""Southbound errors (NAPALM-style: connect, lock, commit under one root)."""

from __future__ import annotations

from controller.errors import NetpilotError


class DeviceError(NetpilotError):
    """A device refused or failed an operation; names the device and what was being done."""

    def __init__(self, device: str, doing: str, reason: str) -> None:
        self.device = device
        self.doing = doing
        self.reason = reason
        super().__init__(f"device {device!r}: {doing} failed: {reason}")


class ConnectError(DeviceError):
    """SSH/NETCONF session could not be opened (unreachable, host key mismatch, auth)."""


class InventoryError(NetpilotError):
    """The inventory or secrets file is wrong; the message names the field and the fix."""

    exit_code = 2
