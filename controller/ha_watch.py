"""The leader hears of intent writes made through any replica: a watch on the intents' keys
calls `notify(cause)` for each change of an intent's version (a create, update or delete
acknowledged anywhere); the engine's own state writes do not change versions and are ignored."""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Callable

from controller.errors import NetpilotError
from controller.store_etcd_client import EtcdClient, WatchLost

log = logging.getLogger("netpilot.ha")


class IntentWatch:
    """A daemon thread following `prefix` (the store's intents) from `revision` on."""

    def __init__(self, endpoints: list[str], prefix: str, notify: Callable[[str], None]) -> None:
        self.client = EtcdClient(endpoints)
        self.prefix = prefix
        self.notify = notify
        self.revision = 0
        self.versions: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="netpilot-watch", daemon=True)

    def start(self) -> None:
        """Note every intent's version now, then follow the changes after that read."""
        self._prime()
        self._thread.start()

    def _prime(self) -> None:
        current = self.client.prefix(self.prefix)
        for kv in current.kvs:
            name = kv.key.removeprefix(self.prefix)
            self.versions[name] = int(json.loads(kv.value).get("version", 0))
        self.revision = current.revision

    def stop(self) -> None:
        self._stop.set()
        self.client.close()  # ends the streaming read

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                for kv in self.client.watch(self.prefix, self.revision + 1, self._stop):
                    self.revision = max(self.revision, kv.mod_revision)
                    self._seen(kv.key.removeprefix(self.prefix), kv.value)
            except WatchLost as error:  # changes may have been missed: list, and a round
                log.warning("intent watch: %s; listing again", error)
                with contextlib.suppress(NetpilotError):
                    self._prime()
                    self.notify("watch: resync")
            except (NetpilotError, OSError, RuntimeError, ValueError) as error:
                if not self._stop.is_set():
                    log.warning("intent watch: %s; watching again", error)
            except Exception as error:  # httpx's stream errors: reconnect
                if not self._stop.is_set():
                    log.warning("intent watch ended: %r; watching again", error)
            self._stop.wait(0.5)
        log.info("intent watch stopped")

    def _seen(self, name: str, value: str) -> None:
        version = int(json.loads(value).get("version", 0))
        if self.versions.get(name) != version:
            self.versions[name] = version
            self.notify(f"watch: {name} v{version}")
