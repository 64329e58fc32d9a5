"""The supervised engine loop: a round that raises is logged, counted, shown as an event and in
health, and the loop goes on. `Engine.run` runs on a real event loop; the faults come from the
test's own southbound and store (real SQLite, the in-memory devices)."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from controller.desired import DeviceConfig
from controller.engine import Engine, EngineConfig
from controller.intents import Intent, IntentState
from controller.southbound.base import TransactionResult
from controller.southbound.memory import MemorySouthbound
from controller.store import Store
from controller.supervision import backoff_s
from tests.intents_support import FakeClock, small_wan, until

LOOP: dict[str, Any] = {
    "tick_s": 3600.0,
    "debounce_s": 0.0,
    "retry_backoff_s": 0.01,
    "retry_backoff_max_s": 0.05,
}


@dataclass
class Flaky(MemorySouthbound):
    """Raises from `apply` the first `fail_times` times (or always while `broken`); `probe` runs
    at the start of every apply (the test reads the engine's health there)."""

    fail_times: int = 0
    broken: bool = False
    calls: int = 0
    probe: Callable[[], Any] | None = None
    seen: list[Any] = field(default_factory=list)

    async def apply(
        self,
        revision: int,
        desired: Mapping[str, DeviceConfig],
        previous: Mapping[str, DeviceConfig],
    ) -> TransactionResult:
        self.calls += 1
        if self.probe is not None:
            self.seen.append(self.probe())
        if self.broken or self.calls <= self.fail_times:
            raise RuntimeError("southbound down (injected)")
        return await super().apply(revision, desired, previous)


class FaultyStore(Store):
    """`begin_revision` fails the first `fail_times` times, as a full disk would."""

    fail_times = 0

    def begin_revision(self, *args: Any, **kwargs: Any) -> int:
        if self.fail_times > 0:
            self.fail_times -= 1
            raise sqlite3.OperationalError("disk I/O error (injected)")
        return super().begin_revision(*args, **kwargs)


def intent(name: str, src: str, dst: str, **kw: Any) -> Intent:
    return Intent.model_validate({"name": name, "src": src, "dst": dst, **kw})


def build(
    tmp_path: Path, south: MemorySouthbound, store: Store | None = None, **config: Any
) -> tuple[Engine, Store]:
    clock = FakeClock()
    store = store or Store(tmp_path / "np.db", clock=clock)
    engine = Engine(small_wan(), store, south, clock, config=EngineConfig(**{**LOOP, **config}))
    return engine, store


def test_three_failed_rounds_make_it_not_ready_and_a_good_round_heals(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    south = Flaky(fail_times=3)
    engine, store = build(tmp_path, south)
    south.probe = engine.health

    async def scenario() -> None:
        engine.load()
        engine.ready = True
        task = asyncio.create_task(engine.run())
        store.put_intent(intent("v", "BR1", "DC1", service_class="voice"))
        engine.notify("api: create v")
        await until(lambda: store.get_intent("v").state is IntentState.VERIFIED)
        assert not task.done()  # the loop survived three failed rounds
        engine.stop()
        await asyncio.wait_for(task, 10)  # stop() ends it cleanly

    with caplog.at_level(logging.ERROR, logger="netpilot.engine"):
        asyncio.run(scenario())
    # health as each apply saw it: the fourth attempt ran after three failures in a row
    assert [ok for ok, _ in south.seen] == [True, True, True, False]
    why = south.seen[3][1]
    assert why == "3 consecutive failed rounds: RuntimeError: southbound down (injected)"
    assert engine.health() == (True, "ready")
    stats = engine.stats
    assert stats.round_errors == 3 and stats.consecutive_errors == 0
    assert stats.last_error == "RuntimeError: southbound down (injected)"  # kept after recovery
    assert stats.transactions == 4 and stats.transaction_failures == 3
    errors = [e for e in engine.events if e.kind == "round-error"]
    assert len(errors) == 3
    assert all(e.detail == "RuntimeError: southbound down (injected)" for e in errors)
    assert "api: create v" in errors[0].cause  # the failed round's cause, then retried
    # logged with the traceback
    logged = [r for r in caplog.records if "engine round failed" in r.getMessage()]
    assert len(logged) == 3 and all(r.exc_info is not None for r in logged)
    # the revisions of the failed rounds are closed, not left pending
    statuses = [r["status"] for r in reversed(store.revisions())]
    assert statuses == ["failed", "failed", "failed", "committed"]
    assert "raised RuntimeError" in store.revisions()[-1]["error"]
    assert store.check() == []


def test_a_store_fault_inside_a_round_is_survived(tmp_path: Path) -> None:
    south = MemorySouthbound()
    store = FaultyStore(tmp_path / "np.db", clock=FakeClock())
    store.fail_times = 2
    engine, _ = build(tmp_path, south, store)

    async def scenario() -> None:
        engine.load()
        engine.ready = True
        task = asyncio.create_task(engine.run())
        store.put_intent(intent("p", "HQ", "DC2", service_class="production"))
        engine.notify("api: create p")
        await until(lambda: store.get_intent("p").state is IntentState.VERIFIED)
        engine.stop()
        await asyncio.wait_for(task, 10)

    asyncio.run(scenario())
    assert engine.stats.round_errors == 2 and engine.health()[0]
    details = [e.detail for e in engine.events if e.kind == "round-error"]
    assert details == ["OperationalError: disk I/O error (injected)"] * 2
    assert store.check() == []


def test_direct_rounds_count_too_and_raise_to_their_caller(tmp_path: Path) -> None:
    south = Flaky(broken=True)
    engine, store = build(tmp_path, south)
    assert engine.health() == (False, "starting: state not loaded yet")
    engine.load()
    engine.ready = True
    store.put_intent(intent("v", "BR1", "DC1"))
    for i in range(3):
        assert engine.health()[0], i
        with pytest.raises(RuntimeError, match="southbound down"):
            asyncio.run(engine.reconcile(f"telemetry {i}"))
    ok, why = engine.health()
    assert not ok and why.startswith("3 consecutive failed rounds: RuntimeError")
    south.broken = False
    report = asyncio.run(engine.reconcile("telemetry 3"))
    assert report.committed and engine.health() == (True, "ready")
    assert engine.stats.rounds == 4 and engine.stats.round_errors == 3


def test_a_failed_round_backs_off_and_stop_ends_the_loop_in_its_back_off(
    tmp_path: Path,
) -> None:
    south = Flaky(broken=True)
    engine, store = build(tmp_path, south, retry_backoff_s=30.0, retry_backoff_max_s=60.0)

    async def scenario() -> None:
        engine.load()
        engine.ready = True
        task = asyncio.create_task(engine.run())
        store.put_intent(intent("v", "BR1", "DC1"))
        engine.notify("api: create v")
        await until(lambda: engine.stats.round_errors == 1)
        for _ in range(20):  # new changes wait for the 30 s back-off: no hot loop
            engine.notify("api: another change")
            await asyncio.sleep(0.005)
        assert south.calls == 1 and engine.stats.rounds == 1
        engine.stop()  # ends the loop in the middle of its back-off, well before 30 s
        await asyncio.wait_for(task, 10)
        assert task.exception() is None

    asyncio.run(scenario())


def test_cancellation_still_ends_the_loop(tmp_path: Path) -> None:
    engine, _ = build(tmp_path, MemorySouthbound())

    async def scenario() -> None:
        engine.load()
        task = asyncio.create_task(engine.run())
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert engine.stats.round_errors == 0


def test_backoff_doubles_up_to_its_cap() -> None:
    assert [backoff_s(n, 1.0, 30.0) for n in range(8)] == [0, 1, 2, 4, 8, 16, 30, 30]
