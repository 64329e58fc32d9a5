"""NetconfSouthbound: the `Southbound` protocol over NETCONF/SSH (ncclient), for a whole inventory.

Wire it to the controller with::

    sb = NetconfSouthbound.from_inventory(Path("inventory.yaml"), secrets=None,
                                          confirm_timeout_s=60)
    result = await sb.apply(revision, desired, previous)   # TransactionResult
    cfg = await sb.running("r1")                           # DeviceConfig from get-config
    await sb.close()

Sessions stay open per device (reopened with backoff after a failure). ncclient is synchronous:
each transaction runs in a worker thread (`asyncio.to_thread`) that fans out to a thread pool,
one task per device per phase. Config is validated against the YANG module (libyang) before
anything is sent.

With a journal path (`from_inventory` puts it beside the inventory: `<stem>.journal.json`), a
transaction touching devices without `:candidate` records how to undo them (journal.py); the
next `apply_sync` (or `recover()`) on a new controller replays it first (recovery.py), and
refuses to start a new transaction while a device of the interrupted one is not back.

`reload(inventory, keep)` takes a re-read inventory while it runs (inventory_reload.py): the
live controller's inventory watch (controller/runtime/inventory.py) calls it when the file
changes, so routers added to it are pushed to without a restart.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from controller.desired import DeviceConfig
from controller.devicestate import DeviceState
from controller.errors import NotFoundError, ValidationError
from controller.southbound.base import DeviceResult, TransactionResult, refuse_unknown
from controller.southbound.drift import Drift, compare
from controller.southbound.errors import DeviceError
from controller.southbound.inventory import DeviceEntry, Inventory, load_inventory
from controller.southbound.inventory_reload import InventoryChange, plan_reload
from controller.southbound.recovery import Recovery, cancel_pending, recover
from controller.southbound.session import DeviceSession, SessionOptions
from controller.southbound.transaction import (
    TransactionHooks,
    TransactionOptions,
    make_plans,
    run_transaction,
)


class NetconfSouthbound:
    def __init__(
        self,
        inventory: Inventory,
        *,
        session_options: SessionOptions | None = None,
        transaction_options: TransactionOptions | None = None,
        max_workers: int = 128,
        hooks: TransactionHooks | None = None,
        logger: logging.Logger | None = None,
        journal: Path | None = None,
    ) -> None:
        self.inventory = inventory
        self.log = logger or logging.getLogger("netpilot.southbound")
        self.options = transaction_options or TransactionOptions()
        if journal is not None:
            self.options = dataclasses.replace(self.options, journal=Path(journal))
        self.recovery: Recovery | None = None
        """What the last journal replay did (None: there was no journal to replay)."""
        self.hooks = hooks
        self.session_options = session_options
        self.sessions = {d.name: self._new_session(d, inventory) for d in inventory.devices}
        # sized for the devices a reload may add (threads start only when there is work)
        self.pool = ThreadPoolExecutor(max_workers=max(1, max_workers), thread_name_prefix="nc")
        self._apply_lock = threading.Lock()  # one transaction at a time on these sessions

    @classmethod
    def from_inventory(
        cls,
        path: Path,
        *,
        secrets: Path | None = None,
        confirm_timeout_s: int = 60,
        rpc_timeout_s: float = 30.0,
        **kwargs: object,
    ) -> NetconfSouthbound:
        """Build from an inventory YAML (see controller/southbound/inventory.py)."""
        inventory = load_inventory(Path(path), secrets)
        kwargs.setdefault("journal", journal_path(Path(path)))
        return cls(
            inventory,
            session_options=SessionOptions(rpc_timeout_s=rpc_timeout_s),
            transaction_options=TransactionOptions(confirm_timeout_s=confirm_timeout_s),
            **kwargs,  # type: ignore[arg-type]
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
        session = self._session(device)
        return await asyncio.to_thread(session.get_config, "running")

    async def close(self) -> None:
        await asyncio.to_thread(self.close_sync)

    def known_devices(self) -> frozenset[str]:
        """The devices of the inventory (`KnowsDevices`)."""
        return frozenset(self.sessions)

    # -- synchronous API (CLI, benchmarks) ----------------------------------------------------
    def apply_sync(
        self,
        revision: int,
        desired: Mapping[str, DeviceConfig],
        previous: Mapping[str, DeviceConfig],
        *,
        full_replace: bool = False,
    ) -> TransactionResult:
        outside = refuse_unknown(revision, desired, self.sessions)
        if outside is not None:
            return outside
        problems = self._problems(to_send(desired, previous, full_replace))
        if problems:
            devices = {
                n: DeviceResult(n, True, str(error), "validate", exception=error)
                for n, error in problems.items()
            }
            return TransactionResult(revision, False, devices)
        with self._apply_lock:
            pending = self._recover_locked()
            if pending is not None:
                return TransactionResult(revision, False, pending)
            return self._apply_locked(revision, desired, previous, full_replace)

    def recover(self) -> Recovery | None:
        """Replay the transaction journal left by a controller that died mid-transaction, if
        there is one (recovery.py); None when there is nothing to replay."""
        with self._apply_lock:
            self._recover_locked()
            return self.recovery

    def _recover_locked(self) -> dict[str, DeviceResult] | None:
        """Replay the journal; the per-device refusal of a new transaction while a device of
        the interrupted one is not verified back, else None."""
        path = self.options.journal
        if path is None or not path.exists():
            return None
        self.recovery = found = recover(path, self.sessions, self.pool)
        if found is None:
            return None
        self.log.warning(
            "journal of revision %s (phase %s) replayed: %s %s",
            found.revision, found.phase, found.outcome, found.problems or "",
        )  # fmt: skip
        if found.outcome != "incomplete":
            return None
        why = f"revision {found.revision} was interrupted and this device is not back: "
        return {
            name: DeviceResult(name, True, why + problem, "recover")
            for name, problem in found.problems.items()
        }

    def _apply_locked(
        self,
        revision: int,
        desired: Mapping[str, DeviceConfig],
        previous: Mapping[str, DeviceConfig],
        full_replace: bool,
    ) -> TransactionResult:
        opts = self.options
        if full_replace:
            opts = dataclasses.replace(opts, full_replace=True)
        plans = make_plans(self.sessions, dict(desired), dict(previous), opts)
        result = run_transaction(revision, plans, self.pool, options=opts, hooks=self.hooks)
        self.log.info(
            "revision %s: committed=%s in %.3f s, failed devices: %s",
            revision, result.committed, result.seconds, result.failed_devices,
        )  # fmt: skip
        return result

    def validate(self, desired: Mapping[str, DeviceConfig]) -> dict[str, str]:
        """Check every device's full config against the YANG module; device -> problem."""
        return {name: str(error) for name, error in self._problems(desired).items()}

    def _problems(self, desired: Mapping[str, DeviceConfig]) -> dict[str, ValidationError]:
        """Each device's full config rendered in its flavour and validated against that
        flavour's modules (libyang), before anything is sent."""

        problems: dict[str, ValidationError] = {}
        for name, cfg in desired.items():
            flavor = self.sessions[name].flavor
            what = f"desired config of {name!r} (flavor {flavor.name})"
            try:
                doc = b"".join(_children(flavor.render(cfg)))
                flavor.schema().validate(doc, what)
            except ValidationError as error:
                problems[name] = error
            except NotFoundError as error:  # the flavour's vendor modules are not fetched
                problems[name] = ValidationError(what, [str(error)])
        return problems

    def connect_all(self, names: list[str] | None = None) -> dict[str, str | None]:
        """Open sessions in parallel; device -> error (None when connected)."""

        def one(name: str) -> str | None:
            try:
                self.sessions[name].manager()
                return None
            except DeviceError as error:
                return str(error)

        todo = names or list(self.sessions)
        return dict(zip(todo, self.pool.map(one, todo), strict=True))

    def cancel_pending(self, persist: str, devices: list[str]) -> dict[str, str]:
        """<cancel-commit> of `persist` on `devices` (recovery.cancel_pending; a new leader's
        takeover, controller/ha_takeover.py): device -> "cancelled" or why not."""
        return cancel_pending(persist, devices, self.sessions, self.pool)

    def running_all(self, names: list[str] | None = None) -> dict[str, DeviceConfig | str]:
        """get-config running of many devices in parallel; device -> config or error text."""
        return self._map(lambda s: s.get_config("running"), names)

    def state_all(self, names: list[str] | None = None) -> dict[str, DeviceState | str]:
        return self._map(lambda s: s.get_state(), names)

    def _map(self, fn: Callable[[DeviceSession], object], names: list[str] | None) -> dict:  # type: ignore[type-arg]
        def one(name: str) -> object:
            try:
                return fn(self._session(name))
            except DeviceError as error:
                return str(error)
            except Exception as error:  # a reply that does not parse, a library error
                return f"device {name!r}: {type(error).__name__}: {error}"

        todo = names or list(self.sessions)
        return dict(zip(todo, self.pool.map(one, todo), strict=True))

    def drift(self, expected: Mapping[str, DeviceConfig]) -> list[Drift]:
        """Compare each device's running config with the expected (last committed) revision."""
        known = [n for n in expected if n in self.sessions]
        actual: dict[str, DeviceConfig | str] = dict.fromkeys(expected, "not in the inventory")
        actual.update(self.running_all(known) if known else {})
        held = {n: self.sessions[n].expected(c) if n in self.sessions else c
                for n, c in expected.items()}  # fmt: skip
        return compare(held, actual)

    def reload(self, inventory: Inventory, keep: Collection[str] = ()) -> InventoryChange:
        """Take a re-read inventory (inventory_reload.py): sessions for added devices (opened
        on first use, host keys checked as always), new sessions for changed entries, closed
        ones for removed devices; a device of `keep` (config held for it) is not removed."""
        with self._apply_lock:  # never under a transaction
            change = plan_reload(self.inventory, inventory, keep)
            for name in (*change.removed, *change.changed):
                old = self.sessions.pop(name)
                self.pool.submit(old.close)
            for name in (*change.added, *change.changed):
                entry = change.inventory.get(name)
                self.sessions[name] = self._new_session(entry, change.inventory)
            self.inventory = change.inventory
        if not change.empty:
            self.log.warning("inventory %s re-read: %s", inventory.source, change.line())
        return change

    def _new_session(self, entry: DeviceEntry, inventory: Inventory) -> DeviceSession:
        return DeviceSession(
            entry, options=self.session_options, known_hosts=inventory.known_hosts, logger=self.log
        )

    def close_sync(self) -> None:
        list(self.pool.map(lambda s: s.close(), list(self.sessions.values())))
        self.pool.shutdown(wait=True)

    def _session(self, device: str) -> DeviceSession:
        if device not in self.sessions:
            self.inventory.get(device)  # raises a clear InventoryError
        return self.sessions[device]


def to_send(
    desired: Mapping[str, DeviceConfig], previous: Mapping[str, DeviceConfig], full: bool
) -> dict[str, DeviceConfig]:
    """The devices a transaction sends something to, so whose config must be validated first:
    every device for a full replace, else those whose config changes (an unchanged device gets
    no edit). A network-wide revision often changes a few devices of many."""
    if full:
        return dict(desired)
    return {n: cfg for n, cfg in desired.items() if previous.get(n) != cfg}


def journal_path(inventory: Path) -> Path:
    """Where the transaction journal of an inventory's devices lives: beside the inventory."""
    return inventory.with_name(f"{inventory.stem}.journal.json")


def _children(config: object) -> list[bytes]:
    from lxml import etree

    return [etree.tostring(child) for child in config]  # type: ignore[attr-defined]
