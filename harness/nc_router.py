"""What a simulated router's NETCONF server side needs from the router.

`NetconfSession` (harness/nc_session.py) and the operations (harness/ops.py) work on the router
through the `NetconfRouter` protocol: its datastores, locks, options, injected faults and the
pending confirmed commit. `SimRouter` (harness/device.py) satisfies it and creates the sessions,
so the session and the operations never import the router module (no import cycle).
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
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


class Validated:
    """The documents a router validated last, so that a candidate checked at edit-config, at
    <validate>, at the confirmed commit and at the confirming commit is parsed by libyang once
    per change (each check cost a millisecond or more, the biggest part of a push on the router
    side). Validation is a function of the document only: a document that passed passes again;
    failures are not kept (each one is checked again and reported in full)."""

    def __init__(self, size: int = 4) -> None:
        self.size = size
        self._docs: OrderedDict[bytes, bool] = OrderedDict()  # document -> validated in full

    def validate(self, schema: Schema, doc: bytes, what: str, *, full: bool) -> None:
        """`schema.validate(doc, what, full=full)`, skipped when `doc` passed before (a full
        check also answers a partial one)."""
        done = self._docs.get(doc)
        if done is not None and (done or not full):
            self._docs.move_to_end(doc)
            return
        schema.validate(doc, what, full=full)
        self._docs[doc] = full or bool(done)
        self._docs.move_to_end(doc)
        while len(self._docs) > self.size:
            self._docs.popitem(last=False)


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
    validated: Validated
    """Documents validated recently (validation once per change of the candidate)."""

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
