"""A simulated router: a real NETCONF 1.0/1.1 server over SSH (asyncssh), datastores as lxml trees.

Many routers share one asyncio loop, each listening on its own loopback port. Supported:
hello with capabilities, get (subtree or xpath filter), get-config, edit-config (merge, replace,
create, delete, remove; default-operation, test-option, error-option), lock/unlock with
lock-denied, candidate, commit, confirmed-commit (timeout, persist, persist-id), cancel-commit,
discard-changes, validate (against the flavour's YANG modules, with libyang), close-session,
rpc-error replies per RFC 6241. Operational state comes from a `StateProvider`.

Fault hooks (`router.faults`) for tests: refuse connections (for good, or until a time), delay
every reply, and one-shot
actions on the next RPC of a given name: "fail" (rpc-error), "drop" (close the SSH connection
instead of running it), "drop-after" (run it, then close without replying), "die" / "die-after"
(the router stops: sessions cut, listener closed, an unconfirmed commit rolled back, as a reboot
does); `revive()` brings it back on the same port. `set_reachable(False)` makes a live router
stop answering (connections refused, sessions dropped) until `set_reachable(True)`.
`ignore_operations` makes edit-config silently skip elements with those operations (a device
that ignores `remove`), `hold` keeps operations run off the loop waiting on an event.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import hmac
import itertools
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import asyncssh

from controller.desired import DeviceConfig
from controller.devicestate import PolicyState
from controller.southbound.flavors import Flavor
from controller.southbound.flavors import get as get_flavor
from controller.southbound.yang import Schema
from controller.topology import Topology
from harness.datastore import (
    Element,
    apply_edit,
    new_datastore,
)
from harness.nc_router import Pending, Validated
from harness.state import StateProvider, StaticStateProvider

BASE10 = "urn:ietf:params:netconf:base:1.0"
BASE11 = "urn:ietf:params:netconf:base:1.1"
CAP = "urn:ietf:params:netconf:capability:"


@dataclass
class RouterOptions:
    """The capabilities a router offers. `running_only()` is a device without :candidate, as
    many are: :writable-running, and :rollback-on-error unless `rollback_on_error=False`.
    `flavor`: the YANG models it speaks (controller/southbound/flavors/): it announces them,
    validates edits against them (libyang) and renders its state in them."""

    candidate: bool = True
    writable_running: bool = True
    netconf11: bool = True
    rollback_on_error: bool = True
    flavor: str = "netpilot"

    @classmethod
    def running_only(cls, rollback_on_error: bool = True) -> RouterOptions:
        return cls(candidate=False, rollback_on_error=rollback_on_error)

    def capabilities(self) -> list[str]:
        caps = [BASE10]
        if self.netconf11:
            caps.append(BASE11)
        caps.append(f"{CAP}validate:1.1")
        if self.rollback_on_error:
            caps.append(f"{CAP}rollback-on-error:1.0")
        caps.append(f"{CAP}xpath:1.0")
        if self.candidate:
            caps += [f"{CAP}candidate:1.0", f"{CAP}confirmed-commit:1.1"]
        if self.writable_running:
            caps.append(f"{CAP}writable-running:1.0")
        caps += get_flavor(self.flavor).capabilities()
        return caps


@dataclass
class Faults:
    refuse_connections: bool = False
    delay_s: float = 0.0
    on_rpc: dict[str, str] = field(default_factory=dict)
    restart_after_s: float | None = None  # after "die": reboot this much later (None: stay down)
    refuse_until: float = 0.0  # time.monotonic() before which connections are refused
    hold: threading.Event | None = None  # operations run off the loop wait for it (tests)
    ignore_operations: frozenset[str] = frozenset()  # edit-config parts the router ignores

    def refusing(self) -> bool:
        return self.refuse_connections or time.monotonic() < self.refuse_until


class SimRouter:
    def __init__(
        self,
        name: str,
        *,
        host_key: asyncssh.SSHKey,
        authorized_keys: list[asyncssh.SSHKey] | None = None,
        username: str = "netpilot",
        password: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        schema: Schema | None = None,
        provider: StateProvider | None = None,
        options: RouterOptions | None = None,
    ) -> None:
        self.name = name
        self.host_key = host_key
        self.authorized_keys = authorized_keys
        self.username = username
        self.password = password
        self.host = host
        self.port = port
        self.options = options or RouterOptions()
        self.flavor: Flavor = get_flavor(self.options.flavor)
        self.schema = schema or self.flavor.schema()
        self.provider: StateProvider = provider or StaticStateProvider()
        self.faults = Faults()
        self.running = new_datastore()
        self.candidate = new_datastore()
        self.locks: dict[str, int] = {}
        self.pending: Pending | None = None
        self.sessions: dict[int, Any] = {}  # session id -> harness.nc_session.NetconfSession
        self.commits = 0
        self.busy = asyncio.Lock()  # one RPC at a time per router, across its sessions
        self.validated = Validated()
        self.alive = False
        self._ids = itertools.count(1)
        self._server: asyncssh.SSHAcceptor | None = None
        self._connections: set[asyncssh.SSHServerConnection] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop  # set by start()

    # -- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._server = await asyncssh.create_server(
            lambda: _SSHServer(self),
            self.host,
            self.port,
            server_host_keys=[self.host_key],
            process_factory=self._process,
            encoding=None,
            allow_scp=False,
            agent_forwarding=False,
            x11_forwarding=False,
            reuse_address=True,
            line_editor=False,  # a NETCONF subsystem: no line editing (saves a layer per write)
            kex_algs=["curve25519-sha256", "curve25519-sha256@libssh.org", "ecdh-sha2-nistp256"],
        )
        self.port = self._server.get_port()
        self.alive = True

    async def stop(self) -> None:
        self.alive = False
        for conn in list(self._connections):
            conn.abort()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def die(self) -> None:
        """Crash: cut sessions, stop listening, reboot semantics for the datastores."""
        if self.pending is not None:
            self._rollback()
        self.candidate = copy.deepcopy(self.running)
        self.locks.clear()
        await self.stop()

    async def revive(self) -> None:
        await self.start()

    def set_reachable(self, reachable: bool) -> None:
        """Unreachable: refuse new connections and drop every session, while the router (and
        its datastores) lives on; reachable again: accept connections."""
        self.faults.refuse_connections = not reachable
        if not reachable:
            for conn in list(self._connections):
                conn.abort()

    def crash(self) -> None:
        """Die now (from inside a session), and reboot after `faults.restart_after_s` if set."""
        self._spawn(self._crash(self.faults.restart_after_s))

    async def _crash(self, restart_after_s: float | None) -> None:
        await self.die()
        if restart_after_s is not None:
            await asyncio.sleep(restart_after_s)
            await self.revive()

    # -- views for tests and the CLI -------------------------------------------------------------
    def running_config(self) -> DeviceConfig:
        return self.flavor.parse(self.name, self.running)

    def set_running(self, cfg: Element) -> None:
        """Load a `<config>` into running and candidate (for fixtures: a router's boot config)."""
        self.running = new_datastore()
        apply_edit(self.schema, self.running, cfg, "merge")
        self.candidate = copy.deepcopy(self.running)

    # -- SSH glue -----------------------------------------------------------------------------
    def _process(self, process: asyncssh.SSHServerProcess[bytes]) -> Any:
        from harness.nc_session import NetconfSession

        return NetconfSession(self, process, next(self._ids)).run()

    def _rollback(self) -> None:
        pending = self.pending
        if pending is None:
            return
        if pending.timer is not None:
            pending.timer.cancel()
        self.running = pending.rollback
        self.candidate = copy.deepcopy(self.running)
        self.pending = None

    def _expire(self) -> None:
        """The confirm timer ran out: roll back once the RPC running now (if any) is done."""

        async def expire() -> None:
            async with self.busy:
                self._rollback()

        self._spawn(expire())

    def call_later(self, delay: float, fn: Callable[[], None]) -> _Timer:
        """`loop.call_later` for operations that run in worker threads (any thread may call)."""
        return _Timer(self._loop, delay, fn)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = self._loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def state_elements(self) -> list[Element]:
        """Operational state as the top-level elements of a `<get>` reply, in the flavour's
        models (policy state derived from the running config when the provider has none)."""
        state = self.provider.device_state(self.name)
        if not state.sr_policies:
            cfg = self.running_config()
            policies = tuple(
                PolicyState(
                    p.color,
                    p.endpoint,
                    up=bool(p.candidate_paths),
                    active_candidate_path=max(p.candidate_paths, key=lambda c: c.preference).name
                    if p.candidate_paths
                    else None,
                )
                for p in cfg.sr_policies
            )
            state = dataclasses.replace(state, sr_policies=policies)
        return self.flavor.render_state(state)

    def inventory_facts(self) -> dict[str, Any]:
        """What the inventory says of this router for its flavour (iosxr: its SRv6 locator and
        interfaces, from the state provider's topology; the others need none)."""
        if self.options.flavor != "iosxr":
            return {}
        topology = getattr(self.provider, "topology", None)
        topology = topology() if callable(topology) else topology  # NetworkSimulator: a view
        facts: dict[str, Any] = {
            "interfaces": [i.name for i in self.provider.device_state(self.name).interfaces]
        }
        if isinstance(topology, Topology) and self.name in topology.nodes:
            facts["locator"] = topology.nodes[self.name].locator
        return facts


class _Timer:
    """A timer on `loop` armed and cancelled from any thread (a confirmed commit's timer, set by
    a commit that runs in a worker thread)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, delay: float, fn: Callable[[], None]):
        self._handle: asyncio.TimerHandle | None = None
        self._cancelled = False
        self._loop = loop
        loop.call_soon_threadsafe(self._arm, delay, fn)

    def _arm(self, delay: float, fn: Callable[[], None]) -> None:
        if not self._cancelled:
            self._handle = self._loop.call_later(delay, fn)

    def cancel(self) -> None:
        self._cancelled = True
        self._loop.call_soon_threadsafe(self._cancel)

    def _cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()


class _SSHServer(asyncssh.SSHServer):
    def __init__(self, router: SimRouter) -> None:
        self.router = router
        self.conn: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        if self.router.faults.refusing() or not self.router.alive:
            conn.abort()
            return
        self.conn = conn
        self.router._connections.add(conn)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.conn is not None:
            self.router._connections.discard(self.conn)

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return self.router.password is not None

    def validate_password(self, username: str, password: str) -> bool:
        expected = self.router.password or ""
        user_ok = hmac.compare_digest(username.encode(), self.router.username.encode())
        return (
            user_ok and bool(expected) and hmac.compare_digest(password.encode(), expected.encode())
        )

    def public_key_auth_supported(self) -> bool:
        return bool(self.router.authorized_keys)

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        if username != self.router.username:
            return False
        allowed = {k.public_data for k in self.router.authorized_keys or []}
        return key.public_data in allowed
