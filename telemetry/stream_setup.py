"""How the live controller picks its collector: stream where the inventory offers gNMI.

`round_collector(inventory, path, poll, sample_s)` returns the NETCONF collector alone when the
inventory file has no `gnmi:` section (telemetry/gnmi_inventory.py), else a `StreamCollector`
over the devices with a `gnmi_target`, polling the others through `poll(sub-inventory)`.
`start_streams(collector, engine, loop)` opens the streams once the engine's loop runs, with
oper-status changes going straight to `engine.link_state` (telemetry/stream_events.py) and LLDP
changes to the topology discovery (telemetry/stream_discovery.py), and closed probe windows to
`on_probe` on the engine's loop (the uplink SLA is judged as each arrives: issue 20).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from controller.devicestate import UplinkProbe
from controller.discovery_watch import GraphEngine
from controller.southbound.inventory import Inventory
from telemetry.engine_bridge import LinkStateEngine
from telemetry.gnmi_inventory import load_gnmi
from telemetry.gnmi_stream import ProbeCallback
from telemetry.stream_collector import PollCollector, StreamCollector, StreamOptions
from telemetry.stream_discovery import start_discovery
from telemetry.stream_events import link_callback


class TopologyEngine(LinkStateEngine, GraphEngine, Protocol):
    pass


def round_collector(
    inventory: Inventory,
    path: Path,
    poll: Callable[[Inventory], PollCollector],
    sample_s: float,
) -> PollCollector:
    access = load_gnmi(path)
    if access is None or not access.devices:
        return poll(inventory)
    rest = tuple(d for d in inventory.devices if d.name not in access.devices)
    fallback = poll(dataclasses.replace(inventory, devices=rest)) if rest else None
    collector = StreamCollector(access, StreamOptions(sample_s=sample_s), fallback=fallback)
    collector.inventory_path = path
    return collector


def start_streams(
    collector: object,
    engine: TopologyEngine,
    loop: asyncio.AbstractEventLoop,
    *,
    discovery_every_s: float = 10.0,
    on_probe: ProbeCallback | None = None,
) -> bool:
    """Open the streams of a `StreamCollector` (True), or do nothing for another collector.
    `on_probe(device, windows)` is called on `loop` as each probe window arrives."""
    if not isinstance(collector, StreamCollector):
        return False

    def known(link: str) -> bool:
        return any(lk.id == link for lk in engine.topology.links)

    # topology from LLDP (issue 15 item 4)
    watch = start_discovery(collector, engine, loop, every_s=discovery_every_s)
    probes = None
    if on_probe is not None:
        hop = on_probe

        def probes(device: str, windows: tuple[UplinkProbe, ...]) -> None:
            loop.call_soon_threadsafe(hop, device, windows)

    collector.start(
        on_link=link_callback(engine, loop, known=known), on_lldp=watch.changed, on_probe=probes
    )
    return True
