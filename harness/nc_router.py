"""What a simulated router's NETCONF server side needs from the router.

`NetconfSession` (harness/nc_session.py) and the operations (harness/ops.py) work on the router
through the `NetconfRouter` protocol: its datastores, locks, options, injected faults and the
pending confirmed commit. `SimRouter` (harness/device.py) satisfies it and creates the sessions,
so the session and the operations never import the router module (no import cycle).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from controller.southbound.yang import Schema
from harness.datastore import Element


@dataclass
class Pending:
    """An unconfirmed confirmed-commit."""

    rollback: Element
    session_id: int
    persist: str | None
    timer: Cancellable | None = None


class Cancellable(Protocol):
    def cancel(self) -> None: ...


class RouterOptionsView(Protocol):
    """The NETCONF capabilities a router offers (`harness.device.RouterOptions`)."""

    @property
    def candidate(self) -> bool: ...

    @property
    def writable_running(self) -> bool: ...

    @property
    def netconf11(self) -> bool: ...

    def capabilities(self) -> list[str]: ...


class RouterFaultsView(Protocol):
    """The faults a session injects per RPC (`harness.device.Faults`)."""

    @property
    def on_rpc(self) -> dict[str, str]: ...

    @property
    def delay_s(self) -> float: ...

    @property
    def hold(self) -> threading.Event | None:
        """When set, operations run in worker threads wait for this event first (tests)."""

    @property
    def ignore_operations(self) -> frozenset[str]:
        """edit-config elements with these `operation`s are dropped unseen (a faulty device
        that ignores, say, `remove`)."""


class NetconfRouter(Protocol):
    """The router as its NETCONF sessions and operations see it."""

    name: str
    schema: Schema
    running: Element
    candidate: Element
    locks: dict[str, int]
    pending: Pending | None
    commits: int
    sessions: dict[int, Any]
    busy: asyncio.Lock
    """Held while one RPC runs: a router's RPCs run one at a time, across its sessions."""

    @property
    def options(self) -> RouterOptionsView: ...

    @property
    def faults(self) -> RouterFaultsView: ...

    def state_elements(self) -> list[Element]: ...

    def crash(self) -> None: ...

    def _rollback(self) -> None: ...

    def _expire(self) -> None: ...

    def call_later(self, delay: float, fn: Callable[[], None]) -> Cancellable:
        """Run `fn` on the router's loop after `delay` seconds; callable from any thread."""
        ...
