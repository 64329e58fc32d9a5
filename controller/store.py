"""The durable store: one SQLite file in WAL mode.

Tables: intents (spec, version for optimistic concurrency, color, state), transitions (every state
change with time and reason), placements, revisions + device_configs (per-device desired config of
each revision, its diff and transaction id), installed (the last committed config per device) and
audit (who did what, when, why), incidents (the alarm correlator's, `store_incidents`). The
schema is versioned with `PRAGMA user_version` and migrated forward on open. Every multi-row
change is one SQLite transaction, so a crash at any point leaves either the old or the new
state, never half of one.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import ValidationError as PydanticValidationError

from controller import store_incidents
from controller.configdiff import config_from_dict, config_to_dict
from controller.desired import DeviceConfig
from controller.errors import (
    ConflictError,
    NetpilotError,
    NotFoundError,
    UsageError,
    pydantic_message,
)
from controller.intents import Intent, IntentState
from controller.pathing.types import Placement
from controller.serial import placement_from_dict, placement_to_dict
from controller.store_api import (
    COLOR_STEP,
    FIRST_COLOR,
    KEEP_RESOLVED,
    Change,
    IntentRecord,
    Transition,
    live_record,
    no_intent,
)

__all__ = ["COLOR_STEP", "FIRST_COLOR", "Change", "IntentRecord", "Store", "Transition"]

MIGRATIONS: tuple[str, ...] = (
    # 1: intents, their history, placements, revisions, audit
    """
    CREATE TABLE intents(
        name TEXT PRIMARY KEY, spec TEXT NOT NULL, version INTEGER NOT NULL,
        color INTEGER NOT NULL UNIQUE, state TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL, updated_at REAL NOT NULL, deleted INTEGER NOT NULL DEFAULT 0);
    CREATE TABLE transitions(
        id INTEGER PRIMARY KEY, name TEXT NOT NULL, state TEXT NOT NULL,
        reason TEXT NOT NULL, at REAL NOT NULL);
    CREATE INDEX transitions_by_name ON transitions(name, id);
    CREATE TABLE placements(name TEXT PRIMARY KEY, data TEXT NOT NULL, revision INTEGER);
    CREATE TABLE revisions(
        id INTEGER PRIMARY KEY, created_at REAL NOT NULL, txid TEXT NOT NULL,
        status TEXT NOT NULL, cause TEXT NOT NULL, devices INTEGER NOT NULL,
        diff TEXT NOT NULL, error TEXT NOT NULL DEFAULT '');
    CREATE TABLE device_configs(
        revision INTEGER NOT NULL REFERENCES revisions(id), device TEXT NOT NULL,
        config TEXT NOT NULL, PRIMARY KEY(revision, device));
    CREATE TABLE installed(device TEXT PRIMARY KEY, revision INTEGER NOT NULL,
        config TEXT NOT NULL);
    CREATE TABLE audit(
        id INTEGER PRIMARY KEY, at REAL NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
        target TEXT NOT NULL, detail TEXT NOT NULL);
    CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
    # 2: hysteresis needs when each intent last moved
    "ALTER TABLE intents ADD COLUMN moved_at REAL;",
    # 3: the alarm correlator's incidents (docs/incidents.md)
    store_incidents.MIGRATION,
)
SCHEMA_VERSION = len(MIGRATIONS)


class Store:
    """Thread-safe access to the SQLite file (one connection behind a lock)."""

    def __init__(self, path: str | Path, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self._clock = clock
        self._lock = threading.RLock()
        self._cache: dict[tuple[str, str], Intent] = {}
        try:
            self._db = sqlite3.connect(
                str(self.path), isolation_level=None, check_same_thread=False, timeout=30
            )
        except sqlite3.Error as error:
            raise UsageError(f"--db {self.path}: cannot open the database: {error}") from None
        self._db.row_factory = sqlite3.Row
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
            self._set_aside_invalid()
        except sqlite3.DatabaseError as error:
            self._db.close()
            raise UsageError(f"--db {self.path}: not a netpilot database ({error})") from None

    # -- plumbing ----------------------------------------------------------------------------
    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _query(self, sql: str, args: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return list(self._db.execute(sql, args))

    def _migrate(self) -> None:
        with self._lock:
            current = self._db.execute("PRAGMA user_version").fetchone()[0]
            if current > SCHEMA_VERSION:
                raise UsageError(
                    f"--db {self.path}: schema version {current} is newer than this netpilot "
                    f"({SCHEMA_VERSION}); upgrade netpilot"
                )
            for version in range(current, SCHEMA_VERSION):
                with self._tx() as db:
                    for statement in MIGRATIONS[version].split(";"):
                        if statement.strip():
                            db.execute(statement)
                    db.execute(f"PRAGMA user_version={version + 1}")

    def _set_aside_invalid(self) -> None:
        """Intents stored by an older netpilot that this one's model refuses (e.g. a latency of
        0, accepted before and never installable) are set aside as withdrawn, their spec kept in
        the row and the reason in their history and the audit log, so the store still opens and
        the operator can fix and re-apply them."""
        now = self._clock()
        with self._tx() as db:
            for row in list(db.execute("SELECT name, spec FROM intents WHERE deleted=0")):
                try:
                    Intent.model_validate({**json.loads(row["spec"]), "name": row["name"]})
                except PydanticValidationError as error:
                    first = error.errors()[0]
                    where = ".".join(str(p) for p in first.get("loc", ()))
                    reason = (
                        f"set aside: its stored spec is no longer valid ({where}: "
                        f"{pydantic_message(first)}); fix it and apply it again"
                    )
                    db.execute(
                        "UPDATE intents SET state=?, reason=?, updated_at=?, deleted=1,"
                        " version=version+1 WHERE name=?",
                        (IntentState.WITHDRAWN, reason, now, row["name"]),
                    )
                    self._transition(db, row["name"], IntentState.WITHDRAWN, reason, now)
                    self._audit(db, "netpilot", "set-aside", row["name"], reason, at=now)

    @property
    def schema_version(self) -> int:
        return int(self._query("PRAGMA user_version")[0][0])

    # -- meta --------------------------------------------------------------------------------
    def set_meta(self, key: str, value: str) -> None:
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)", (key, value))

    def meta(self, key: str) -> str | None:
        rows = self._query("SELECT value FROM meta WHERE key=?", (key,))
        return str(rows[0][0]) if rows else None

    # -- intents -----------------------------------------------------------------------------
    def list_intents(self, include_deleted: bool = False) -> list[IntentRecord]:
        where = "" if include_deleted else "WHERE deleted=0"
        rows = self._query(f"SELECT * FROM intents {where} ORDER BY name")
        return [r for r in (_readable(row, self._cache) for row in rows) if r is not None]

    def find_intent(self, name: str) -> IntentRecord | None:
        rows = self._query("SELECT * FROM intents WHERE name=?", (name,))
        return _readable(rows[0], self._cache) if rows else None

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
        """Create or update; `expected_version` enables the 409 check. Returns (record, changed)."""
        with self._lock:
            with self._tx() as db:
                action = self._put(
                    db, intent, expected_version, actor=actor, why=why, create_only=create_only
                )
            return self.get_intent(intent.name), action != "unchanged"

    def _put(
        self,
        db: sqlite3.Connection,
        intent: Intent,
        expected: int | None,
        *,
        actor: str,
        why: str,
        create_only: bool,
    ) -> str:
        """create | update | unchanged."""
        now = self._clock()
        row = db.execute("SELECT * FROM intents WHERE name=?", (intent.name,)).fetchone()
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
        if live and row["spec"] == spec:
            return "unchanged"
        version = (row["version"] if row is not None else 0) + 1
        reason = "created" if not live else "spec changed"
        if row is None:
            color = db.execute("SELECT max(color) FROM intents").fetchone()[0]
            color = FIRST_COLOR if color is None else color + COLOR_STEP
            db.execute(
                "INSERT INTO intents(name, spec, version, color, state, reason, created_at,"
                " updated_at) VALUES(?,?,?,?,?,?,?,?)",
                (intent.name, spec, version, color, IntentState.ACCEPTED, reason, now, now),
            )
        else:
            db.execute(
                "UPDATE intents SET spec=?, version=?, state=?, reason=?, updated_at=?,"
                " deleted=0 WHERE name=?",
                (spec, version, IntentState.ACCEPTED, reason, now, intent.name),
            )
        self._transition(db, intent.name, IntentState.ACCEPTED, reason, now)
        action = "create" if not live else "update"
        self._audit(db, actor, action, intent.name, why or spec, at=now)
        return action

    def delete_intent(
        self, name: str, expected_version: int | None = None, actor: str = "cli", why: str = ""
    ) -> IntentRecord:
        with self._lock:
            with self._tx() as db:
                self._delete(db, name, expected_version, actor, why)
            record = self.find_intent(name)
        assert record is not None
        return record

    def _delete(
        self, db: sqlite3.Connection, name: str, expected: int | None, actor: str, why: str
    ) -> None:
        row = db.execute("SELECT * FROM intents WHERE name=?", (name,)).fetchone()
        if row is None or row["deleted"]:
            raise no_intent(name)
        if expected is not None and expected != row["version"]:
            raise ConflictError(
                f"intent {name!r} is at version {row['version']}, not {expected}; re-read it"
            )
        if row["state"] == IntentState.WITHDRAWING:
            return  # already deleted, being withdrawn: the same delete again changes nothing
        now = self._clock()
        reason = why or "deleted"
        db.execute(
            "UPDATE intents SET state=?, reason=?, updated_at=?, version=version+1 WHERE name=?",
            (IntentState.WITHDRAWING, reason, now, name),
        )
        self._transition(db, name, IntentState.WITHDRAWING, reason, now)
        self._audit(db, actor, "delete", name, reason, at=now)

    def apply_intents(
        self, intents: Iterable[Intent], prune: bool = False, actor: str = "cli", why: str = ""
    ) -> list[Change]:
        """Make the store match a declarative set, in one transaction."""
        wanted = {i.name: i for i in intents}
        changes: list[Change] = []
        with self._tx() as db:
            for intent in wanted.values():
                action = self._put(db, intent, None, actor=actor, why=why, create_only=False)
                changes.append(Change(intent.name, action))
            if prune:
                live = db.execute(
                    "SELECT name FROM intents WHERE deleted=0 AND state NOT IN (?, ?)",
                    (IntentState.WITHDRAWING, IntentState.WITHDRAWN),
                )
                for (name,) in list(live):
                    if name not in wanted:
                        self._delete(db, name, None, actor, why or "pruned")
                        changes.append(Change(name, "delete"))
        return changes

    def set_states(
        self,
        updates: Iterable[tuple[str, IntentState, str]],
        versions: Mapping[str, int] | None = None,
    ) -> list[str]:
        """Write intent states. With `versions` (name -> the version the writer read), an intent
        is written only while it is still at that version: a create, update or delete
        acknowledged in between wins over a round that started before it (the next round
        handles it). Returns the names skipped for that reason."""
        with self._tx() as db:
            return self._set_states(db, updates, versions)

    def _set_states(
        self,
        db: sqlite3.Connection,
        updates: Iterable[tuple[str, IntentState, str]],
        versions: Mapping[str, int] | None = None,
    ) -> list[str]:
        now = self._clock()
        stale: list[str] = []
        for name, state, reason in updates:
            row = db.execute(
                "SELECT state, reason, version FROM intents WHERE name=?", (name,)
            ).fetchone()
            if row is None:
                continue
            if versions is not None and versions.get(name) != row["version"]:
                stale.append(name)
                continue
            if row["state"] == state and row["reason"] == reason:
                continue
            deleted = 1 if state is IntentState.WITHDRAWN else 0
            db.execute(
                "UPDATE intents SET state=?, reason=?, updated_at=?, deleted=? WHERE name=?",
                (state, reason, now, deleted, name),
            )
            self._transition(db, name, state, reason, now)
        return sorted(set(stale))

    def set_states_from(
        self,
        updates: Iterable[tuple[str, IntentState, IntentState, str]],
        versions: Mapping[str, int] | None = None,
    ) -> list[str]:
        """Compare-and-set: `(name, from_state, to_state, reason)` moves an intent only while it
        is still in `from_state` (and, with `versions`, at that version: a delete or a round in
        between wins). Returns the names moved."""
        moved: list[str] = []
        with self._tx() as db:
            for name, before, state, reason in updates:
                row = db.execute("SELECT state FROM intents WHERE name=?", (name,)).fetchone()
                current = row is not None and row["state"] == before
                if current and not self._set_states(db, [(name, state, reason)], versions):
                    moved.append(name)
        return moved

    def mark_moved(self, names: Iterable[str]) -> None:
        with self._tx() as db:
            db.executemany(
                "UPDATE intents SET moved_at=? WHERE name=?", [(self._clock(), n) for n in names]
            )

    def transitions(self, name: str, limit: int = 100) -> list[Transition]:
        rows = self._query(
            "SELECT * FROM (SELECT * FROM transitions WHERE name=? ORDER BY id DESC LIMIT ?)"
            " ORDER BY id",
            (name, limit),
        )
        return [Transition(r["name"], IntentState(r["state"]), r["reason"], r["at"]) for r in rows]

    @staticmethod
    def _transition(
        db: sqlite3.Connection, name: str, state: IntentState, reason: str, at: float
    ) -> None:
        db.execute(
            "INSERT INTO transitions(name, state, reason, at) VALUES(?,?,?,?)",
            (name, state, reason, at),
        )

    # -- placements --------------------------------------------------------------------------
    def placements(self) -> dict[str, Placement]:
        rows = self._query("SELECT name, data FROM placements ORDER BY name")
        return {r["name"]: placement_from_dict(json.loads(r["data"])) for r in rows}

    # -- revisions ---------------------------------------------------------------------------
    def begin_revision(
        self, configs: Mapping[str, DeviceConfig], diff: Mapping[str, Any], cause: str, txid: str
    ) -> int:
        """Record a pending revision with every device config it changes (all rows or none)."""
        with self._tx() as db:
            cursor = db.execute(
                "INSERT INTO revisions(created_at, txid, status, cause, devices, diff)"
                " VALUES(?,?,?,?,?,?)",
                (self._clock(), txid, "pending", cause, len(configs), json.dumps(diff)),
            )
            revision = int(cursor.lastrowid or 0)
            db.executemany(
                "INSERT INTO device_configs(revision, device, config) VALUES(?,?,?)",
                [
                    (revision, d, json.dumps(config_to_dict(c), sort_keys=True))
                    for d, c in configs.items()
                ],
            )
        return revision

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
        """Close a revision; when committed, also its installed configs, placements and states
        (`versions`: as in `set_states`)."""
        with self._tx() as db:
            status = "committed" if committed else "failed"
            db.execute(
                "UPDATE revisions SET status=?, error=? WHERE id=?", (status, error, revision)
            )
            if committed:
                db.execute(
                    "INSERT OR REPLACE INTO installed(device, revision, config)"
                    " SELECT device, revision, config FROM device_configs WHERE revision=?",
                    (revision,),
                )
                for name, placement in (placements or {}).items():
                    self._save_placement(db, name, placement, revision)
            self._set_states(db, states, versions)

    def save_placements(self, placements: Mapping[str, Placement | None]) -> None:
        with self._tx() as db:
            for name, placement in placements.items():
                self._save_placement(db, name, placement, None)

    @staticmethod
    def _save_placement(
        db: sqlite3.Connection, name: str, placement: Placement | None, revision: int | None
    ) -> None:
        if placement is None:
            db.execute("DELETE FROM placements WHERE name=?", (name,))
            return
        db.execute(
            "INSERT OR REPLACE INTO placements(name, data, revision) VALUES(?,?,?)",
            (name, json.dumps(placement_to_dict(placement)), revision),
        )

    def installed_revisions(self) -> dict[str, int]:
        """Device -> the revision its installed (last committed) config came from."""
        rows = self._query("SELECT device, revision FROM installed ORDER BY device")
        return {r["device"]: int(r["revision"]) for r in rows}

    def installed_configs(self) -> dict[str, DeviceConfig]:
        rows = self._query("SELECT device, config FROM installed ORDER BY device")
        return {r["device"]: config_from_dict(json.loads(r["config"])) for r in rows}

    def recover(self) -> list[int]:
        """After a crash: pending revisions never finished; mark them aborted (to re-apply)."""
        with self._tx() as db:
            rows = list(db.execute("SELECT id FROM revisions WHERE status='pending'"))
            db.execute("UPDATE revisions SET status='aborted' WHERE status='pending'")
        return [int(r[0]) for r in rows]

    def revisions(self, limit: int = 50) -> list[dict[str, Any]]:
        rows = self._query("SELECT * FROM revisions ORDER BY id DESC LIMIT ?", (limit,))
        return [_revision(r) for r in rows]

    def revision(self, revision: int) -> dict[str, Any]:
        rows = self._query("SELECT * FROM revisions WHERE id=?", (revision,))
        if not rows:
            raise NotFoundError(f"no revision {revision}; see /v1/revisions")
        out = _revision(rows[0])
        configs = self._query(
            "SELECT device, config FROM device_configs WHERE revision=? ORDER BY device",
            (revision,),
        )
        out["configs"] = {r["device"]: json.loads(r["config"]) for r in configs}
        return out

    # -- audit -------------------------------------------------------------------------------
    def audit(self, actor: str, action: str, target: str, detail: str = "") -> None:
        with self._tx() as db:
            self._audit(db, actor, action, target, detail, at=self._clock())

    @staticmethod
    def _audit(
        db: sqlite3.Connection, actor: str, action: str, target: str, detail: str, *, at: float
    ) -> None:
        db.execute(
            "INSERT INTO audit(at, actor, action, target, detail) VALUES(?,?,?,?,?)",
            (at, actor, action, target, detail),
        )

    def audit_log(self, limit: int = 100) -> list[dict[str, Any]]:
        rows = self._query("SELECT * FROM audit ORDER BY id DESC LIMIT ?", (limit,))
        return [dict(r) for r in rows]

    # -- incidents ---------------------------------------------------------------------------
    def save_incidents(
        self,
        incidents: Sequence[Mapping[str, Any]],
        gone: Sequence[str] = (),
        keep_resolved: int = KEEP_RESOLVED,
    ) -> None:
        with self._tx() as db:
            store_incidents.save(db, incidents, gone, keep_resolved)

    def load_incidents(self) -> list[dict[str, Any]]:
        with self._lock:
            return store_incidents.load(self._db)

    # -- consistency -------------------------------------------------------------------------
    def check(self) -> list[str]:
        """Problems found by SQLite's integrity check and netpilot's own invariants."""
        problems = [str(r[0]) for r in self._query("PRAGMA integrity_check") if str(r[0]) != "ok"]
        for r in self._query(
            "SELECT r.id, r.devices, count(d.device) AS n FROM revisions r"
            " LEFT JOIN device_configs d ON d.revision = r.id GROUP BY r.id"
            " HAVING n != r.devices"
        ):
            problems.append(f"revision {r['id']}: {r['n']} of {r['devices']} device configs")
        for r in self._query(
            "SELECT i.device FROM installed i JOIN revisions r ON r.id = i.revision"
            " WHERE r.status != 'committed'"
        ):
            problems.append(f"device {r['device']}: installed from an uncommitted revision")
        for r in self._query(
            "SELECT i.name FROM intents i WHERE NOT EXISTS"
            " (SELECT 1 FROM transitions t WHERE t.name = i.name)"
        ):
            problems.append(f"intent {r['name']}: no recorded transitions")
        return problems


def _gone(row: sqlite3.Row) -> bool:
    """Deleted: withdrawn, or acknowledged and being withdrawn (a PUT then re-creates it)."""
    return bool(row["deleted"]) or row["state"] == IntentState.WITHDRAWING


def _readable(row: sqlite3.Row, cache: dict[tuple[str, str], Intent]) -> IntentRecord | None:
    """The record, or None for a deleted intent whose spec this netpilot no longer reads (set
    aside at open: `Store._set_aside_invalid`)."""
    try:
        return _record(row, cache)
    except NetpilotError:
        if row["deleted"]:
            return None
        raise


def _record(row: sqlite3.Row, cache: dict[tuple[str, str], Intent]) -> IntentRecord:
    key = (row["name"], row["spec"])
    intent = cache.get(key)
    if intent is None:
        try:
            intent = Intent.model_validate({**json.loads(row["spec"]), "name": row["name"]})
        except PydanticValidationError as error:  # set aside at open (live rows are valid)
            raise NetpilotError(f"stored intent {row['name']!r} is invalid: {error}") from None
        if len(cache) > 200_000:
            cache.clear()
        cache[key] = intent
    return IntentRecord(
        name=row["name"],
        intent=intent,
        version=row["version"],
        color=row["color"],
        state=IntentState(row["state"]),
        reason=row["reason"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        moved_at=row["moved_at"],
        deleted=bool(row["deleted"]),
    )


def _revision(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "created_at": row["created_at"],
        "txid": row["txid"],
        "status": row["status"],
        "cause": row["cause"],
        "devices": row["devices"],
        "diff": json.loads(row["diff"]),
        "error": row["error"],
    }
