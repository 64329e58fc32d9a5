"""An in-memory southbound: devices are dicts. For the embedded controller, tests and benchmarks.

It honours the `Southbound` contract: a transaction installs every device in `desired` or none.
`fail_devices` makes the named devices refuse the next transactions and `unreadable` makes
reading their running config fail (for failure tests).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from controller.desired import DeviceConfig
from controller.southbound.base import DeviceResult, TransactionResult
from controller.southbound.errors import DeviceError


@dataclass
class MemorySouthbound:
    clock: Callable[[], float] = time.monotonic
    devices: dict[str, DeviceConfig] = field(default_factory=dict)
    fail_devices: set[str] = field(default_factory=set)
    unreadable: set[str] = field(default_factory=set)
    transactions: list[tuple[int, tuple[str, ...]]] = field(default_factory=list)
    history: list[dict[str, DeviceConfig]] = field(default_factory=list)
    closed: bool = False

    async def apply(
        self,
        revision: int,
        desired: Mapping[str, DeviceConfig],
        previous: Mapping[str, DeviceConfig],
    ) -> TransactionResult:
        start = self.clock()
        results = {
            name: DeviceResult(
                device=name,
                failed=name in self.fail_devices,
                error="device refused the edit (injected)" if name in self.fail_devices else None,
                phase="validate" if name in self.fail_devices else "commit",
            )
            for name in desired
        }
        committed = not any(r.failed for r in results.values())
        if committed:
            self.devices.update(desired)
            self.transactions.append((revision, tuple(sorted(desired))))
            self.history.append(dict(desired))
        return TransactionResult(revision, committed, results, self.clock() - start)

    async def running(self, device: str) -> DeviceConfig:
        if device in self.unreadable:
            raise DeviceError(device, "get-config running", "device did not answer (injected)")
        return self.devices.get(device, DeviceConfig(device=device))

    async def close(self) -> None:
        self.closed = True
