"""The live controller's inventory watch: the southbound follows the inventory file.

    reloader = InventoryReloader(InventoryWatch(path, secrets), south, engine)
    await reloader.check()        # one look (the runtime repeats it every --inventory-watch s)

A router added to the file gets a session (opened on first use, host key checked as always) and
the engine a round that retries failed intents, so the router is configured without a restart
(an `inventory` event names it); NETCONF telemetry polls it from its next round (`pollers`;
gNMI streams pick it up through telemetry/stream_discovery.py). A router removed from the
file while netpilot holds config for it is kept, with an `inventory-refused` event and a log
line saying why. A bad edit (invalid YAML, a missing field) is one log line and an
`inventory-error` event naming the file and the field; the old inventory stays in force until
the file is fixed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from controller.engine import Engine, EngineEvent
from controller.southbound.errors import InventoryError
from controller.southbound.inventory import Inventory
from controller.southbound.inventory_reload import (
    InventoryChange,
    InventoryWatch,
    ReloadsInventory,
)

log = logging.getLogger("netpilot.inventory")


class InventoryReloader:
    def __init__(self, watch: InventoryWatch, south: ReloadsInventory, engine: Engine) -> None:
        self.watch = watch
        self.south = south
        self.engine = engine
        self.pollers: list[Callable[[Inventory, tuple[str, ...]], object]] = []
        """Told of the routers added (telemetry polling them from its next round)."""

    async def check(self) -> InventoryChange | None:
        """Look at the file once; what changed (None: nothing, or a bad edit)."""
        try:
            inventory = await asyncio.to_thread(self.watch.poll)
        except InventoryError as error:
            self._event("inventory-error", str(error), "the old inventory stays in force")
            log.error("%s; the old inventory stays in force", error)
            return None
        if inventory is None:
            return None
        keep = self.engine.devices_with_config()
        try:
            change = await asyncio.to_thread(self.south.reload, inventory, keep)
        except Exception:  # e.g. a shard worker gone: tried again at the next look
            self.watch.forget()
            raise
        for name, why in sorted(change.refused.items()):
            self._event("inventory-refused", f"{self.watch.path}: {name} {why}")
            log.error("inventory %s: %s %s", self.watch.path, name, why)
        for poll in self.pollers if change.added else ():
            poll(change.inventory, change.added)
        if change.added or change.changed or change.removed:
            self.engine.devices_changed(f"inventory {self.watch.path} re-read", change.line())
        return change

    async def run(self, every_s: float) -> None:
        while True:
            await asyncio.sleep(every_s)
            try:
                await self.check()
            except asyncio.CancelledError:
                raise
            except Exception:  # the watch goes on
                log.exception("inventory re-read failed")

    def _event(self, kind: str, cause: str, detail: str = "") -> None:
        self.engine.record(EngineEvent(self.engine.clock(), kind, cause, detail))
