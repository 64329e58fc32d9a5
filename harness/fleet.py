"""A fleet of simulated routers in one process, with generated keys and an inventory file.

`Fleet` is async (start/stop on the caller's loop); `FleetThread` runs a fleet on its own loop in
a background thread, for tests and for tools that are synchronous (the CLI, benchmarks).
Keys: one Ed25519 client key pair for the fleet (written to `directory`, mode 0600) and one
host key per router, Ed25519 by default, or RSA (2048 bits, the usual router key size) or ECDSA
P-256 as many real routers have (`host_keys`: one type for all, or "mixed": round-robin);
the inventory pins each router's host key. `flavors`: the YANG models the routers speak
(netpilot, iosxr, openconfig, or mixed: round-robin), written into the inventory.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import threading
from collections.abc import Callable, Coroutine, Iterable
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

import asyncssh
import yaml

from controller.southbound.flavors import flavor_at
from controller.southbound.flavors import get as get_flavor
from harness.device import RouterOptions, SimRouter
from harness.state import StateProvider

T = TypeVar("T")
HOST_KEY_TYPES = {"ed25519": "ssh-ed25519", "rsa": "ssh-rsa", "ecdsa": "ecdsa-sha2-nistp256"}
"""Host key types a simulated router can present (name -> asyncssh algorithm)."""
HOST_KEY_CHOICES = (*HOST_KEY_TYPES, "mixed")


def host_key_type(choice: str, index: int) -> str:
    """The host key type of the index-th router for a `host_keys` choice (mixed: round-robin)."""
    if choice == "mixed":
        return list(HOST_KEY_TYPES)[index % len(HOST_KEY_TYPES)]
    if choice not in HOST_KEY_TYPES:
        raise ValueError(f"host key type {choice!r}: use one of {', '.join(HOST_KEY_CHOICES)}")
    return choice


def generate_host_key(kind: str) -> asyncssh.SSHKey:
    """A new host key of type `kind` (ed25519, rsa or ecdsa)."""
    if kind == "rsa":
        return asyncssh.generate_private_key("ssh-rsa", key_size=2048)
    return asyncssh.generate_private_key(HOST_KEY_TYPES[kind])


class Fleet:
    def __init__(
        self,
        names: Iterable[str],
        directory: Path,
        *,
        base_port: int = 0,
        host: str = "127.0.0.1",
        username: str = "netpilot",
        password: str | None = None,
        provider: StateProvider | None = None,
        options: Callable[[str], RouterOptions] | None = None,
        host_keys: str = "ed25519",
        flavors: str = "netpilot",
        first_index: int = 0,
    ) -> None:
        """`first_index`: the index of the first router in a fleet cut over several processes
        (harness/fleet_procs.py), for round-robin flavours and host keys across the whole."""
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.host = host
        self.username = username
        self.password = password
        self.key_file = self.directory / "client_ed25519"
        client_key = asyncssh.generate_private_key("ssh-ed25519")
        client_key.write_private_key(str(self.key_file))
        os.chmod(self.key_file, 0o600)
        client_key.write_public_key(str(self.key_file) + ".pub")
        self.schema = get_flavor("netpilot").schema()
        """The netpilot schema (for routers added by hand, e.g. harness/dataplane_router.py)."""
        self.routers: dict[str, SimRouter] = {}
        for i, name in enumerate(names, start=first_index):
            opts = options(name) if options else RouterOptions()
            if flavors != "netpilot":
                opts = dataclasses.replace(opts, flavor=flavor_at(flavors, i))
            self.routers[name] = SimRouter(
                name,
                host_key=generate_host_key(host_key_type(host_keys, i)),
                authorized_keys=[client_key.convert_to_public()],
                username=username,
                password=password,
                host=host,
                port=base_port + i - first_index if base_port else 0,
                provider=provider,
                options=opts,
            )

    async def start(self) -> None:
        await asyncio.gather(*(r.start() for r in self.routers.values()))

    async def stop(self) -> None:
        await asyncio.gather(*(r.stop() for r in self.routers.values()))

    def inventory(self) -> dict[str, Any]:
        devices = []
        for router in self.routers.values():
            entry: dict[str, Any] = {
                "name": router.name,
                "host": router.host,
                "port": router.port,
                "username": router.username,
                "key_file": str(self.key_file),
                "host_key": " ".join(
                    router.host_key.export_public_key("openssh").decode().split()[:2]
                ),
                "flavor": router.options.flavor,
                **router.inventory_facts(),
            }
            devices.append(entry)
        return {"devices": devices}

    def known_hosts(self) -> str:
        """OpenSSH known_hosts lines (`[host]:port key`) for every router."""
        lines = []
        for router in self.routers.values():
            key = router.host_key.export_public_key("openssh").decode().split()
            lines.append(f"[{router.host}]:{router.port} {key[0]} {key[1]}")
        return "\n".join(lines) + "\n"

    def write_inventory(self, path: Path) -> Path:
        """Write the inventory atomically (temp file + rename): a reader waiting for the file
        never sees it half written."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            tmp.write_text(yaml.safe_dump(self.inventory(), sort_keys=False))
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return path


class FleetThread:
    """Runs a Fleet on a private event loop in a daemon thread; `call` runs code on that loop."""

    def __init__(self, fleet_factory: Callable[[], Fleet]) -> None:
        self._factory = fleet_factory
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True, name="fleet")
        self.fleet: Fleet

    def __enter__(self) -> FleetThread:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> Fleet:
        self._thread.start()
        self.fleet = self.run(self._make())
        return self.fleet

    async def _make(self) -> Fleet:
        fleet = self._factory()
        await fleet.start()
        return fleet

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60.0) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result(timeout)

    def call(self, fn: Callable[[], T], timeout: float = 30.0) -> T:
        async def wrapper() -> T:
            return fn()

        return self.run(wrapper(), timeout)

    def stop(self) -> None:
        if self._thread.is_alive():
            try:
                if hasattr(self, "fleet"):  # None when start() failed
                    self.run(self.fleet.stop(), timeout=30)
            finally:
                self.loop.call_soon_threadsafe(self.loop.stop)
                self._thread.join(timeout=10)
