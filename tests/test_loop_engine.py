"""The engine acts on forecasts and fault risk, with hysteresis, and records why it moved."""

from __future__ import annotations

import asyncio
from pathlib import Path

from controller.intents import IntentState
from controller.topology import LinkState
from tests.test_intent_engine import intent, make


def _links(engine: object, name: str) -> set[str]:
    placement = engine.placement(name)  # type: ignore[attr-defined]
    assert placement is not None
    return {key[2] for key in placement.primary.links}


def test_fault_risk_moves_protected_and_high_priority_only(tmp_path: Path) -> None:
    engine, store, south, _ = make(tmp_path)
    store.put_intent(intent("p", "DC1", "DC2", service_class="production", protection="path"))
    store.put_intent(intent("t", "DC1", "DC2", service_class="office"))
    asyncio.run(engine.reconcile("test"))
    link = sorted(_links(engine, "p"))[0]
    office = _links(engine, "t")
    before = len(south.history)
    report = asyncio.run(engine.link_risk(link, 0.9, "model: crc rising"))
    assert report is not None and report.moved == ["p"]
    assert link not in _links(engine, "p") and _links(engine, "t") == office
    assert len(south.history) - before == 2  # make-before-break: two transactions
    record = store.get_intent("p")
    assert record.state is IntentState.VERIFIED and "fault risk 0.90" in record.reason
    audit = store.audit_log()
    assert any(e["action"] == "avoid-risk" and e["target"] == link for e in audit)
    # the risk stays high: nothing more to do
    assert asyncio.run(engine.link_risk(link, 0.95, "still high")) is None


def test_forecast_moves_bigdata_and_office_not_voice(tmp_path: Path) -> None:
    engine, store, _, _ = make(tmp_path)
    store.put_intent(intent("b", "DC1", "DC2", service_class="bigdata"))
    store.put_intent(intent("v", "DC1", "DC2", service_class="voice"))
    asyncio.run(engine.reconcile("test"))
    link = sorted(_links(engine, "b"))[0]
    voice = _links(engine, "v")
    assert asyncio.run(engine.link_forecast(link, 0.5, "forecast")) is None  # below threshold
    report = asyncio.run(engine.link_forecast(link, 0.95, "forecast in 60s"))
    assert report is not None and report.moved == ["b"]
    assert link not in _links(engine, "b") and _links(engine, "v") == voice
    assert "utilisation forecast 0.95" in store.get_intent("b").reason


def test_avoidance_clears_only_after_hold_time_and_paths_do_not_flap(tmp_path: Path) -> None:
    engine, store, _, clock = make(tmp_path, hold_time_s=300.0)
    store.put_intent(intent("p", "DC1", "DC2", service_class="production"))
    asyncio.run(engine.reconcile("test"))
    link = next(iter(_links(engine, "p")))
    asyncio.run(engine.link_risk(link, 0.9, "risk"))
    moved_to = _links(engine, "p")
    clock.advance(10)
    asyncio.run(engine.link_risk(link, 0.1, "risk fell"))
    assert engine.avoid  # held: too early to clear
    # a flapping link: down/up several times; the intent does not come back each time
    for _ in range(3):
        clock.advance(20)
        asyncio.run(engine.link_state(link, LinkState.DOWN, "flap down"))
        asyncio.run(engine.link_state(link, LinkState.UP, "flap up"))
        assert _links(engine, "p") == moved_to
    clock.advance(300)
    asyncio.run(engine.link_risk(link, 0.1, "risk fell"))
    assert not engine.avoid


def test_flapping_link_moves_the_intent_once(tmp_path: Path) -> None:
    engine, store, _south, clock = make(tmp_path, hold_time_s=300.0)
    store.put_intent(intent("p", "DC1", "DC2", service_class="production"))
    asyncio.run(engine.reconcile("test"))
    link = sorted(_links(engine, "p"))[0]
    moves = 0
    for _ in range(4):
        clock.advance(30)  # flapping every 30 s: well inside the hold time
        moves += len(asyncio.run(engine.link_state(link, LinkState.DOWN, "flap down")).moved)
        clock.advance(30)
        moves += len(asyncio.run(engine.link_state(link, LinkState.UP, "flap up")).moved)
    assert moves == 1 and link not in _links(engine, "p")
    assert "flap down" in store.get_intent("p").reason
