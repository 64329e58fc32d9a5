"""Discovery wired to the streaming collector: `start_discovery(collector, engine, loop)`.

The collector's LLDP changes (ON_CHANGE updates and deletes, and each stream's first sync)
wake a `DiscoveryWatch` (controller/discovery_watch.py) on the engine's loop; `keep_watching`
also refreshes every `every_s` (the NETCONF-polled devices have no change notification) and
re-reads the inventory file: a router added to it with a `gnmi_target` gets its stream at once,
without a restart (a `router-added` event), and its neighbours join the comparison.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from controller.discovery_watch import DiscoveryWatch, GraphEngine
from controller.southbound.errors import InventoryError
from telemetry.gnmi_inventory import load_gnmi
from telemetry.stream_collector import StreamCollector

log = logging.getLogger("netpilot.discovery")


def start_discovery(
    collector: StreamCollector,
    engine: GraphEngine,
    loop: asyncio.AbstractEventLoop,
    *,
    every_s: float = 10.0,
) -> DiscoveryWatch:
    """A watch over the engine's topology as loaded (the file), bound to `loop`; the periodic
    task runs there until the collector closes. Call before `collector.start`."""
    watch = DiscoveryWatch(engine.topology, engine, collector.views)
    watch.bind(loop)
    collector.discovery = watch
    task = asyncio.run_coroutine_threadsafe(keep_watching(collector, watch, every_s), loop)
    collector.closers.append(task.cancel)
    return watch


async def keep_watching(collector: StreamCollector, watch: DiscoveryWatch, every_s: float) -> None:
    while True:
        await asyncio.sleep(every_s)
        try:
            added = await asyncio.to_thread(add_new_routers, collector)
            watch.router_added(added)
            await watch.refresh("periodic" if not added else f"routers added: {added}")
        except asyncio.CancelledError:
            raise
        except Exception as error:  # the watch goes on
            log.error("topology discovery round failed: %r", error)


def add_new_routers(collector: StreamCollector, path: Path | None = None) -> list[str]:
    """Stream from the devices the inventory file gained since the start; their names."""
    path = path or collector.inventory_path
    if path is None:
        return []
    try:
        access = load_gnmi(path)
    except (InventoryError, OSError) as error:
        log.warning("inventory %s not re-read: %s", path, error)
        return []
    if access is None:
        return []
    return collector.add(access.devices)
