"""Replaying the transaction journal (journal.py) when a controller starts again after dying
mid-transaction.

Journal phase `commit` (or `undo`): back. Candidate devices get a cancel-commit with the
transaction's persist-id (they would roll back on their confirm timer anyway; this is sooner);
then every device whose running config is not its old one gets it back (running-only: a full
replace of running under a lock; candidate: through the candidate, then commit). Phase
`confirm`: forward if possible: each candidate device is sent the confirming commit with the
persist-id (or found already running the new config); if one cannot be, back as above. Every
device is read back at the end; the journal is removed only when all are verified, else it is
kept (phase `undo`) and the next start tries again.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path

from controller.desired import DeviceConfig
from controller.southbound import journal
from controller.southbound.drift import Drift
from controller.southbound.errors import DeviceError
from controller.southbound.journal import JournalEntry, JournalRecord
from controller.southbound.session import DeviceSession
from controller.southbound.transaction import lock_with_retry, restore_edit


@dataclass
class Recovery:
    """What replaying a journal did: `outcome` is "confirmed" (the interrupted revision is now
    installed everywhere), "restored" (every device back on its old config) or "incomplete"
    (`problems` names the devices not verified; the journal is kept)."""

    revision: int
    phase: str
    outcome: str
    problems: dict[str, str] = field(default_factory=dict)


def recover(path: Path, sessions: Mapping[str, DeviceSession], pool: Executor) -> Recovery | None:
    """Replay the journal at `path`, if there is one (see the module doc)."""
    record = journal.read(path)
    if record is None:
        return None
    if record.phase == "confirm" and _forward(record, sessions, pool):
        journal.clear(path)
        return Recovery(record.revision, record.phase, "confirmed")
    problems = _back(record, sessions, pool)
    if problems:
        journal.write(path, dataclasses.replace(record, phase="undo"))
        return Recovery(record.revision, record.phase, "incomplete", problems)
    journal.clear(path)
    return Recovery(record.revision, record.phase, "restored")


def _each(
    record: JournalRecord,
    sessions: Mapping[str, DeviceSession],
    pool: Executor,
    step: Callable[[DeviceSession, JournalEntry], str | None],
) -> dict[str, str]:
    """Run `step` on every device of the journal in parallel; device -> problem."""

    def one(item: tuple[str, JournalEntry]) -> tuple[str, str | None]:
        name, entry = item
        if name not in sessions:
            return name, "not in the inventory any more; restore it by hand"
        try:
            return name, step(sessions[name], entry)
        except DeviceError as error:
            return name, f"{error.doing}: {error.reason}"
        except Exception as error:  # a reply that does not parse, a library error
            return name, f"{type(error).__name__}: {error}"

    results = pool.map(one, list(record.devices.items()))
    return {name: problem for name, problem in results if problem is not None}


def _forward(record: JournalRecord, sessions: Mapping[str, DeviceSession], pool: Executor) -> bool:
    def confirm(s: DeviceSession, entry: JournalEntry) -> str | None:
        if entry.candidate:
            # refused when confirmed before we died, or rolled back: the running config tells
            with contextlib.suppress(DeviceError):
                s.rpc("confirm commit", lambda m: m.commit(persist_id=record.persist))
        return _differs(s, entry.desired)

    return not _each(record, sessions, pool, confirm)


def _back(
    record: JournalRecord, sessions: Mapping[str, DeviceSession], pool: Executor
) -> dict[str, str]:
    def back(s: DeviceSession, entry: JournalEntry) -> str | None:
        if entry.candidate:
            # refused when nothing is pending (rolled back already, or never committed)
            with contextlib.suppress(DeviceError):
                s.rpc("cancel-commit", lambda m: m.cancel_commit(persist_id=record.persist))
        if _differs(s, entry.restore) is None:
            return None
        _put_back(s, entry)
        return _differs(s, entry.restore)

    return _each(record, sessions, pool, back)


def _put_back(s: DeviceSession, entry: JournalEntry) -> None:
    target = "candidate" if entry.candidate else "running"
    edit = restore_edit(entry.restore, s.flavor)
    lock_with_retry(s, target)
    try:
        if entry.candidate:
            s.rpc("discard-changes", lambda m: m.discard_changes())
            s.rpc("restore candidate", lambda m: m.edit_config(edit, target="candidate"))
            s.rpc("commit", lambda m: m.commit())
        else:
            s.rpc("restore running", lambda m: m.edit_config(edit, target="running"))
    finally:
        try:
            s.rpc(f"unlock {target}", lambda m: m.unlock(target))
        except DeviceError:
            s.drop()  # the device frees the lock with the session


def _differs(s: DeviceSession, want: DeviceConfig) -> str | None:
    got = s.get_config("running")
    if got == s.expected(want):
        return None
    return f"running config is not the expected one: {Drift(s.name, want, got).summary()}"


def cancel_pending(
    persist: str, devices: list[str], sessions: Mapping[str, DeviceSession], pool: Executor
) -> dict[str, str]:
    """Send <cancel-commit><persist-id> (RFC 6241 8.4) to `devices` in parallel: a controller
    that died between a confirmed commit and its confirm leaves that commit pending, and the
    devices refuse every other commit until their confirm timer ends. Device -> "cancelled",
    or why not ("refused: ..." when nothing of that persist-id is pending, the usual case of a
    commit already confirmed or never sent; a device without :candidate has none)."""

    def one(name: str) -> tuple[str, str]:
        s = sessions.get(name)
        if s is None:
            return name, "not in the inventory"
        try:
            s.rpc("cancel-commit", lambda m: m.cancel_commit(persist_id=persist))
        except DeviceError as error:
            return name, f"refused: {error.reason}"
        except Exception as error:  # a reply that does not parse, a library error
            return name, f"refused: {type(error).__name__}: {error}"
        return name, "cancelled"

    return dict(pool.map(one, devices))
