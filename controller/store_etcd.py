"""The intent store on etcd (`controller run --store etcd://HOST:PORT[,HOST:PORT...][/PREFIX]`).

Same records and semantics as the SQLite `Store` (see `controller.store_api`), laid out as keys
under a prefix (default `/netpilot/`, see `store_etcd_tx.Keys`): one JSON value per intent,
placement, revision, device config of a revision, installed config and meta key; append-only keys
for each intent's transitions and the audit log (ordered by etcd's create revision); counters for
colors and revision ids; the alarm correlator's incidents (`store_etcd_incidents`).

Concurrency: every change is one etcd transaction guarded by the `mod_revision` of each record it
overwrites (`store_etcd_tx`): two writers that read the same intent cannot both commit, the loser
re-reads and decides again. The intent's `version` is the count of its acknowledged changes, kept
in its value exactly as SQLite keeps it, so `expected_version` (HTTP `If-Match`) gives the same
409 answers on both backends; the compare-and-swap on `mod_revision` is what makes
check-then-write atomic across replicas.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from pydantic import ValidationError as PydanticValidationError

from controller import store_etcd_incidents
from controller.configdiff import config_from_dict, config_to_dict
from controller.desired import DeviceConfig
from controller.errors import ConflictError, NotFoundError, UsageError, pydantic_message
from controller.intents import Intent, IntentState
from controller.pathing.types import Placement
from controller.serial import placement_from_dict, placement_to_dict
from controller.store_api import (
    COLOR_STEP,
    FIRST_COLOR,
    KEEP_RESOLVED,
    Change,
    IntentRecord,
    StoreUnavailable,
    Transition,
    live_record,
    no_intent,
)
from controller.store_etcd_client import JSON, EtcdClient, KeyValue, if_prefix_unchanged
from controller.store_etcd_tx import EtcdTx, Keys, run_tx

T = TypeVar("T")
SCHEMA_VERSION = 1
DEFAULT_PREFIX = "/netpilot/"
AUDIT_ID_SPAN = 1_000_000  # audit id = etcd create revision * span + position in its write


class EtcdStore:
    """The `IntentStore` on an etcd cluster; thread-safe, every call a few HTTP requests."""

    def __init__(
        self,
        client: EtcdClient,
        prefix: str = DEFAULT_PREFIX,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.keys = Keys(prefix if prefix.endswith("/") else prefix + "/")
        self._clock = clock
        self._cache: dict[tuple[str, str], Intent] = {}
        self.fence: Callable[[], list[JSON]] = list
        """Extra guards of every write (the leader's lease, set by the HA module)."""
        try:
            self._open_schema()
        except StoreUnavailable as error:
            raise UsageError(f"--store etcd://{client.where()}: cannot open: {error}") from None
        self._set_aside_invalid()

    def close(self) -> None:
        self.client.close()

    def _tx(self, body: Callable[[EtcdTx], T]) -> T:
        return run_tx(self.client, body, self.fence)

    def _open_schema(self) -> None:
        key = self.keys.meta("schema")
        current = self.client.get(key)
        if current is not None and int(current.value) > SCHEMA_VERSION:
            raise UsageError(
                f"--store etcd://{self.client.where()}: schema version {current.value} is newer "
                f"than this netpilot ({SCHEMA_VERSION}); upgrade netpilot"
            )
        if current is None:
            self.client.put(key, str(SCHEMA_VERSION))

    def _set_aside_invalid(self) -> None:
        """As `Store._set_aside_invalid`: a stored spec this netpilot refuses is withdrawn."""

        def body(tx: EtcdTx) -> None:
            now = self._clock()
            tx.load(self.keys.intents)
            for key in tx.keys(self.keys.intents):
                row = tx.get_json(key)
                assert row is not None
                name = key.removeprefix(self.keys.intents)
                if row["deleted"]:
                    continue
                try:
                    Intent.model_validate({**json.loads(row["spec"]), "name": name})
                except PydanticValidationError as error:
                    first = error.errors()[0]
                    where = ".".join(str(p) for p in first.get("loc", ()))
                    reason = (
                        f"set aside: its stored spec is no longer valid ({where}: "
                        f"{pydantic_message(first)}); fix it and apply it again"
                    )
                    row.update(state=IntentState.WITHDRAWN.value, reason=reason, updated_at=now)
                    row.update(deleted=True, version=row["version"] + 1)
                    tx.put_json(key, row)
                    self._transition(tx, name, IntentState.WITHDRAWN, reason, now)
                    self._audit(tx, "netpilot", "set-aside", name, reason, at=now)

        self._tx(body)

    @property
    def schema_version(self) -> int:
        value = self.meta("schema")
        return int(value) if value is not None else 0

    # -- meta --------------------------------------------------------------------------------
    def set_meta(self, key: str, value: str) -> None:
        self.client.put(self.keys.meta(key), value)

    def meta(self, key: str) -> str | None:
        kv = self.client.get(self.keys.meta(key))
        return None if kv is None else kv.value

    # -- intents -----------------------------------------------------------------------------
    def list_intents(self, include_deleted: bool = False) -> list[IntentRecord]:
        out = []
        for kv in self.client.prefix(self.keys.intents).kvs:
            row = json.loads(kv.value)
            if include_deleted or not row["deleted"]:
                record = self._readable(kv.key.removeprefix(self.keys.intents), row)
                if record is not None:
                    out.append(record)
        return sorted(out, key=lambda r: r.name)

    def find_intent(self, name: str) -> IntentRecord | None:
        kv = self.client.get(self.keys.intent(name))
        return None if kv is None else self._readable(name, json.loads(kv.value))

    def get_intent(self, name: str) -> IntentRecord:
        return live_record(self.find_intent(name), name)

    def put_intent(
        self,
        intent: Intent,
        expected_version: int | None = None,
        actor: str = "cli",
        why: str = "",
        create_only: bool = False,
    ) -> tuple[IntentRecord, bool]:
        def body(tx: EtcdTx) -> tuple[str, dict[str, Any]]:
            action = self._put(
                tx, intent, expected_version, actor=actor, why=why, create_only=create_only
            )
            row = tx.get_json(self.keys.intent(intent.name))
            assert row is not None
            return action, row

        action, row = self._tx(body)
        return self._record(intent.name, row), action != "unchanged"

    def _put(
        self,
        tx: EtcdTx,
        intent: Intent,
        expected: int | None,
        *,
        actor: str,
        why: str,
        create_only: bool,
    ) -> str:
        """create | update | unchanged (as `Store._put`)."""
        now = self._clock()
        key = self.keys.intent(intent.name)
        row = tx.get_json(key)
        live = row is not None and not _gone(row)
        current = row["version"] if row is not None and not row["deleted"] else 0
        if create_only and live:
            raise ConflictError(f"intent {intent.name!r} exists; use PUT to change it")
        if expected is not None and expected != current:
            raise ConflictError(
                f"intent {intent.name!r} is at version {current}, not {expected}; "
                "re-read it and retry"
            )
        spec = json.dumps(intent.spec(), sort_keys=True)
        if live and row is not None and row["spec"] == spec:
            return "unchanged"
        reason = "created" if not live else "spec changed"
        if row is None:
            row = {"color": self._next_color(tx), "created_at": now, "moved_at": None}
        version = row.get("version", 0) + 1
        row.update(spec=spec, version=version, state=IntentState.ACCEPTED.value, reason=reason)
        row.update(updated_at=now, deleted=False)
        tx.put_json(key, row)
        self._transition(tx, intent.name, IntentState.ACCEPTED, reason, now)
        action = "create" if not live else "update"
        self._audit(tx, actor, action, intent.name, why or spec, at=now)
        return action

    def _next_color(self, tx: EtcdTx) -> int:
        key = self.keys.seq("color")
        last = tx.get(key)
        color = FIRST_COLOR if last is None else int(last) + COLOR_STEP
        tx.put(key, str(color))
        return color

    def delete_intent(
        self, name: str, expected_version: int | None = None, actor: str = "cli", why: str = ""
    ) -> IntentRecord:
        def body(tx: EtcdTx) -> dict[str, Any]:
            self._delete(tx, name, expected_version, actor, why)
            row = tx.get_json(self.keys.intent(name))
            assert row is not None
            return row

        return self._record(name, self._tx(body))

    def _delete(self, tx: EtcdTx, name: str, expected: int | None, actor: str, why: str) -> None:
        key = self.keys.intent(name)
        row = tx.get_json(key)
        if row is None or row["deleted"]:
            raise no_intent(name)
        if expected is not None and expected != row["version"]:
            raise ConflictError(
                f"intent {name!r} is at version {row['version']}, not {expected}; re-read it"
            )
        if row["state"] == IntentState.WITHDRAWING.value:
            return
        now = self._clock()
        reason = why or "deleted"
        row.update(state=IntentState.WITHDRAWING.value, reason=reason, updated_at=now)
        row.update(version=row["version"] + 1)
        tx.put_json(key, row)
        self._transition(tx, name, IntentState.WITHDRAWING, reason, now)
        self._audit(tx, actor, "delete", name, reason, at=now)

    def apply_intents(
        self, intents: Iterable[Intent], prune: bool = False, actor: str = "cli", why: str = ""
    ) -> list[Change]:
        wanted = {i.name: i for i in intents}

        def body(tx: EtcdTx) -> list[Change]:
            changes: list[Change] = []
            seen = tx.load(self.keys.intents)
            tx.guard(if_prefix_unchanged(self.keys.intents, seen))  # no intent came or moved
            for intent in wanted.values():
                action = self._put(tx, intent, None, actor=actor, why=why, create_only=False)
                changes.append(Change(intent.name, action))
            if prune:
                for key in tx.keys(self.keys.intents):
                    name = key.removeprefix(self.keys.intents)
                    row = tx.get_json(key)
                    assert row is not None
                    dead = row["deleted"] or row["state"] in _DEAD
                    if name not in wanted and not dead:
                        self._delete(tx, name, None, actor, why or "pruned")
                        changes.append(Change(name, "delete"))
            return changes

        return self._tx(body)

    def set_states(
        self,
        updates: Iterable[tuple[str, IntentState, str]],
        versions: Mapping[str, int] | None = None,
    ) -> list[str]:
        todo = list(updates)

        def body(tx: EtcdTx) -> list[str]:
            tx.load(self.keys.intents)
            return self._set_states(tx, todo, versions)

        return self._tx(body)

    def _set_states(
        self,
        tx: EtcdTx,
        updates: Iterable[tuple[str, IntentState, str]],
        versions: Mapping[str, int] | None,
    ) -> list[str]:
        now = self._clock()
        stale: list[str] = []
        for name, state, reason in updates:
            key = self.keys.intent(name)
            row = tx.get_json(key)
            if row is None:
                continue
            if versions is not None and versions.get(name) != row["version"]:
                stale.append(name)
                continue
            if row["state"] == state.value and row["reason"] == reason:
                continue
            row.update(state=state.value, reason=reason, updated_at=now)
            row.update(deleted=state is IntentState.WITHDRAWN)
            tx.put_json(key, row)
            self._transition(tx, name, state, reason, now)
        return sorted(set(stale))

    def set_states_from(
        self,
        updates: Iterable[tuple[str, IntentState, IntentState, str]],
        versions: Mapping[str, int] | None = None,
    ) -> list[str]:
        todo = list(updates)

        def body(tx: EtcdTx) -> list[str]:
            moved: list[str] = []
            tx.load(self.keys.intents)
            for name, before, state, reason in todo:
                row = tx.get_json(self.keys.intent(name))
                current = row is not None and row["state"] == before.value
                if current and not self._set_states(tx, [(name, state, reason)], versions):
                    moved.append(name)
            return moved

        return self._tx(body)

    def mark_moved(self, names: Iterable[str]) -> None:
        todo = list(names)

        def body(tx: EtcdTx) -> None:
            for name in todo:
                key = self.keys.intent(name)
                row = tx.get_json(key)
                if row is not None:
                    row["moved_at"] = self._clock()
                    tx.put_json(key, row)

        self._tx(body)

    def transitions(self, name: str, limit: int = 100) -> list[Transition]:
        kvs = self.client.prefix(self.keys.transitions(name), limit=limit, newest_first=True).kvs
        out = []
        for kv in sorted(kvs, key=lambda kv: (kv.create_revision, kv.key)):
            t = json.loads(kv.value)
            out.append(Transition(name, IntentState(t["state"]), t["reason"], t["at"]))
        return out

    def _transition(
        self, tx: EtcdTx, name: str, state: IntentState, reason: str, at: float
    ) -> None:
        tx.append(self.keys.transitions(name), {"state": state.value, "reason": reason, "at": at})

    # -- placements --------------------------------------------------------------------------
    def placements(self) -> dict[str, Placement]:
        out = {}
        for kv in self.client.prefix(self.keys.placements).kvs:
            data = json.loads(kv.value)["data"]
            out[kv.key.removeprefix(self.keys.placements)] = placement_from_dict(data)
        return dict(sorted(out.items()))

    def save_placements(self, placements: Mapping[str, Placement | None]) -> None:
        def body(tx: EtcdTx) -> None:
            for name, placement in placements.items():
                self._save_placement(tx, name, placement, None)

        self._tx(body)

    def _save_placement(
        self, tx: EtcdTx, name: str, placement: Placement | None, revision: int | None
    ) -> None:
        key = self.keys.placement(name)
        if placement is None:
            tx.delete(key)
            return
        tx.put_json(key, {"data": placement_to_dict(placement), "revision": revision})

    # -- revisions ---------------------------------------------------------------------------
    def begin_revision(
        self, configs: Mapping[str, DeviceConfig], diff: Mapping[str, Any], cause: str, txid: str
    ) -> int:
        encoded = {d: json.dumps(config_to_dict(c), sort_keys=True) for d, c in configs.items()}

        def body(tx: EtcdTx) -> int:
            last = tx.get(self.keys.seq("revision"))
            revision = 1 if last is None else int(last) + 1
            tx.put(self.keys.seq("revision"), str(revision))
            tx.put_json(
                self.keys.revision(revision),
                {"id": revision, "created_at": self._clock(), "txid": txid, "status": "pending",
                 "cause": cause, "devices": len(configs), "diff": dict(diff), "error": ""},
            )  # fmt: skip
            for device, config in encoded.items():
                tx.put(self.keys.configs(revision) + device, config)
            tx.put(self.keys.pending(revision), "")
            return revision

        return self._tx(body)

    def finish_revision(
        self,
        revision: int,
        committed: bool,
        error: str = "",
        *,
        placements: Mapping[str, Placement | None] | None = None,
        states: Iterable[tuple[str, IntentState, str]] = (),
        versions: Mapping[str, int] | None = None,
    ) -> None:
        todo = list(states)
        configs = self.client.prefix(self.keys.configs(revision)).kvs if committed else []

        def body(tx: EtcdTx) -> None:
            key = self.keys.revision(revision)
            row = tx.get_json(key)
            if row is not None:
                row.update(status="committed" if committed else "failed", error=error)
                tx.put_json(key, row)
            tx.delete(self.keys.pending(revision))
            for kv in configs:
                device = kv.key.removeprefix(self.keys.configs(revision))
                tx.put(self.keys.installed(device), _installed(revision, kv.value))
            for name, placement in (placements or {}).items() if committed else ():
                self._save_placement(tx, name, placement, revision)
            if todo:
                tx.load(self.keys.intents)
                self._set_states(tx, todo, versions)

        self._tx(body)

    def installed_revisions(self) -> dict[str, int]:
        return {d: int(json.loads(v)["revision"]) for d, v in self._installed().items()}

    def installed_configs(self) -> dict[str, DeviceConfig]:
        out = {}
        for device, value in self._installed().items():
            out[device] = config_from_dict(json.loads(json.loads(value)["config"]))
        return out

    def _installed(self) -> dict[str, str]:
        kvs = self.client.prefix(self.keys.all_installed).kvs
        return {kv.key.removeprefix(self.keys.all_installed): kv.value for kv in kvs}

    def recover(self) -> list[int]:
        def body(tx: EtcdTx) -> list[int]:
            tx.load(self.keys.all_pending)
            ids = sorted(int(k.rsplit("/", 1)[1]) for k in tx.keys(self.keys.all_pending))
            for revision in ids:
                row = tx.get_json(self.keys.revision(revision))
                if row is not None:
                    row["status"] = "aborted"
                    tx.put_json(self.keys.revision(revision), row)
                tx.delete(self.keys.pending(revision))
            return ids

        return self._tx(body)

    def revisions(self, limit: int = 50) -> list[dict[str, Any]]:
        kvs = self.client.prefix(self.keys.revisions, limit=limit, newest_first=True).kvs
        rows = [dict(json.loads(kv.value)) for kv in kvs]
        return sorted(rows, key=lambda r: -int(r["id"]))

    def revision(self, revision: int) -> dict[str, Any]:
        kv = self.client.get(self.keys.revision(revision))
        if kv is None:
            raise NotFoundError(f"no revision {revision}; see /v1/revisions")
        out = dict(json.loads(kv.value))
        prefix = self.keys.configs(revision)
        configs = self.client.prefix(prefix).kvs
        out["configs"] = {c.key.removeprefix(prefix): json.loads(c.value) for c in configs}
        return out

    # -- audit -------------------------------------------------------------------------------
    def audit(self, actor: str, action: str, target: str, detail: str = "") -> None:
        def body(tx: EtcdTx) -> None:
            self._audit(tx, actor, action, target, detail, at=self._clock())

        self._tx(body)

    def _audit(
        self, tx: EtcdTx, actor: str, action: str, target: str, detail: str, *, at: float
    ) -> None:
        entry = {"at": at, "actor": actor, "action": action, "target": target, "detail": detail}
        tx.append(self.keys.audit, entry)

    def audit_log(self, limit: int = 100) -> list[dict[str, Any]]:
        kvs = self.client.prefix(self.keys.audit, limit=limit, newest_first=True).kvs
        rows = [{"id": _audit_id(kv), **json.loads(kv.value)} for kv in kvs]
        return sorted(rows, key=lambda r: -int(r["id"]))

    # -- incidents ---------------------------------------------------------------------------
    def save_incidents(
        self,
        incidents: Sequence[Mapping[str, Any]],
        gone: Sequence[str] = (),
        keep_resolved: int = KEEP_RESOLVED,
    ) -> None:
        step = store_etcd_incidents.MAX_SAVE
        for start in range(0, max(len(incidents), len(gone), 1), step):
            self._save_incidents(
                incidents[start : start + step], gone[start : start + step], keep_resolved
            )

    def _save_incidents(
        self, incidents: Sequence[Mapping[str, Any]], gone: Sequence[str], keep_resolved: int
    ) -> None:
        resolved = store_etcd_incidents.resolved_keys(self.client, self.keys)

        def body(tx: EtcdTx) -> None:
            store_etcd_incidents.save(
                tx, self.keys, incidents, gone, resolved=resolved, keep_resolved=keep_resolved
            )

        self._tx(body)

    def load_incidents(self) -> list[dict[str, Any]]:
        return store_etcd_incidents.load(self.client, self.keys)

    # -- consistency -------------------------------------------------------------------------
    def check(self) -> list[str]:
        """netpilot's invariants (as `Store.check`; etcd checks its own data integrity)."""
        problems: list[str] = []
        revisions = {int(json.loads(kv.value)["id"]): json.loads(kv.value) for kv in
                     self.client.prefix(self.keys.revisions).kvs}  # fmt: skip
        counts: dict[int, int] = {}
        for kv in self.client.prefix(self.keys.all_configs, keys_only=True).kvs:
            number = int(kv.key.removeprefix(self.keys.all_configs).split("/", 1)[0])
            counts[number] = counts.get(number, 0) + 1
        for number, row in sorted(revisions.items()):
            if counts.get(number, 0) != row["devices"]:
                n = counts.get(number, 0)
                problems.append(f"revision {number}: {n} of {row['devices']} device configs")
        for device, value in sorted(self._installed().items()):
            source = revisions.get(int(json.loads(value)["revision"]))
            if source is None or source["status"] != "committed":
                problems.append(f"device {device}: installed from an uncommitted revision")
        noted = {
            kv.key.removeprefix(self.keys.all_transitions).split("/", 1)[0]
            for kv in self.client.prefix(self.keys.all_transitions, keys_only=True).kvs
        }
        for kv in self.client.prefix(self.keys.intents, keys_only=True).kvs:
            name = kv.key.removeprefix(self.keys.intents)
            if name not in noted:
                problems.append(f"intent {name}: no recorded transitions")
        return problems

    # -- records -----------------------------------------------------------------------------
    def _readable(self, name: str, row: dict[str, Any]) -> IntentRecord | None:
        try:
            return self._record(name, row)
        except PydanticValidationError:
            if row["deleted"]:
                return None
            raise

    def _record(self, name: str, row: dict[str, Any]) -> IntentRecord:
        key = (name, row["spec"])
        intent = self._cache.get(key)
        if intent is None:
            intent = Intent.model_validate({**json.loads(row["spec"]), "name": name})
            if len(self._cache) > 200_000:
                self._cache.clear()
            self._cache[key] = intent
        return IntentRecord(
            name=name,
            intent=intent,
            version=int(row["version"]),
            color=int(row["color"]),
            state=IntentState(row["state"]),
            reason=row["reason"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            moved_at=row.get("moved_at"),
            deleted=bool(row["deleted"]),
        )


_DEAD = (IntentState.WITHDRAWING.value, IntentState.WITHDRAWN.value)


def _gone(row: Mapping[str, Any]) -> bool:
    return bool(row["deleted"]) or row["state"] == IntentState.WITHDRAWING.value


def _installed(revision: int, config: str) -> str:
    return json.dumps({"revision": revision, "config": config})


def _audit_id(kv: KeyValue) -> int:
    position = int(kv.key.rsplit("-", 1)[1])
    return kv.create_revision * AUDIT_ID_SPAN + position
