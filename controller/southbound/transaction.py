"""Network-wide transaction: every device gets the new revision, or none does.

Phase 1, prepare (all devices in parallel): lock the candidate (granted only to a candidate
without uncommitted changes, RFC 6241 7.5), then edit-config with the minimal edit and validate,
pipelined (one round trip). Any failure: discard-changes and unlock everywhere; nothing changed.
Devices without `:candidate` (only `:writable-running`) lock running and read it: that config is
saved, and the edit is computed against it.

Phase 2, commit: a confirmed commit with `confirm-timeout` and a `persist` token on every
candidate device (running-only devices: edit running, with rollback-on-error when offered). Any
failure: cancel-commit (persist-id) on the committed ones; running-only devices that were sent
their edit get their saved config back as a full replace of the managed subtrees (not a reverse
edit of `remove`s, which a device may ignore); unlock. If the controller dies here, each
candidate device rolls back by itself when its confirm timer expires (the persist token keeps
the commit pending across the lost session until then); running-only devices are restored on
the next start from the on-disk journal (journal.py), written before the first edit is sent.

Phase 3, confirm: a confirming commit with the persist-id on every device, pipelined with the
unlock (one round trip), retried on a new session if the reply is lost. Should a device still
fail to confirm (it then rolls back by itself), the devices already confirmed are locked again
and put back with the reverse edit, and the transaction is reported not committed.

After any undo, every device that was undone is read back and compared with its old config
(running-only: the saved one; candidate: the previous revision); a device that did not return is
reported (`DeviceResult.restored = False`) and the journal is kept for the next start to retry.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeAlias

from controller.desired import DeviceConfig
from controller.southbound import journal
from controller.southbound.base import DeviceResult, TransactionResult
from controller.southbound.drift import Drift
from controller.southbound.errors import ConnectError, DeviceError
from controller.southbound.flavors import Flavor
from controller.southbound.session import DeviceSession

Element: TypeAlias = Any  # lxml ships no type stubs; an lxml etree._Element


@dataclass
class TransactionHooks:
    """Test and tooling hooks; `before_confirm` runs after every device committed (confirmed).
    If it raises, every device's pending commit is cancelled and its lock released at once, then
    the exception goes on (a deposed leader's fence: controller.ha)."""

    before_confirm: Callable[[], None] | None = None
    persist_id: Callable[[int], str] | None = None
    """The persist-id of a revision's confirmed commits (default: a random one). With HA it is
    derived from what the store recorded before the commit (controller.ha_takeover), so that
    the next leader can cancel the commits of a leader that died before confirming them."""


@dataclass
class Plan:
    """What one device is to do in a transaction."""

    session: DeviceSession
    desired: DeviceConfig
    previous: DeviceConfig
    edit: Element | None
    """The edit-config to send; computed in `prepare` when None and `changed` (each device's
    edit is made in the pool, as the other devices' RPCs are in flight)."""
    changed: bool = True
    """Anything to send? (False: desired is previous, and no full replace)"""
    full: bool = False
    skipped: bool = False
    """Its edit turned out empty: it takes no part."""
    candidate: bool = True
    saved: DeviceConfig | None = None
    """Running-only device: its running config read under the lock in prepare."""
    locked: bool = False
    sent: bool = False
    """Running-only device: its edit was sent (it may have taken it even if the reply was lost)."""
    committed: bool = False
    confirmed: bool = False
    undone: bool = False
    result: DeviceResult = field(init=False)

    def __post_init__(self) -> None:
        self.result = DeviceResult(self.session.name)


@dataclass(frozen=True)
class TransactionOptions:
    confirm_timeout_s: int = 60
    confirm_attempts: int = 3
    full_replace: bool = False
    unknown_margin_s: float = 2.0
    journal: Path | None = None
    """Where to keep the transaction journal (None: no journal; see journal.py)."""


def restore_edit(saved: DeviceConfig, flavor: Flavor) -> Element:
    """An edit that puts `saved` back whatever the device holds now: the managed subtrees are
    replaced whole, so it does not rely on the device honouring `remove` entry by entry."""
    edit = flavor.edit(saved, saved, full=True)
    assert edit is not None  # a full edit always has the replaced containers
    return edit


def _parallel(pool: Executor, plans: Iterable[Plan], step: Callable[[Plan], None]) -> None:
    """Run `step` on every plan in parallel; a failure is recorded on the plan's result."""

    def run(plan: Plan) -> None:
        try:
            step(plan)
        except DeviceError as error:
            _fail(plan, error.doing, error.reason, error)
        except Exception as error:  # a bug or an unexpected library error: still recorded
            _fail(plan, step.__name__, f"{type(error).__name__}: {error}", error)

    list(pool.map(run, list(plans)))


def _fail(plan: Plan, phase: str, reason: str, error: BaseException | None = None) -> None:
    if not plan.result.failed:
        plan.result.failed = True
        plan.result.error = reason
        plan.result.phase = phase
        plan.result.exception = error


# -- steps --------------------------------------------------------------------------------------
def prepare(plan: Plan) -> None:
    s = plan.session
    if plan.edit is None:
        plan.edit = s.flavor.edit(plan.previous, plan.desired, full=plan.full)
        if plan.edit is None:
            plan.skipped = True
            plan.result.phase = "unchanged"
            return
    s.manager()
    caps = s.capabilities
    plan.candidate = caps.candidate and caps.confirmed_commit
    if not plan.candidate:
        _prepare_running(plan)
        return
    plan.result.phase = "prepare"
    lock_with_retry(s, "candidate")
    plan.locked = True
    # No <discard-changes> here: a device grants the lock of a candidate only when it holds no
    # uncommitted changes (RFC 6241 section 7.5); lock_with_retry discards a refused one.
    steps = [("edit-config candidate", lambda m: m.edit_config(plan.edit, target="candidate"))]
    if caps.validate:
        steps.append(("validate candidate", lambda m: m.validate("candidate")))
    s.pipeline(steps)  # the edit and its validation in one packet, one round trip


def _prepare_running(plan: Plan) -> None:
    s = plan.session
    if not s.capabilities.writable_running:
        raise DeviceError(s.name, "prepare", "device has neither :candidate nor :writable-running")
    lock_with_retry(s, "running")
    plan.locked = True
    actual = s.get_config("running")
    plan.saved = actual
    plan.edit = s.flavor.edit(actual, plan.desired, full=False)


LOCK_RETRY_DELAYS_S = (0.05, 0.1, 0.2, 0.4)
"""Back-off between lock attempts on `lock-denied`: a lock released by a session that was just
torn down (ours after a failed unlock, or another client's) is freed asynchronously by the device;
a short bounded retry rides that out, a lock really held elsewhere still fails within ~0.75 s."""


def lock_with_retry(s: DeviceSession, target: str) -> None:
    """Lock `target`; on `lock-denied`, retry (see LOCK_RETRY_DELAYS_S). A candidate refused
    because it holds uncommitted changes that no session has locked (RFC 6241 7.5: left by a
    controller that died or was stopped between its edit and its commit) is discarded first:
    a candidate locked by another session refuses the discard, and stays untouched."""
    for delay in (*LOCK_RETRY_DELAYS_S, None):
        try:
            s.rpc(f"lock {target}", lambda m: m.lock(target))
            return
        except DeviceError as error:
            if delay is None or not error.reason.startswith("lock-denied"):
                raise
            if target == "candidate":
                with contextlib.suppress(DeviceError):
                    s.rpc("discard-changes (unlocked)", lambda m: m.discard_changes())
            s.sleep(delay)


def abort(plan: Plan) -> None:
    """Undo phase 1 on one device: discard the candidate and unlock (best effort)."""
    s = plan.session
    if not plan.locked or not s.connected:
        return
    plan.locked = False
    with _released_on_failure(s):
        if plan.candidate:
            s.rpc("discard-changes", lambda m: m.discard_changes())
            s.rpc("unlock candidate", lambda m: m.unlock("candidate"))
        else:
            s.rpc("unlock running", lambda m: m.unlock("running"))


@contextlib.contextmanager
def _released_on_failure(session: DeviceSession) -> Iterator[None]:
    """If an unlock fails, close the session: the device then drops its locks (and a stale
    lock of ours cannot block the next transaction)."""
    try:
        yield
    except DeviceError:
        session.drop()
        raise


def make_commit(options: TransactionOptions, persist: str) -> Callable[[Plan], None]:
    def commit(plan: Plan) -> None:
        s = plan.session
        plan.result.phase = "commit"
        if plan.candidate:
            s.rpc(
                "confirmed commit",
                lambda m: m.commit(
                    confirmed=True, timeout=str(options.confirm_timeout_s), persist=persist
                ),
            )
        elif plan.edit is not None:
            error_option = "rollback-on-error" if s.capabilities.rollback_on_error else None
            plan.sent = True
            s.rpc(
                "edit-config running",
                lambda m: m.edit_config(plan.edit, target="running", error_option=error_option),
            )
        plan.committed = True

    return commit


def make_cancel(persist: str) -> Callable[[Plan], None]:
    def cancel(plan: Plan) -> None:
        s = plan.session
        if plan.candidate:
            # a lost reply may hide a commit that happened: cancel whenever one may be pending
            try:
                s.rpc("cancel-commit", lambda m: m.cancel_commit(persist_id=persist))
                plan.undone = True
            except DeviceError as error:
                if plan.committed or "session lost" in error.reason:
                    raise
        elif plan.sent and plan.saved is not None:
            _restore_running(plan, plan.saved)
        plan.committed = False

    return cancel


def make_confirm(options: TransactionOptions, persist: str) -> Callable[[Plan], None]:
    def confirm(plan: Plan) -> None:
        plan.result.phase = "confirm"
        if not plan.candidate:
            plan.confirmed = True
            return
        _confirm(plan, options, persist)
        plan.confirmed = True

    return confirm


def _confirm(plan: Plan, options: TransactionOptions, persist: str) -> None:
    """Send the confirming commit until it is known to have happened, or known not to.

    A lost session hides the outcome: then retry on a new session until the device answers.
    A refused retry after a lost session means nothing is pending any more: the device either
    confirmed (it runs the new config) or rolled back. After the confirm timeout (plus a margin)
    an unreachable device is reported as failed with an unknown outcome.
    """
    s = plan.session
    deadline = time.monotonic() + options.confirm_timeout_s + options.unknown_margin_s
    lost = False
    refused = 0
    first = plan.locked and s.connected
    while True:
        try:
            if first:  # with the unlock, in one round trip
                first = False
                _confirm_and_unlock(plan, persist)
            else:
                s.rpc("confirm commit", lambda m: m.commit(persist_id=persist))
            return
        except DeviceError as error:
            if isinstance(error, ConnectError) or "session lost" in error.reason:
                lost = True
                if time.monotonic() > deadline:
                    raise DeviceError(
                        s.name, "confirm commit", f"outcome unknown: {error.reason}"
                    ) from None
                s.sleep(0.05)
                continue
            if lost:
                if _runs(s, plan.desired):
                    return
                raise
            refused += 1
            if refused >= options.confirm_attempts:
                raise


def _confirm_and_unlock(plan: Plan, persist: str) -> None:
    """The confirming commit and the unlock, pipelined; raise the confirm's refusal. The
    unlock runs whatever the commit's outcome (the device runs them in order): a device put
    back afterwards is locked again first (`make_compensate`). An unlock refused after a
    confirmed commit closes the session (the device drops its locks then), as `unlock` does."""
    s = plan.session
    done, unlocked = s.pipelined(
        [
            ("confirm commit", lambda m: m.commit(persist_id=persist)),
            ("unlock candidate", lambda m: m.unlock("candidate")),
        ]
    )
    if unlocked is None or not s.connected:
        plan.locked = False
    elif done is None:
        plan.locked = False
        s.drop()
        plan.result.error = plan.result.error or f"(cleanup) {unlocked.doing}: {unlocked.reason}"
    if done is not None:
        raise done


def _runs(session: DeviceSession, desired: DeviceConfig) -> bool:
    try:
        return session.get_config("running") == session.expected(desired)
    except DeviceError:
        return False


def make_compensate(persist: str) -> Callable[[Plan], None]:
    """Put a device back on its previous config after another device failed to confirm."""
    cancel = make_cancel(persist)

    def compensate(plan: Plan) -> None:
        s = plan.session
        if not plan.confirmed:
            with contextlib.suppress(DeviceError):
                cancel(plan)
            if not _runs(s, plan.desired):
                return  # rolled back, or unreachable and rolling back on its confirm timer
        if not plan.candidate:
            if plan.saved is not None:
                _restore_running(plan, plan.saved)
            return
        undo = s.flavor.edit(plan.desired, plan.previous, full=False)
        if undo is None:
            return
        plan.undone = True
        if not plan.locked:  # released with its confirm (_confirm_and_unlock)
            lock_with_retry(s, "candidate")
            plan.locked = True
        s.rpc("compensate edit", lambda m: m.edit_config(undo, target="candidate"))
        s.rpc("compensate commit", lambda m: m.commit())

    return compensate


def _edit_running(s: DeviceSession, mgr: Any, edit: Element) -> Any:
    option = "rollback-on-error" if s.capabilities.rollback_on_error else None
    return mgr.edit_config(edit, target="running", error_option=option)


RESTORE_RETRY_S = 3.0
"""How long a running-only device that cannot be reached is retried for its restore: it has no
timer of its own to roll back, and a device that dropped the session is often back within
seconds; after that it is reported not restored and the journal retries on the next start."""


def _restore_running(plan: Plan, saved: DeviceConfig) -> None:
    """Put a running-only device back on its saved config (full replace of the subtrees)."""
    s = plan.session
    plan.undone = True
    edit = restore_edit(saved, s.flavor)
    deadline = time.monotonic() + RESTORE_RETRY_S
    while True:
        try:
            s.rpc("restore running", lambda m: _edit_running(s, m, edit))
            return
        except DeviceError as error:
            lost = isinstance(error, ConnectError) or "session lost" in error.reason
            if not lost or time.monotonic() > deadline:
                raise
            s.sleep(0.1)


def verify_undone(plan: Plan) -> None:
    """Read back a device that was undone; record whether it is on its old config again."""
    if not plan.undone:
        return
    old = plan.saved if plan.saved is not None else plan.previous
    try:
        got = plan.session.get_config("running")
    except Exception as error:  # unreachable, or a reply that does not parse
        why = error.reason if isinstance(error, DeviceError) else f"{type(error).__name__}: {error}"
        if plan.candidate:  # it rolls back by itself when its confirm timer expires
            note = f"not read back after the undo ({why}); it rolls back on its confirm timer"
            plan.result.error = (
                note if plan.result.error is None else f"{plan.result.error}; {note}"
            )
            return
        _not_restored(plan, f"could not read it back after the undo: {why}")
        return
    if got == plan.session.expected(old):
        plan.result.restored = True
        return
    diff = Drift(plan.session.name, old, got).summary()
    _not_restored(plan, f"NOT back to its old config after the undo: {diff}")


def _not_restored(plan: Plan, why: str) -> None:
    r = plan.result
    r.restored = False
    r.failed = True
    r.error = why if r.error is None else f"{r.error}; {why}"
    r.phase = "undo"


def unlock(plan: Plan) -> None:
    s = plan.session
    if plan.locked and s.connected:
        plan.locked = False
        target = "candidate" if plan.candidate else "running"
        with _released_on_failure(s):
            s.rpc(f"unlock {target}", lambda m: m.unlock(target))
    plan.locked = False


# -- the transaction ----------------------------------------------------------------------------
def run_transaction(
    revision: int,
    plans: dict[str, Plan],
    pool: Executor,
    *,
    options: TransactionOptions,
    hooks: TransactionHooks | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> TransactionResult:
    """Apply `plans` all-or-nothing; returns a result per device (see the module doc)."""
    start = clock()
    persist = _persist_id(revision, hooks)
    active = [p for p in plans.values() if p.changed]
    for plan in plans.values():
        if not plan.changed:
            plan.result.phase = "unchanged"

    def done(committed: bool) -> TransactionResult:
        devices = {name: plan.result for name, plan in plans.items()}
        return TransactionResult(revision, committed, devices, clock() - start)

    _parallel(pool, active, prepare)
    if _agree(pool, any(p.result.failed for p in active)):
        _parallel(pool, active, _quiet(abort))
        _mark_aborted([p for p in active if not p.skipped], "aborted in prepare: nothing changed")
        return done(False)
    active = [p for p in active if not p.skipped]
    log = _Journal(options.journal, revision, persist, active)
    problem = log.write("commit")
    if _agree(pool, problem is not None):  # no way back for running-only devices: do not start
        for plan in active:
            _fail(plan, "journal", problem or "another shard could not write its journal")
        _parallel(pool, active, _quiet(abort))
        return done(False)
    _parallel(pool, active, make_commit(options, persist))
    if _agree(pool, any(p.result.failed for p in active)):
        _parallel(pool, active, _quiet(make_cancel(persist)))
        _parallel(pool, active, _quiet(abort))
        _undone(pool, active, log, "aborted in commit: committed devices rolled back")
        return done(False)
    if hooks is not None and hooks.before_confirm is not None:
        try:
            hooks.before_confirm()
        except BaseException:  # e.g. a deposed leader: roll back now, not on the timer
            _parallel(pool, active, _quiet(make_cancel(persist)))
            _parallel(pool, active, _quiet(abort))
            _undone(pool, active, log, "not confirmed (before_confirm refused): rolled back")
            raise
    log.write("confirm")
    _parallel(pool, active, make_confirm(options, persist))
    if _agree(pool, any(p.result.failed for p in active)):
        _parallel(pool, active, _quiet(make_compensate(persist)))
        _parallel(pool, active, _quiet(unlock))
        _undone(pool, active, log, "aborted in confirm: confirmed devices put back")
        return done(False)
    _parallel(pool, active, _quiet(unlock))
    log.clear()
    for plan in active:
        plan.result.phase = "committed"
    return done(True)


def _agree(pool: Executor, failed: bool) -> bool:
    """Whether to take a failure branch: this pool's devices failed, or, when the devices are
    sharded over worker processes (shard.py), any shard's did: every shard takes the same
    branch, so the transaction stays all-or-nothing across them."""
    agree = getattr(pool, "agree", None)
    return failed if agree is None else bool(agree(failed))


def _persist_id(revision: int, hooks: TransactionHooks | None) -> str:
    if hooks is not None and hooks.persist_id is not None:
        return hooks.persist_id(revision)
    return f"netpilot-r{revision}-{uuid.uuid4().hex[:12]}"


def _undone(pool: Executor, active: list[Plan], log: _Journal, why: str) -> None:
    """After an undo: read every undone device back; keep the journal if one is not back."""
    list(pool.map(verify_undone, active))
    if any(p.result.restored is False for p in active):
        log.write("undo")
    else:
        log.clear()
    _mark_aborted(active, why)


class _Journal:
    """The transaction's journal file (journal.py), kept only when a running-only device takes
    part: candidate devices undo by themselves when the controller is gone."""

    def __init__(self, path: Path | None, revision: int, persist: str, plans: list[Plan]):
        needed = any(not p.candidate for p in plans)
        self.path = path if needed else None
        self.record = journal.JournalRecord(
            revision,
            persist,
            "commit",
            {
                p.session.name: journal.JournalEntry(
                    p.candidate, p.saved if p.saved is not None else p.previous, p.desired
                )
                for p in plans
            },
        )

    def write(self, phase: str) -> str | None:
        """Record `phase`; the reason when the file cannot be written (else None)."""
        if self.path is None:
            return None
        self.record = dataclasses.replace(self.record, phase=phase)
        try:
            journal.write(self.path, self.record)
        except OSError as error:
            return f"cannot write the transaction journal {self.path}: {error.strerror or error}"
        return None

    def clear(self) -> None:
        if self.path is not None:
            with contextlib.suppress(FileNotFoundError):
                journal.clear(self.path)


def _quiet(step: Callable[[Plan], None]) -> Callable[[Plan], None]:
    """Clean-up steps must not overwrite the first failure of a device."""

    def run(plan: Plan) -> None:
        r = plan.result
        failed, error, phase, exception = r.failed, r.error, r.phase, r.exception
        try:
            step(plan)
        except DeviceError as err:
            if not failed:
                r.error = f"(cleanup) {err.doing}: {err.reason}"
                r.exception = err
        finally:
            if failed:
                r.failed, r.error, r.phase, r.exception = True, error, phase, exception

    run.__name__ = getattr(step, "__name__", "cleanup")
    return run


def _mark_aborted(plans: Iterable[Plan], why: str) -> None:
    for plan in plans:
        if not plan.result.failed and plan.result.error is None:
            plan.result.error = why
            plan.result.phase = "rolled back"


def make_plans(
    sessions: dict[str, DeviceSession],
    desired: dict[str, DeviceConfig],
    previous: dict[str, DeviceConfig],
    options: TransactionOptions,
) -> dict[str, Plan]:
    """One plan per device; the edits are made by `prepare`, in the pool."""
    plans: dict[str, Plan] = {}
    full = options.full_replace
    for name, want in desired.items():
        before = previous.get(name, DeviceConfig(name))
        changed = full or want != before
        plans[name] = Plan(sessions[name], want, before, None, changed=changed, full=full)
    return plans


def result_summary(result: TransactionResult) -> dict[str, Any]:
    return {
        "revision": result.revision,
        "committed": result.committed,
        "seconds": round(result.seconds, 4),
        "devices": {
            name: {"failed": r.failed, "phase": r.phase, "error": r.error, "restored": r.restored}
            for name, r in sorted(result.devices.items())
        },
        "unrestored": result.unrestored_devices,
    }
