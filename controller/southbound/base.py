"""The southbound interface the engine talks to; NETCONF and in-memory backends implement it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from controller.desired import DeviceConfig


@dataclass
class DeviceResult:
    """What happened on one device in a transaction (nornir-style: failures are recorded)."""

    device: str
    failed: bool = False
    error: str | None = None
    phase: str = ""
    exception: BaseException | None = field(default=None, repr=False, compare=False)
    """The exception behind `error`, when one was raised (kept for logs and tracebacks)."""
    restored: bool | None = None
    """After an undo on this device: read back and found on its old config (True) or not
    (False, `error` says how it differs); None when nothing had to be undone."""


@dataclass
class TransactionResult:
    """Outcome of one network-wide transaction: committed everywhere, or nowhere."""

    revision: int
    committed: bool
    devices: dict[str, DeviceResult] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def failed_devices(self) -> list[str]:
        return sorted(name for name, res in self.devices.items() if res.failed)

    @property
    def unrestored_devices(self) -> list[str]:
        """Devices an undo did not bring back to their old config (read back after it)."""
        return sorted(name for name, res in self.devices.items() if res.restored is False)


class Southbound(Protocol):
    """Installs a revision on every device in `desired`, all or nothing."""

    async def apply(
        self,
        revision: int,
        desired: Mapping[str, DeviceConfig],
        previous: Mapping[str, DeviceConfig],
    ) -> TransactionResult: ...

    async def running(self, device: str) -> DeviceConfig:
        """The config netpilot manages as it is on the device now (for drift checks)."""
        ...

    async def close(self) -> None: ...


@runtime_checkable
class BulkReader(Protocol):
    """Optional: a southbound that reads many devices' running config at once (its own pool)."""

    def running_all(self, names: list[str] | None = None) -> dict[str, DeviceConfig | str]:
        """Device -> its managed running config, or the text of the error reading it."""
        ...


@runtime_checkable
class KnowsDevices(Protocol):
    """Optional: a southbound that knows which devices it can reach (an inventory)."""

    def known_devices(self) -> frozenset[str]: ...


def refuse_unknown(
    revision: int, desired: Mapping[str, DeviceConfig], known: Iterable[str]
) -> TransactionResult | None:
    """A transaction refused as a whole when it names devices the inventory lacks, else None."""
    unknown = sorted(set(desired) - set(known))
    if not unknown:
        return None
    devices = {
        n: DeviceResult(n, True, "not in the inventory; add it or drop it", "inventory")
        for n in unknown
    }
    return TransactionResult(revision, False, devices)
