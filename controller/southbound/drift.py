"""Periodic drift checks: get-config from every device, compared with the last committed revision.

The engine owns the store, so it passes `expected` (a callable returning the last committed
network config) and `report` (what to do with the differences: record, alert, or repair through
a new transaction). Time is passed in (`sleep`), so tests run it without waiting.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

from controller.desired import DeviceConfig
from controller.southbound.netconf import Drift, NetconfSouthbound


async def check_drift(
    southbound: NetconfSouthbound, expected: Mapping[str, DeviceConfig]
) -> list[Drift]:
    """One pass, devices in parallel (in worker threads); only drifted devices are returned."""
    drifts = await asyncio.to_thread(southbound.drift, expected)
    return [d for d in drifts if d.drifted]


async def watch_drift(
    southbound: NetconfSouthbound,
    expected: Callable[[], Mapping[str, DeviceConfig]],
    report: Callable[[list[Drift]], Awaitable[None]],
    *,
    interval_s: float = 60.0,
    stop: asyncio.Event,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> int:
    """Check every `interval_s` until `stop` is set; returns the number of passes made."""
    passes = 0
    while not stop.is_set():
        drifted = await check_drift(southbound, expected())
        passes += 1
        if drifted:
            await report(drifted)
        await sleep(interval_s)
    return passes
