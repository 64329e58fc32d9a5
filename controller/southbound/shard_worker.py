"""One worker process of a sharded southbound (shard.py): a NetconfSouthbound over a slice of
the inventory, driven over a pipe by the controller's process.

Each request is `(command, args)` and gets one reply `(kind, payload)`. A transaction
(`apply`) runs `run_transaction` on this shard's devices with a pool whose `agree` asks the
controller, at each of the transaction's decisions (failed in prepare? journal written? failed
in commit? failed in confirm?), whether ANY shard failed: every shard then takes the same branch,
so the network-wide transaction stays all-or-nothing (transaction.py's `_agree`). The
`before_confirm` hook is a barrier too: the controller runs its own hook once every shard has
committed, and answers "stop" if that hook refused or a shard is gone; the shard then rolls back
(as run_transaction does when a hook raises) and reports its devices.
"""

from __future__ import annotations

import logging
import signal
import traceback
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, TypeVar

from controller.desired import DeviceConfig
from controller.errors import ValidationError
from controller.southbound.base import DeviceResult, TransactionResult
from controller.southbound.errors import ConnectError, DeviceError
from controller.southbound.inventory import DeviceEntry, Inventory
from controller.southbound.netconf import to_send
from controller.southbound.session import SessionOptions, set_reader_tick
from controller.southbound.transaction import (
    TransactionHooks,
    TransactionOptions,
    make_plans,
    run_transaction,
)

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class ShardConfig:
    """What a worker needs to build its NetconfSouthbound (all picklable)."""

    devices: tuple[DeviceEntry, ...]
    known_hosts: Path | None
    session_options: SessionOptions
    transaction_options: TransactionOptions
    max_workers: int
    reader_tick_s: float | None


class ShardStopped(Exception):
    """The controller told this shard not to confirm (its hook refused, or a shard is gone)."""


def portable(error: BaseException | None) -> tuple[str, ...] | None:
    """An exception as plain data (netpilot's exceptions do not unpickle: their __init__ takes
    more than the message)."""
    if isinstance(error, ValidationError):
        return ("validation", error.what, *error.problems)
    if isinstance(error, DeviceError):
        kind = "connect" if isinstance(error, ConnectError) else "device"
        return (kind, error.device, error.doing, error.reason)
    return None if error is None else ("other", f"{type(error).__name__}: {error}")


def rebuilt(data: tuple[str, ...] | None) -> BaseException | None:
    """The exception `portable` described."""
    if data is None:
        return None
    kind, *rest = data
    if kind == "validation":
        return ValidationError(rest[0], rest[1:])
    if kind in ("device", "connect"):
        cls = ConnectError if kind == "connect" else DeviceError
        return cls(rest[0], rest[1], rest[2])
    return RuntimeError(rest[0])


Portable = tuple[TransactionResult, dict[str, tuple[str, ...] | None]]


def portable_result(result: TransactionResult) -> Portable:
    """A transaction result without its exceptions, and the exceptions as plain data."""
    devices = {name: replace(r, exception=None) for name, r in result.devices.items()}
    errors = {name: portable(r.exception) for name, r in result.devices.items()}
    return replace(result, devices=devices), errors


def restored_result(data: Portable) -> TransactionResult:
    """The result `portable_result` made, its exceptions rebuilt."""
    result, errors = data
    for name, r in result.devices.items():
        r.exception = rebuilt(errors.get(name))
    return result


class AgreeingPool(Executor):
    """The shard's thread pool, plus `agree`: the transaction's decisions taken with every shard."""

    def __init__(self, pool: Executor, agree: Callable[[bool], bool]) -> None:
        self.pool = pool
        self.agree = agree

    def submit(self, fn: Callable[..., R], /, *args: Any, **kwargs: Any) -> Future[R]:
        return self.pool.submit(fn, *args, **kwargs)

    def map(self, fn: Callable[[T], R], *iterables: Iterable[T], **kwargs: Any) -> Iterator[R]:
        return self.pool.map(fn, *iterables, **kwargs)


class ShardWorker:
    def __init__(self, conn: Connection, config: ShardConfig) -> None:
        from controller.southbound.netconf import NetconfSouthbound

        self.conn = conn
        self.config = config
        inventory = Inventory(config.devices, config.known_hosts)
        self.sb = NetconfSouthbound(
            inventory,
            session_options=config.session_options,
            transaction_options=config.transaction_options,
            max_workers=config.max_workers,
        )

    def serve(self) -> None:
        while True:
            try:
                command, args = self.conn.recv()
            except (EOFError, OSError):  # the controller is gone
                break
            if command == "close":
                self.sb.close_sync()
                self.conn.send(("closed", None))
                break
            try:
                reply = self.handle(command, args)
            except Exception:  # a bug: report it, keep serving
                reply = ("error", traceback.format_exc(limit=8))
            self.conn.send(reply)

    def handle(self, command: str, args: Any) -> tuple[str, Any]:
        sb = self.sb
        if command == "connect":
            return "ok", sb.connect_all(args)
        if command == "validate":
            return "ok", {n: portable(e) for n, e in sb._problems(to_send(*args)).items()}
        if command == "recover":
            with sb._apply_lock:
                pending = sb._recover_locked()
            return "ok", (sb.recovery, pending)
        if command == "running":
            return "ok", sb.running_all(args)
        if command == "state":
            return "ok", sb.state_all(args)
        if command == "apply":
            return self.apply(*args)
        if command == "cancel":
            return "ok", sb.cancel_pending(*args)
        if command == "reload":  # this shard's slice of a re-read inventory (shard.py decided)
            devices, known_hosts, source = args
            sb.reload(Inventory(devices, known_hosts, source))
            return "ok", [d.name for d in devices]
        raise ValueError(f"unknown shard command {command!r}")

    def apply(
        self,
        revision: int,
        desired: dict[str, DeviceConfig],
        previous: dict[str, DeviceConfig],
        full_replace: bool,
        persist: str,
    ) -> tuple[str, Any]:
        sb = self.sb
        opts = replace(sb.options, full_replace=full_replace or sb.options.full_replace)
        hooks = TransactionHooks(before_confirm=self._barrier, persist_id=lambda _r: persist)
        pool = AgreeingPool(sb.pool, self._agree)
        with sb._apply_lock:
            plans = make_plans(sb.sessions, desired, previous, opts)
            try:
                result = run_transaction(revision, plans, pool, options=opts, hooks=hooks)
            except ShardStopped:  # rolled back by run_transaction
                results = {n: p.result for n, p in plans.items()}
                return "stopped", portable_result(TransactionResult(revision, False, results))
        return "done", portable_result(result)

    def _agree(self, failed: bool) -> bool:
        self.conn.send(("agree", failed))
        return bool(self.conn.recv())

    def _barrier(self) -> None:
        self.conn.send(("hook", None))
        if self.conn.recv() != "go":
            raise ShardStopped()


def worker_main(conn: Connection, config: ShardConfig) -> None:
    """Entry point of a worker process. Ctrl-C (SIGINT to the whole process group) is left to
    the controller, which closes its workers in order; a controller that dies ends the pipe,
    and the worker with it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for name in ("paramiko", "ncclient"):  # failures are reported per device, not logged
        logging.getLogger(name).addHandler(logging.NullHandler())
    if config.reader_tick_s is not None:
        set_reader_tick(config.reader_tick_s)
    ShardWorker(conn, config).serve()


def device_result(name: str, why: str) -> DeviceResult:
    """The result of a device whose shard could not report."""
    return DeviceResult(name, True, why, "shard")
