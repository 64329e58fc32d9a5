"""ShardedSouthbound: NetconfSouthbound's API with the device sessions spread over worker processes.

ncclient is synchronous, and each of its sessions holds two threads (its reader and paramiko's
transport); a thousand sessions on one interpreter are two thousand threads fighting for one
GIL (1,000 routers took 106 s to connect and 51-151 s per push). Here the inventory is cut into
`shards` slices, each served by a worker process (shard_worker.py) holding the sessions of its
slice in its own NetconfSouthbound; rendering, YANG validation and SSH run in the workers, in
parallel. The controller's process holds no session.

    sb = ShardedSouthbound(load_inventory(path), shards=4)   # max_workers: RPCs per shard
    result = sb.apply_sync(revision, desired, previous)     # all-or-nothing over every shard
    sb.close_sync()                                        # workers exit; none is left behind

All-or-nothing across shards: every shard runs the same transaction (transaction.py) on its
devices, and each of the transaction's decisions is taken for all of them at once: this process
answers each shard's `agree` with "did ANY shard fail?", so a device refusing in one shard makes
every shard abort (or cancel, or put back) exactly as one process would. The `before_confirm`
hook (HA fence) runs once, here, after every shard committed. A worker that dies fails the
transaction: the other shards roll back, and its candidate devices roll back by themselves when
their confirm timer ends (as if the controller had died). The persist-id is chosen here, one for
every shard. Journals (devices without `:candidate`) are kept per shard, beside the inventory's.

`controller run --southbound-shards N` builds one (controller/runtime/assemble.py). A new
leader's takeover sends its cancel-commit through the workers (`cancel_pending`); a re-read
inventory (`reload`, inventory_reload.py) deals added devices to the shards holding the fewest.
Every request holds the lock, so the pipes carry one conversation at a time; `close_sync` waits
for a transaction still running before it tells the workers to close.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import threading
import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from controller.desired import DeviceConfig
from controller.devicestate import DeviceState
from controller.southbound.base import DeviceResult, TransactionResult, refuse_unknown
from controller.southbound.drift import Drift, compare
from controller.southbound.errors import DeviceError
from controller.southbound.flavors import get as get_flavor
from controller.southbound.inventory import DeviceEntry, Inventory
from controller.southbound.inventory_reload import InventoryChange, plan_reload
from controller.southbound.recovery import Recovery
from controller.southbound.session import SessionOptions
from controller.southbound.shard_worker import (
    ShardConfig,
    device_result,
    rebuilt,
    restored_result,
    worker_main,
)
from controller.southbound.transaction import TransactionHooks, TransactionOptions

log = logging.getLogger("netpilot.southbound")

SHARD_IDLE_TICK_S = 5.0
"""How often an idle session's two threads wake in a shard worker (session.py: 1 s in the
controller's process). A worker holds hundreds of sessions; at 1 s their wake-ups, each a fight
for the GIL, cost more CPU than the pushes at 1,000 routers. With fast send nothing waits on
them but noticing a close, and `close_sync` shuts sockets down first."""


class ShardLost(Exception):
    """Worker processes that are gone (their indexes)."""

    def __init__(self, shards: list[int]) -> None:
        self.shards = shards
        super().__init__(f"southbound worker processes gone: {shards}")


@dataclass
class _Shard:
    index: int
    process: BaseProcess
    conn: Connection
    names: list[str]

    def ask(self, command: str, args: Any = None) -> Any:
        self.conn.send((command, args))
        kind, payload = self.conn.recv()
        if kind == "error":
            raise RuntimeError(f"southbound shard {self.index}: {payload}")
        return payload


class ShardedSouthbound:
    def __init__(
        self,
        inventory: Inventory,
        *,
        shards: int = 2,
        session_options: SessionOptions | None = None,
        transaction_options: TransactionOptions | None = None,
        max_workers: int = 32,
        hooks: TransactionHooks | None = None,
        journal: Path | None = None,
        reader_tick_s: float | None = SHARD_IDLE_TICK_S,
    ) -> None:
        self.inventory = inventory
        self.hooks = hooks
        self.flavors = {d.name: get_flavor(d.flavor, d.facts) for d in inventory.devices}
        self._lock = threading.Lock()
        count = max(1, min(shards, len(inventory.devices)))
        context = multiprocessing.get_context("spawn")  # no fork of a threaded controller
        self.shards: list[_Shard] = []
        options = transaction_options or TransactionOptions()
        for index in range(count):
            devices = inventory.devices[index::count]
            config = ShardConfig(
                devices=devices,
                known_hosts=inventory.known_hosts,
                session_options=session_options or SessionOptions(idle_tick_s=SHARD_IDLE_TICK_S),
                transaction_options=_shard_journal(options, journal, index, count),
                max_workers=max_workers,
                reader_tick_s=reader_tick_s,
            )
            parent, child = context.Pipe()
            process = context.Process(
                target=worker_main, args=(child, config), name=f"southbound-shard-{index}",
                daemon=True,
            )  # fmt: skip
            process.start()
            child.close()
            self.shards.append(_Shard(index, process, parent, [d.name for d in devices]))
        self.recovery: Recovery | None = None

    @classmethod
    def from_inventory(
        cls,
        path: Path,
        *,
        shards: int,
        secrets: Path | None = None,
        confirm_timeout_s: int = 60,
        rpc_timeout_s: float = 30.0,
    ) -> ShardedSouthbound:
        """As NetconfSouthbound.from_inventory, over `shards` worker processes."""
        from controller.southbound.inventory import load_inventory
        from controller.southbound.netconf import journal_path

        return cls(
            load_inventory(Path(path), secrets),
            shards=shards,
            session_options=SessionOptions(rpc_timeout_s=rpc_timeout_s),
            transaction_options=TransactionOptions(confirm_timeout_s=confirm_timeout_s),
            journal=journal_path(Path(path)),
        )

    # -- Southbound protocol ------------------------------------------------------------------
    async def apply(
        self,
        revision: int,
        desired: Mapping[str, DeviceConfig],
        previous: Mapping[str, DeviceConfig],
    ) -> TransactionResult:
        return await asyncio.to_thread(self.apply_sync, revision, desired, previous)

    async def running(self, device: str) -> DeviceConfig:
        got = await asyncio.to_thread(self.running_all, [device])
        value = got[device]
        if isinstance(value, str):
            raise DeviceError(device, "get-config running", value)
        return value

    async def close(self) -> None:
        await asyncio.to_thread(self.close_sync)

    def known_devices(self) -> frozenset[str]:
        return frozenset(self.flavors)

    # -- transaction --------------------------------------------------------------------------
    def apply_sync(
        self,
        revision: int,
        desired: Mapping[str, DeviceConfig],
        previous: Mapping[str, DeviceConfig],
        *,
        full_replace: bool = False,
    ) -> TransactionResult:
        outside = refuse_unknown(revision, desired, self.flavors)
        if outside is not None:
            return outside
        with self._lock:
            try:
                refused = self._prepare(desired, previous, full_replace)
            except ShardLost as error:
                return self._merge(revision, desired, {}, dict.fromkeys(error.shards, _GONE))
            if refused:
                return TransactionResult(revision, False, refused)
            persist = self._persist_id(revision)
            for shard in self.shards:
                part = (_part(desired, shard.names), _part(previous, shard.names))
                shard.conn.send(("apply", (revision, *part, full_replace, persist)))
            return self._coordinate(revision, desired)

    def _prepare(
        self,
        desired: Mapping[str, DeviceConfig],
        previous: Mapping[str, DeviceConfig],
        full_replace: bool,
    ) -> dict[str, DeviceResult]:
        """Validation in every shard, then journal replay: the devices refusing the revision."""
        problems = self._scatter(
            "validate", lambda s: (_part(desired, s.names), _part(previous, s.names), full_replace)
        )
        found = {n: e for got in problems.values() for n, e in got.items()}
        if found:
            return _validation_results(found)
        return self._recover_locked()

    def _persist_id(self, revision: int) -> str:
        if self.hooks is not None and self.hooks.persist_id is not None:
            return self.hooks.persist_id(revision)
        return f"netpilot-r{revision}-{uuid.uuid4().hex[:12]}"

    def _coordinate(self, revision: int, desired: Mapping[str, DeviceConfig]) -> TransactionResult:
        """Answer the shards' barriers until each has reported (shard_worker.py)."""
        running = {s.index: s for s in self.shards}
        reports: dict[int, TransactionResult] = {}
        lost: dict[int, str] = {}
        raised: BaseException | None = None
        hooked = confirmed = False  # past the hook; every shard confirmed (decided)
        while running:
            asked, finished = {}, False
            for index, shard in list(running.items()):
                try:
                    kind, payload = shard.conn.recv()
                except (EOFError, OSError) as error:
                    lost[index] = f"{_GONE} ({error or 'EOF'})"
                    del running[index]
                    continue
                if kind in ("agree", "hook"):
                    asked[index] = (kind, payload)
                    continue
                del running[index]
                finished = True
                if kind == "error":
                    lost[index] = f"its southbound worker failed: {payload.splitlines()[-1]}"
                else:
                    reports[index] = restored_result(payload)
            gone = bool(lost) or finished  # a shard that ended early (a bug) fails them all
            if any(kind == "hook" for kind, _ in asked.values()):
                answer: object = "stop" if gone else "go"
                if answer == "go" and self.hooks is not None and self.hooks.before_confirm:
                    try:
                        self.hooks.before_confirm()
                    except BaseException as error:  # roll every shard back, then raise it
                        raised, answer = error, "stop"
                hooked = True
            else:
                answer = gone or any(bool(failed) for _, failed in asked.values())
                confirmed = confirmed or (hooked and not answer)
            for index in asked:
                running[index].conn.send(answer)
        if raised is not None:
            raise raised
        if confirmed:  # a worker lost after every device confirmed: its devices committed
            return self._merge(revision, desired, reports, {}, after_confirm=lost)
        return self._merge(revision, desired, reports, lost)

    def _merge(
        self,
        revision: int,
        desired: Mapping[str, DeviceConfig],
        reports: dict[int, TransactionResult],
        lost: dict[int, str],
        after_confirm: dict[int, str] | None = None,
    ) -> TransactionResult:
        devices: dict[str, DeviceResult] = {}
        committed = not lost
        seconds = 0.0
        for shard in self.shards:
            if after_confirm and shard.index in after_confirm:
                why = f"{after_confirm[shard.index]} after every device confirmed: committed"
                devices.update({n: DeviceResult(n, False, why, "committed")
                                for n in shard.names if n in desired})  # fmt: skip
                continue
            if shard.index in lost:
                why = f"{lost[shard.index]}; candidate devices roll back on their confirm timer"
                devices.update({n: device_result(n, why) for n in shard.names if n in desired})
                continue
            if shard.index not in reports:  # never started: another shard was gone before
                why = f"not attempted: another shard's device failed ({_GONE})"
                devices.update({n: DeviceResult(n, False, why, "aborted")
                                for n in shard.names if n in desired})  # fmt: skip
                continue
            got = reports[shard.index]
            committed = committed and got.committed
            seconds = max(seconds, got.seconds)
            devices.update(got.devices)
        return TransactionResult(revision, committed, devices, seconds)

    def recover(self) -> Recovery | None:
        """Replay each shard's journal (see NetconfSouthbound.recover); the first found."""
        with self._lock:
            self._recover_locked()
            return self.recovery

    def _recover_locked(self) -> dict[str, DeviceResult]:
        pending: dict[str, DeviceResult] = {}
        self.recovery = None
        for recovery, refused in self._scatter("recover", lambda s: None).values():
            self.recovery = self.recovery or recovery
            pending.update(refused or {})
        return pending

    def cancel_pending(self, persist: str, devices: list[str]) -> dict[str, str]:
        """<cancel-commit> of `persist`, sent by the shards holding `devices` (a new leader's
        takeover, controller/ha_takeover.py): device -> "cancelled" or why not."""
        wanted = set(devices)
        with self._lock:
            try:
                got = self._scatter(
                    "cancel", lambda s: (persist, [n for n in s.names if n in wanted])
                )
            except ShardLost as error:
                return dict.fromkeys(devices, f"refused: {_GONE} (shards {error.shards})")
        merged = {n: why for part in got.values() for n, why in part.items()}
        return {n: merged.get(n, "not in the inventory") for n in devices}

    def reload(self, inventory: Inventory, keep: Collection[str] = ()) -> InventoryChange:
        """Take a re-read inventory (see NetconfSouthbound.reload): an added device joins the
        shard holding the fewest, a changed one stays in its shard; each worker gets its new
        slice, between transactions."""
        with self._lock:
            change = plan_reload(self.inventory, inventory, keep)
            if change.empty:
                return change
            slices = _slices(self.shards, change)
            self._scatter(
                "reload",
                lambda s: (slices[s.index], change.inventory.known_hosts, change.inventory.source),
            )
            for shard in self.shards:
                shard.names = [d.name for d in slices[shard.index]]
            self.inventory = change.inventory
            self.flavors = {d.name: get_flavor(d.flavor, d.facts) for d in change.inventory.devices}
        log.warning("inventory %s re-read: %s", inventory.source, change.line())
        return change

    # -- reads --------------------------------------------------------------------------------
    def validate(self, desired: Mapping[str, DeviceConfig]) -> dict[str, str]:
        with self._lock:  # one request at a time on the pipes
            got = self._scatter("validate", lambda s: (_part(desired, s.names), {}, True))
        return {n: str(rebuilt(e)) for part in got.values() for n, e in part.items()}

    def connect_all(self, names: list[str] | None = None) -> dict[str, str | None]:
        return self._gather("connect", names)

    def running_all(self, names: list[str] | None = None) -> dict[str, DeviceConfig | str]:
        return self._gather("running", names)

    def state_all(self, names: list[str] | None = None) -> dict[str, DeviceState | str]:
        return self._gather("state", names)

    def drift(self, expected: Mapping[str, DeviceConfig]) -> list[Drift]:
        known = [n for n in expected if n in self.flavors]
        actual: dict[str, DeviceConfig | str] = dict.fromkeys(expected, "not in the inventory")
        actual.update(self.running_all(known) if known else {})
        held = {n: self.flavors[n].carried(c) if n in self.flavors else c
                for n, c in expected.items()}  # fmt: skip
        return compare(held, actual)

    def _gather(self, command: str, names: list[str] | None) -> dict[str, Any]:
        wanted = set(names) if names is not None else None
        with self._lock:
            got = self._scatter(
                command, lambda s: [n for n in s.names if wanted is None or n in wanted]
            )
        merged = {n: v for part in got.values() for n, v in part.items()}
        order = names if names is not None else list(self.flavors)
        return {n: merged[n] for n in order if n in merged}

    def _scatter(self, command: str, args: Any) -> dict[int, Any]:
        """Send `command` to every shard at once (args: shard -> its args), then collect;
        ShardLost if a worker is gone (every reply is still collected first)."""
        lost: list[int] = []
        for shard in self.shards:
            try:
                shard.conn.send((command, args(shard)))
            except OSError:
                lost.append(shard.index)
        replies, failed = {}, []
        for shard in self.shards:
            if shard.index in lost:
                continue
            try:
                kind, payload = shard.conn.recv()
            except (EOFError, OSError):
                lost.append(shard.index)
                continue
            if kind == "error":  # raised once every reply is read: the pipes stay in step
                failed.append(f"southbound shard {shard.index}: {payload}")
            replies[shard.index] = payload
        if lost:
            raise ShardLost(sorted(lost))
        if failed:
            raise RuntimeError("; ".join(failed))
        return replies

    # -- lifecycle ----------------------------------------------------------------------------
    def close_sync(self, timeout_s: float = 10.0) -> None:
        """Close every session and end every worker process (terminated if it hangs). A
        transaction still running (its caller gone, e.g. a task cancelled at Ctrl-C) ends
        first: a "close" sent into it would be read as an answer to one of its barriers."""
        idle = self._lock.acquire(timeout=timeout_s)
        try:
            for shard in self.shards if idle else ():
                with contextlib.suppress(BrokenPipeError, OSError):
                    shard.conn.send(("close", None))
        finally:
            if idle:
                self._lock.release()
        for shard in self.shards:
            shard.process.join(timeout_s if idle else 0.1)
            if shard.process.is_alive():
                shard.process.terminate()
                shard.process.join(2.0)
            shard.conn.close()

    @property
    def pids(self) -> list[int]:
        """The worker processes' ids (tests check they are gone after close)."""
        return [s.process.pid for s in self.shards if s.process.pid is not None]


_GONE = "its southbound worker process is gone"


def _slices(shards: list[_Shard], change: InventoryChange) -> dict[int, tuple[DeviceEntry, ...]]:
    """Each shard's devices after `change`: its own still there, plus the added ones dealt to
    the smallest shards."""
    entries = {d.name: d for d in change.inventory.devices}
    names = {s.index: [n for n in s.names if n in entries] for s in shards}
    for name in change.added:
        min(names.values(), key=len).append(name)
    return {index: tuple(entries[n] for n in got) for index, got in names.items()}


def _part(configs: Mapping[str, DeviceConfig], names: list[str]) -> dict[str, DeviceConfig]:
    return {n: configs[n] for n in names if n in configs}


def _validation_results(found: dict[str, Any]) -> dict[str, DeviceResult]:
    results = {}
    for name, data in found.items():
        error = rebuilt(data)
        results[name] = DeviceResult(name, True, str(error), "validate", exception=error)
    return results


def _shard_journal(
    options: TransactionOptions, journal: Path | None, index: int, count: int
) -> TransactionOptions:
    """Each shard keeps its own journal file (shard `index` of `count`) beside the inventory's."""
    from dataclasses import replace

    base = journal if journal is not None else options.journal
    if base is None:
        return options
    name = f"{base.stem}.shard{index + 1}of{count}{base.suffix}"
    return replace(options, journal=base.with_name(name))
