"""What the engine, the API and the CLI need from the intent store, whichever backend holds it.

`IntentStore` is the interface; `controller.store.Store` (SQLite, the default) and
`controller.store_etcd.EtcdStore` implement it, and `tests/test_store_contract.py` runs the same
tests on both. Every method is synchronous and thread-safe: the API calls the store from its
worker threads and the engine through `asyncio.to_thread`.

The semantics both backends keep: an intent's `version` counts its acknowledged changes (1 on
create, +1 on each spec change or delete); a write given `expected_version` that no longer
matches raises `ConflictError` (HTTP 409); every multi-record change is all-or-nothing; the
engine's state writes given `versions` skip an intent that moved on since it was read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from controller.desired import DeviceConfig
from controller.errors import NetpilotError, NotFoundError
from controller.intents import Intent, IntentState
from controller.pathing.types import Placement

FIRST_COLOR = 1000
KEEP_RESOLVED = 500
"""Resolved incidents a store keeps (the ones identified last); open ones are all kept."""
COLOR_STEP = 2  # color + 1 is the 1+1 twin policy


class StoreUnavailable(NetpilotError):
    """The store cannot be reached (etcd down or partitioned): nothing was written; retry later
    (HTTP 503). The message names the endpoint(s) and the cause."""


@dataclass(frozen=True)
class IntentRecord:
    name: str
    intent: Intent
    version: int
    color: int
    state: IntentState
    reason: str
    created_at: float
    updated_at: float
    moved_at: float | None
    deleted: bool

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "state": self.state.value,
            "reason": self.reason,
            "version": self.version,
            "color": self.color,
            "service_class": self.intent.service_class,
            "updated_at": self.updated_at,
            "spec": self.intent.spec(),
        }


@dataclass(frozen=True)
class Transition:
    name: str
    state: IntentState
    reason: str
    at: float


@dataclass(frozen=True)
class Change:
    """One intent change a declarative apply makes (or would make)."""

    name: str
    action: str  # create | update | delete | unchanged


def no_intent(name: str) -> NotFoundError:
    """What every backend answers for a name that has no live intent."""
    return NotFoundError(f"no intent named {name!r}; see `netpilot intent list`")


def live_record(record: IntentRecord | None, name: str) -> IntentRecord:
    """`get_intent` of every backend: the record of `find_intent`, unless absent or deleted."""
    if record is None or record.deleted:
        raise no_intent(name)
    return record


class IntentStore(Protocol):
    """Intents with versions, their history, placements, revisions, installed configs, audit."""

    def close(self) -> None: ...

    # -- meta
    def set_meta(self, key: str, value: str) -> None: ...
    def meta(self, key: str) -> str | None: ...

    # -- intents
    def list_intents(self, include_deleted: bool = False) -> list[IntentRecord]: ...
    def find_intent(self, name: str) -> IntentRecord | None: ...
    def get_intent(self, name: str) -> IntentRecord: ...
    def put_intent(
        self,
        intent: Intent,
        expected_version: int | None = None,
        actor: str = "cli",
        why: str = "",
        create_only: bool = False,
    ) -> tuple[IntentRecord, bool]: ...
    def delete_intent(
        self, name: str, expected_version: int | None = None, actor: str = "cli", why: str = ""
    ) -> IntentRecord: ...
    def apply_intents(
        self, intents: Iterable[Intent], prune: bool = False, actor: str = "cli", why: str = ""
    ) -> list[Change]: ...
    def set_states(
        self,
        updates: Iterable[tuple[str, IntentState, str]],
        versions: Mapping[str, int] | None = None,
    ) -> list[str]: ...
    def set_states_from(
        self,
        updates: Iterable[tuple[str, IntentState, IntentState, str]],
        versions: Mapping[str, int] | None = None,
    ) -> list[str]: ...
    def mark_moved(self, names: Iterable[str]) -> None: ...
    def transitions(self, name: str, limit: int = 100) -> list[Transition]: ...

    # -- placements and revisions
    def placements(self) -> dict[str, Placement]: ...
    def save_placements(self, placements: Mapping[str, Placement | None]) -> None: ...
    def begin_revision(
        self, configs: Mapping[str, DeviceConfig], diff: Mapping[str, Any], cause: str, txid: str
    ) -> int: ...
    def finish_revision(
        self,
        revision: int,
        committed: bool,
        error: str = "",
        *,
        placements: Mapping[str, Placement | None] | None = None,
        states: Iterable[tuple[str, IntentState, str]] = (),
        versions: Mapping[str, int] | None = None,
    ) -> None: ...
    def installed_revisions(self) -> dict[str, int]: ...
    def installed_configs(self) -> dict[str, DeviceConfig]: ...
    def recover(self) -> list[int]: ...
    def revisions(self, limit: int = 50) -> list[dict[str, Any]]: ...
    def revision(self, revision: int) -> dict[str, Any]: ...

    # -- incidents (the alarm correlator's, docs/incidents.md): JSON-able dicts with `id`
    # (`inc-N`) and `state` (`open` or `resolved`); `gone` ids are deleted; beyond
    # `keep_resolved`, the resolved incidents with the lowest N are dropped
    def save_incidents(
        self,
        incidents: Sequence[Mapping[str, Any]],
        gone: Sequence[str] = (),
        keep_resolved: int = KEEP_RESOLVED,
    ) -> None: ...
    def load_incidents(self) -> list[dict[str, Any]]: ...

    # -- audit and consistency
    def audit(self, actor: str, action: str, target: str, detail: str = "") -> None: ...
    def audit_log(self, limit: int = 100) -> list[dict[str, Any]]: ...
    def check(self) -> list[str]: ...
