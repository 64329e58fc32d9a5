"""A new leader's first step (issue 16): cancel the confirmed commits a dead leader left pending.

A leader records each revision in etcd, with its txid and as pending, before it sends a single
confirmed commit; the persist-id of those commits is derived from both (`persist_id`). A leader
SIGKILLed between its confirmed commits and their confirm leaves the routers with a commit that
only that persist-id can confirm or cancel (RFC 6241 8.4): without it, they refuse every other
commit until their confirm timer (60 s) runs out. So the new leader, before it loads the store
(which marks those revisions aborted), reads every pending revision's txid and devices and sends
each device <cancel-commit><persist-id>: the routers go back to the last committed revision at
once. A device that had already been confirmed (the leader died while confirming) refuses the
cancel and runs the aborted revision: the drift check that follows the load repairs it.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from controller.store_etcd import EtcdStore

log = logging.getLogger("netpilot.ha")


@runtime_checkable
class CancelsCommits(Protocol):
    """A NETCONF southbound, in this process (NetconfSouthbound) or in worker processes
    (ShardedSouthbound): both open sessions ahead and send cancel-commit."""

    def connect_all(self, names: list[str] | None = None) -> dict[str, str | None]: ...

    def cancel_pending(self, persist: str, devices: list[str]) -> dict[str, str]: ...


def persist_id(revision: int, txid: str) -> str:
    """The persist-id of revision `revision`'s confirmed commits (txid: the store's record)."""
    return f"netpilot-r{revision}-{txid[:16]}"


@dataclass
class PendingCommit:
    """A revision recorded as pending: its commits may be pending on `devices`."""

    revision: int
    persist: str
    devices: list[str]
    outcome: dict[str, str] = field(default_factory=dict)
    """Device -> "cancelled" or why not (see `recovery.cancel_pending`)."""


def persist_for(store: EtcdStore) -> Callable[[int], str]:
    """The `TransactionHooks.persist_id` of a leader on `store`: from the revision's txid."""

    def persist(revision: int) -> str:
        kv = store.client.get(store.keys.revision(revision))
        if kv is None:  # the engine records the revision first: a bug if it is not there
            raise RuntimeError(f"revision {revision} is not in the store: no persist-id")
        return persist_id(revision, str(json.loads(kv.value)["txid"]))

    return persist


def pending_commits(store: EtcdStore) -> list[PendingCommit]:
    """Every revision the store holds as pending, with its persist-id and devices."""
    found = []
    for kv in store.client.prefix(store.keys.all_pending).kvs:
        revision = int(kv.key.rsplit("/", 1)[1])
        row = store.client.get(store.keys.revision(revision))
        if row is None:
            continue
        txid = str(json.loads(row.value)["txid"])
        prefix = store.keys.configs(revision)
        devices = sorted(c.key.removeprefix(prefix) for c in store.client.prefix(prefix).kvs)
        found.append(PendingCommit(revision, persist_id(revision, txid), devices))
    return found


def cancel_dead_leaders_commits(store: EtcdStore, south: CancelsCommits) -> list[PendingCommit]:
    """Cancel, on its devices, every pending revision's confirmed commit (see the module doc);
    what was found and done. Runs before the new leader's load, which aborts those revisions."""
    found = pending_commits(store)
    for pending in found:
        pending.outcome = south.cancel_pending(pending.persist, pending.devices)
        log.warning(
            "takeover: revision %s was left pending: cancel-commit %s",
            pending.revision, pending.outcome,
        )  # fmt: skip
    return found


class Takeover:
    """What the runtime runs with an election on NETCONF devices: `warm()` once at start (a
    follower opens its device sessions ahead: a takeover then spends no SSH handshakes), and
    the takeover itself (`cancel_dead_leaders_commits`) once elected, before the load."""

    def __init__(self, store: EtcdStore, south: CancelsCommits) -> None:
        self.store = store
        self.south = south

    def warm(self) -> None:
        """Open every device's session (a device that does not answer is opened on use)."""
        with contextlib.suppress(Exception):  # a worker or device error: opened on use instead
            self.south.connect_all()

    def __call__(self) -> None:
        cancel_dead_leaders_commits(self.store, self.south)


def takeover_step(store: EtcdStore, south: object) -> Takeover | None:
    """The runtime's `Takeover` (None: no NETCONF devices)."""
    return Takeover(store, south) if isinstance(south, CancelsCommits) else None
