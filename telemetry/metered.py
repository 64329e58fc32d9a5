"""A southbound wrapper that counts and times every transaction in the Prometheus metrics:
`netpilot_transactions_total{outcome}` and `netpilot_transaction_duration_seconds`."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from controller.desired import DeviceConfig
from controller.southbound.base import Southbound, TransactionResult
from telemetry.exporter import NetpilotMetrics


class MeteredSouthbound:
    def __init__(
        self,
        inner: Southbound,
        metrics: NetpilotMetrics,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.inner = inner
        self.metrics = metrics
        self.clock = clock

    async def apply(
        self,
        revision: int,
        desired: Mapping[str, DeviceConfig],
        previous: Mapping[str, DeviceConfig],
    ) -> TransactionResult:
        start = self.clock()
        try:
            result = await self.inner.apply(revision, desired, previous)
        except Exception:
            self.metrics.record_transaction(self.clock() - start, "failed")
            raise
        outcome = "committed" if result.committed else "rolled_back"
        if not result.committed and any(d.failed for d in result.devices.values()):
            outcome = "failed"
        self.metrics.record_transaction(self.clock() - start, outcome)
        return result

    async def running(self, device: str) -> DeviceConfig:
        return await self.inner.running(device)

    async def close(self) -> None:
        await self.inner.close()

    def __getattr__(self, name: str) -> Any:
        """Everything else the inner southbound offers (bulk reads, known devices) as is."""
        return getattr(self.inner, name)
