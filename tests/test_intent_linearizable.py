"""Model-based test of the intent lifecycle (issue 13): API writes interleaved with engine rounds.

Hypothesis drives a state machine against a real engine, a real SQLite store and the in-memory
southbound. A round can be started and held at a point where it has read its snapshot and is
waiting on the devices (inside the transaction, or reading back after it); writes the API would
make (create, update, delete) happen while it waits; then the round finishes. The model is what
the API acknowledged. The properties:

- no acknowledged write is ever undone: the store's version, spec and liveness of every intent
  are the last acknowledged ones, at every step, with or without a round in flight;
- a deleted intent is `withdrawing` until a round withdraws it, never back to installed;
- once rounds run quietly, every live intent is installed (or verified) on the devices with its
  acknowledged spec, and every deleted one is gone from the store's list and from every device.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import threading
from collections.abc import Coroutine, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from controller.desired import DeviceConfig
from controller.engine import Engine, EngineConfig
from controller.errors import NotFoundError
from controller.intents import Intent, IntentState
from controller.southbound.base import TransactionResult
from controller.southbound.memory import MemorySouthbound
from controller.store import Store
from tests.intents_support import FakeClock, small_wan

T = TypeVar("T")
NAMES = ("a", "b", "c")
SPECS = (
    {"src": "BR1", "dst": "DC1", "service_class": "voice", "bandwidth": "2M"},
    {"src": "BR1", "dst": "DC1", "service_class": "voice", "bandwidth": "3M"},
    {"src": "HQ", "dst": "DC2", "service_class": "production", "bandwidth": "50M"},
    {"src": "BR2", "dst": "DC2", "service_class": "office", "bandwidth": "5M",
     "exclude_nodes": ["P1"]},
)  # fmt: skip
DEAD = (IntentState.WITHDRAWING, IntentState.WITHDRAWN)
PLACED = (IntentState.INSTALLED, IntentState.VERIFIED)


@dataclass
class GatedSouthbound(MemorySouthbound):
    """The in-memory devices, with a gate a round can be held at: `apply` (inside the
    transaction) or `running` (the read-back after it)."""

    hold_at: str | None = None
    reached: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    async def _gate(self, point: str) -> None:
        if self.hold_at == point:
            self.hold_at = None
            self.reached.set()
            await asyncio.to_thread(self.release.wait)

    async def apply(
        self,
        revision: int,
        desired: Mapping[str, DeviceConfig],
        previous: Mapping[str, DeviceConfig],
    ) -> TransactionResult:
        await self._gate("apply")
        return await super().apply(revision, desired, previous)

    async def running(self, device: str) -> DeviceConfig:
        await self._gate("running")
        return await super().running(device)


class Loop:
    """An asyncio loop on its own thread: the engine's rounds run there, as in the server."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def submit(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.submit(coro).result(timeout=30)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


class Lifecycle(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="np-lifecycle-"))
        self.loop = Loop()
        self.clock = FakeClock()
        self.store = Store(self.tmp / "np.db", clock=self.clock)
        self.south = GatedSouthbound()
        self.engine = Engine(small_wan(), self.store, self.south, self.clock, config=EngineConfig())
        self.round: Future[Any] | None = None
        self.alive: dict[str, tuple[int, dict[str, Any]]] = {}  # name -> (version, spec)
        self.deleted: dict[str, int] = {}  # name -> version the delete acknowledged

    @initialize()
    def start(self) -> None:
        self.loop.run(self.engine.start())

    # -- the API's writes, acknowledged ---------------------------------------------------------
    @rule(name=st.sampled_from(NAMES), spec=st.sampled_from(SPECS))
    def put(self, name: str, spec: dict[str, Any]) -> None:
        intent = self.engine.check(Intent.model_validate({"name": name, **spec}))
        record, _ = self.store.put_intent(intent, actor="api")
        self.alive[name] = (record.version, intent.spec())
        self.deleted.pop(name, None)

    @rule(name=st.sampled_from(NAMES))
    def delete(self, name: str) -> None:
        if name in self.deleted and not self.store.find_intent(name).deleted:  # type: ignore[union-attr]
            record = self.store.delete_intent(name, actor="api")  # again while withdrawing
            assert record.version == self.deleted[name]  # changes nothing
            return
        if name not in self.alive:
            with pytest.raises(NotFoundError):
                self.store.delete_intent(name, actor="api")
            return
        record = self.store.delete_intent(name, actor="api")
        del self.alive[name]
        self.deleted[name] = record.version

    # -- engine rounds, held at a point while the API writes -------------------------------------
    @precondition(lambda self: self.round is None)
    @rule(hold=st.sampled_from(["apply", "running", None]))
    def start_round(self, hold: str | None) -> None:
        self.south.reached.clear()
        self.south.release.clear()
        self.south.hold_at = hold
        self.round = self.loop.submit(self.engine.reconcile("test round"))
        if hold is not None:
            # held at the gate, or done without reaching it (nothing to push or read)
            while not self.south.reached.wait(0.01) and not self.round.done():
                pass

    @precondition(lambda self: self.round is not None)
    @rule()
    def finish_round(self) -> None:
        assert self.round is not None
        self.south.hold_at = None
        self.south.release.set()
        self.round.result(timeout=30)
        self.round = None

    @precondition(lambda self: self.round is None)
    @rule()
    def link_flap(self) -> None:
        """A link event makes a round move intents (a different path through the engine)."""
        from controller.topology import LinkState

        self.loop.run(self.engine.link_state("P1-P2", LinkState.DOWN, "test"))
        self.loop.run(self.engine.link_state("P1-P2", LinkState.UP, "test"))

    # -- properties ------------------------------------------------------------------------------
    @invariant()
    def acknowledged_writes_stand(self) -> None:
        for name, (version, spec) in self.alive.items():
            record = self.store.find_intent(name)
            assert record is not None and not record.deleted, name
            assert record.version == version, (name, record.version, version)
            assert record.intent.spec() == spec
            assert record.state not in DEAD, (name, record.state)
        for name, version in self.deleted.items():
            record = self.store.find_intent(name)
            assert record is not None and record.version == version, (name, record)
            assert record.state in DEAD, (name, record.state, record.reason)

    def teardown(self) -> None:
        try:
            if self.round is not None:
                self.finish_round()
            self.settle_and_check()
        finally:
            self.loop.run(self.south.close())
            self.loop.close()
            self.store.close()
            shutil.rmtree(self.tmp, ignore_errors=True)

    def settle_and_check(self) -> None:
        """Rounds until nothing changes; then the devices and the store tell the same story."""
        for _ in range(4):
            report = self.loop.run(self.engine.reconcile("settle"))
            if not report.revisions:
                break
        listed = {r.name: r for r in self.store.list_intents()}
        assert set(listed) == set(self.alive), (sorted(listed), sorted(self.alive))
        policies = {p.name: d for d, c in self.south.devices.items() for p in c.sr_policies}
        for name in self.alive:
            assert listed[name].state in PLACED, (name, listed[name].state, listed[name].reason)
            assert name in policies, name
        for name in self.deleted:
            assert name not in policies, name  # withdrawn from every device
        assert self.store.check() == []


def test_acknowledged_writes_are_never_undone_by_a_round() -> None:
    from hypothesis.stateful import run_state_machine_as_test

    run_state_machine_as_test(
        Lifecycle,
        settings=settings(
            max_examples=60,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
