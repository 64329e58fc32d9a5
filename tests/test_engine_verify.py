"""Verify after every commit, and drift watch with repair: intents end `verified` only when the
devices hold what was pushed. The in-memory devices for the engine's logic, then simulated
routers over NETCONF/SSH for the real thing (a router changed behind the controller's back)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from controller.desired import DeviceConfig, QosQueue
from controller.engine import Engine, EngineConfig
from controller.intents import Intent, IntentState
from controller.southbound.base import TransactionResult
from controller.southbound.errors import DeviceError
from controller.southbound.memory import MemorySouthbound
from controller.southbound.render import canonical
from controller.store import Store
from tests.intents_support import FakeClock, small_wan, until
from tests.southbound_support import driver, running, start_fleet, wait_settled

FAST: dict[str, Any] = {"tick_s": 3600.0, "debounce_s": 0.0, "verify_retry_s": 0.01}


@dataclass
class Forgetful(MemorySouthbound):
    """Commits, but a device in `forget` silently loses its first QoS class on each of its next
    `forget[device]` commits (a device that does not keep what it acknowledged)."""

    forget: dict[str, int] = field(default_factory=dict)
    pushes: dict[str, int] = field(default_factory=dict)

    async def apply(
        self,
        revision: int,
        desired: Mapping[str, DeviceConfig],
        previous: Mapping[str, DeviceConfig],
    ) -> TransactionResult:
        result = await super().apply(revision, desired, previous)
        for name in desired if result.committed else ():
            self.pushes[name] = self.pushes.get(name, 0) + 1
            if self.forget.get(name, 0) > 0:
                self.forget[name] -= 1
                cfg = self.devices[name]
                self.devices[name] = replace(cfg, qos=cfg.qos[1:])
        return result


def intent(name: str, src: str, dst: str, **kw: Any) -> Intent:
    return Intent.model_validate({"name": name, "src": src, "dst": dst, **kw})


def build(
    tmp_path: Path, south: MemorySouthbound | None = None, **config: Any
) -> tuple[Engine, Store, MemorySouthbound]:
    clock = FakeClock()
    south = south if south is not None else MemorySouthbound()
    store = Store(tmp_path / "np.db", clock=clock)
    engine = Engine(small_wan(), store, south, clock, config=EngineConfig(**{**FAST, **config}))
    engine.load()
    engine.ready = True
    return engine, store, south


def state(store: Store, name: str) -> IntentState:
    return store.get_intent(name).state


def test_a_commit_is_read_back_and_its_intents_verified(tmp_path: Path) -> None:
    engine, store, _ = build(tmp_path)
    store.put_intent(intent("v", "BR1", "DC1", service_class="voice"))
    store.put_intent(intent("p", "HQ", "DC2", service_class="production"))
    report = asyncio.run(engine.reconcile("api"))
    assert report.committed and report.verify_failed == {}
    assert set(report.verified) == set(report.devices) == set(engine.topology.nodes)
    record = store.get_intent("v")
    revision = report.revisions[-1]
    assert record.state is IntentState.VERIFIED
    assert record.reason == f"verified: devices hold revision {revision}"
    assert [t.state.value for t in store.transitions("v")][-2:] == ["installed", "verified"]
    assert engine.stats.verify_ok == len(engine.topology.nodes)
    assert any(e.kind == "verified" for e in engine.events)
    # another intent at the same head end: v's own config did not change, no new history
    history = len(store.transitions("v"))
    store.put_intent(intent("w", "BR1", "DC2", service_class="office"))
    report = asyncio.run(engine.reconcile("api"))
    assert report.devices == ["BR1"] and state(store, "w") is IntentState.VERIFIED
    assert len(store.transitions("v")) == history and state(store, "v") is IntentState.VERIFIED
    # verified counts as installed: optimize may move it, plan keeps it
    assert engine.placement("v") is not None


def test_a_device_that_differs_is_an_event_and_is_pushed_again(tmp_path: Path) -> None:
    south = Forgetful(forget={"BR1": 2})
    engine, store, _ = build(tmp_path, south)

    async def scenario() -> None:
        task = asyncio.create_task(engine.run())
        store.put_intent(intent("v", "BR1", "DC1", service_class="voice"))
        store.put_intent(intent("p", "HQ", "DC2", service_class="production"))
        engine.notify("api: apply")
        await until(lambda: state(store, "v") is IntentState.VERIFIED)
        engine.stop()
        await asyncio.wait_for(task, 10)

    asyncio.run(scenario())
    failed = [e for e in engine.events if e.kind == "verify-failed"]
    assert len(failed) == 2 and engine.stats.verify_failures == 2
    assert failed[0].detail.startswith("BR1: differs from revision ")
    assert "qos class" in failed[0].detail and "missing" in failed[0].detail
    assert south.pushes["BR1"] == 3  # the first push and two retries
    assert any(e.cause.startswith("verify retry: BR1") for e in engine.events)
    assert state(store, "p") is IntentState.VERIFIED
    assert canonical(south.devices["BR1"]) == canonical(store.installed_configs()["BR1"])


def test_a_device_that_keeps_disagreeing_is_retried_a_bounded_number_of_times(
    tmp_path: Path,
) -> None:
    south = Forgetful(forget={"BR1": 1000})
    engine, store, _ = build(tmp_path, south, verify_retries=2)

    async def scenario() -> None:
        task = asyncio.create_task(engine.run())
        store.put_intent(intent("v", "BR1", "DC1", service_class="voice"))
        engine.notify("api: apply")
        await until(lambda: any(e.kind == "verify-gave-up" for e in engine.events))
        rounds = engine.stats.rounds
        store.put_intent(intent("o", "HQ", "DC1", service_class="office"))
        engine.notify("api: unrelated change")
        await until(
            lambda: engine.stats.rounds > rounds and state(store, "o") is IntentState.VERIFIED
        )
        engine.stop()
        await asyncio.wait_for(task, 10)

    asyncio.run(scenario())
    assert south.pushes["BR1"] == 3  # the push and 2 retries, then left to the drift watch
    assert engine.stats.verify_gave_up == 1 and engine.stats.verify_failures == 3
    assert state(store, "v") is IntentState.INSTALLED  # never claimed verified
    assert state(store, "o") is IntentState.VERIFIED
    gave_up = next(e for e in engine.events if e.kind == "verify-gave-up")
    assert gave_up.detail.startswith("BR1: still failing after 2 retries")


def test_an_unreadable_device_is_read_again_without_a_push(tmp_path: Path) -> None:
    engine, store, south = build(tmp_path)
    south.unreadable = {"BR1"}
    store.put_intent(intent("v", "BR1", "DC1", service_class="voice"))
    store.put_intent(intent("p", "HQ", "DC2", service_class="production"))
    report = asyncio.run(engine.reconcile("api"))
    assert report.committed and "cannot read" in report.verify_failed["BR1"]
    assert state(store, "v") is IntentState.INSTALLED
    assert state(store, "p") is IntentState.VERIFIED
    assert engine.stats.device_errors == 1
    south.unreadable = set()
    pushed = len(south.transactions)
    report = asyncio.run(engine.reconcile("verify retry: BR1"))
    assert report.revisions == [] and len(south.transactions) == pushed  # read, not pushed
    assert report.verified == ["BR1"] and state(store, "v") is IntentState.VERIFIED


def test_drift_is_reported_then_repaired(tmp_path: Path) -> None:
    engine, store, south = build(tmp_path)
    store.put_intent(intent("v", "BR1", "DC1", service_class="voice"))
    store.put_intent(intent("p", "HQ", "DC2", service_class="production"))
    asyncio.run(engine.reconcile("api"))
    clean = asyncio.run(engine.check_drift(repair=True))
    assert clean.drifted == {} and clean.revisions == [] and len(clean.in_sync) == 7
    # behind the controller's back: v's policy removed, a QoS class changed on BR1
    cfg = south.devices["BR1"]
    voice = next(q for q in cfg.qos if q.service_class == "voice")
    rest = tuple(q for q in cfg.qos if q is not voice)
    south.devices["BR1"] = replace(cfg, sr_policies=(), qos=(*rest, replace(voice, weight=99)))
    found = asyncio.run(engine.check_drift(repair=False))
    assert list(found.drifted) == ["BR1"] and found.repaired == [] and found.revisions == []
    assert "missing" in found.drifted["BR1"] and "qos class voice: changed" in found.drifted["BR1"]
    assert state(store, "v") is IntentState.INSTALLED  # no longer verified
    assert state(store, "p") is IntentState.VERIFIED
    assert any(e.kind == "drift" and e.detail.startswith("BR1: ") for e in engine.events)
    fixed = asyncio.run(engine.check_drift(repair=True))
    assert fixed.repaired == ["BR1"] and fixed.committed and len(fixed.revisions) == 1
    assert canonical(south.devices["BR1"]) == canonical(store.installed_configs()["BR1"])
    assert state(store, "v") is IntentState.VERIFIED
    revision = store.revisions(1)[0]
    assert revision["cause"] == "drift repair: BR1" and revision["status"] == "committed"
    stats = engine.stats
    assert (stats.drift_checks, stats.drift_found, stats.drift_repaired) == (3, 2, 1)


def test_an_unreadable_device_is_reported_not_raised(tmp_path: Path) -> None:
    engine, store, south = build(tmp_path)
    store.put_intent(intent("v", "BR1", "DC1"))
    asyncio.run(engine.reconcile("api"))
    south.unreadable = {"P1"}
    report = asyncio.run(engine.check_drift(repair=True))
    assert list(report.unreadable) == ["P1"] and "did not answer" in report.unreadable["P1"]
    assert report.drifted == {} and report.error is None and "P1" not in report.in_sync
    assert any(e.kind == "drift-unreadable" and "P1" in e.detail for e in engine.events)
    assert state(store, "v") is IntentState.VERIFIED  # BR1 and DC1 were read fine


def test_a_restart_checks_the_devices_before_trusting_the_database(tmp_path: Path) -> None:
    engine, store, south = build(tmp_path)
    store.put_intent(intent("v", "BR1", "DC1", service_class="voice"))
    asyncio.run(engine.reconcile("api"))
    # while the controller is down, someone deletes the voice queue on BR1, adds one on P1
    cfg = south.devices["BR1"]
    south.devices["BR1"] = replace(cfg, qos=tuple(q for q in cfg.qos if q.service_class != "voice"))
    p1 = south.devices["P1"]
    rogue = replace(cfg.qos[0], service_class="rogue")
    south.devices["P1"] = replace(p1, qos=(*p1.qos, rogue))
    restarted = Engine(small_wan(), store, south, FakeClock(), config=EngineConfig(**FAST))
    restarted.load()
    report = asyncio.run(restarted.check_drift(repair=True))
    assert sorted(report.drifted) == ["BR1", "P1"] and report.repaired == ["BR1", "P1"]
    assert "qos class rogue: not ours (unexpected)" in report.drifted["P1"]
    installed = store.installed_configs()
    assert all(canonical(south.devices[d]) == canonical(c) for d, c in installed.items())
    assert state(store, "v") is IntentState.VERIFIED


# -- over NETCONF: simulated routers, real SSH sessions -----------------------------------------
def test_over_netconf_intents_end_verified_and_drift_is_repaired_after_a_restart(
    tmp_path: Path,
) -> None:
    topo = small_wan()
    fleet = start_fleet(sorted(topo.nodes), tmp_path)
    store = Store(tmp_path / "np.db")
    south = driver(fleet, tmp_path)
    engine = Engine(topo, store, south, time.time)

    async def install() -> None:
        await engine.start()
        store.put_intent(intent("v", "BR1", "DC1", service_class="voice", protection="path"))
        store.put_intent(intent("p", "DC1", "DC2", service_class="production"))
        report = await engine.reconcile("apply over NETCONF")
        assert report.committed, store.revisions(1)[0]["error"]
        assert report.verify_failed == {} and set(report.verified) >= {"BR1", "DC1"}

    try:
        asyncio.run(install())
        for name in ("v", "p"):
            record = store.get_intent(name)
            assert record.state is IntentState.VERIFIED, record
            assert record.reason.startswith("verified: devices hold revision ")
        # another NETCONF client deletes the voice queue and v's policy on BR1
        br1 = running(fleet)["BR1"]
        voice_gone = tuple(q for q in br1.qos if q.service_class != "voice")
        tampered = replace(br1, sr_policies=(), steering=(), qos=voice_gone)
        rogue = driver(fleet, tmp_path)
        try:
            assert rogue.apply_sync(10_000, {"BR1": tampered}, {"BR1": br1}).committed
        finally:
            rogue.close_sync()
        wait_settled(fleet)
        seen = asyncio.run(engine.check_drift(repair=False))
        assert list(seen.drifted) == ["BR1"] and seen.unreadable == {}
        assert "qos class voice: missing" in seen.drifted["BR1"]
        assert state(store, "v") is IntentState.INSTALLED
        south.close_sync()
        # restart: a new engine and new sessions; the database alone is not trusted
        south = driver(fleet, tmp_path)
        restarted = Engine(topo, store, south, time.time)
        restarted.load()
        report = asyncio.run(restarted.check_drift(repair=True))
        assert report.repaired == ["BR1"] and report.committed, report
        wait_settled(fleet)
        on_devices = running(fleet)
        installed = store.installed_configs()
        assert all(on_devices[d] == canonical(c) for d, c in installed.items())
        assert state(store, "v") is IntentState.VERIFIED
        assert store.revisions(1)[0]["cause"] == "drift repair: BR1"
        # an unreachable router is reported by the next check, not raised
        fleet.call(lambda: fleet.fleet.routers["P1"].set_reachable(False))
        report = asyncio.run(restarted.check_drift(repair=True))
        assert list(report.unreadable) == ["P1"] and report.drifted == {}
        fleet.call(lambda: fleet.fleet.routers["P1"].set_reachable(True))
    finally:
        south.close_sync()
        store.close()
        fleet.stop()


def test_over_netconf_a_device_failure_keeps_its_exception(tmp_path: Path) -> None:
    fleet = start_fleet(["BR1", "DC1"], tmp_path)
    south = driver(fleet, tmp_path)
    try:
        voice = QosQueue("voice", 7, (46,), priority=True)
        want = {n: DeviceConfig(n, qos=(voice,)) for n in ("BR1", "DC1")}
        fleet.call(lambda: fleet.fleet.routers["DC1"].faults.on_rpc.update({"commit": "fail"}))
        result = south.apply_sync(1, want, {})
        assert not result.committed and result.failed_devices == ["DC1"]
        failed = result.devices["DC1"]
        assert isinstance(failed.exception, DeviceError) and failed.exception.device == "DC1"
        assert failed.error == failed.exception.reason
        assert result.devices["BR1"].exception is None
    finally:
        south.close_sync()
        fleet.stop()
