"""The reconcile engine with a real SQLite store, the in-memory southbound and a fake clock."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from controller.engine import Engine, EngineConfig
from controller.intents import Intent, IntentState
from controller.pathing.sids import IgpRouting, expand
from controller.pathing.types import Placement
from controller.southbound.memory import MemorySouthbound
from controller.store import Store
from controller.topology import LinkState
from tests.intents_support import FakeClock, small_wan


def make(tmp_path: Path, **config: Any) -> tuple[Engine, Store, MemorySouthbound, FakeClock]:
    clock = FakeClock()
    store = Store(tmp_path / "np.db", clock=clock)
    south = MemorySouthbound()
    engine = Engine(small_wan(), store, south, clock, config=EngineConfig(**config))
    asyncio.run(engine.start())
    return engine, store, south, clock


def intent(name: str, src: str, dst: str, **kw: Any) -> Intent:
    return Intent.model_validate({"name": name, "src": src, "dst": dst, **kw})


def installed_path(south: MemorySouthbound, head: str, name: str) -> tuple[str, ...]:
    policy = next(p for p in south.devices[head].sr_policies if p.name == name)
    primary = next(cp for cp in policy.candidate_paths if cp.name == "primary")
    return primary.segment_lists[0].sids


def test_intents_are_installed_with_their_history(tmp_path: Path) -> None:
    engine, store, south, _ = make(tmp_path)
    store.put_intent(intent("v1", "BR1", "DC1", service_class="voice", bandwidth="2M"))
    store.put_intent(intent("p1", "HQ", "DC2", service_class="production", bandwidth="200M"))
    report = asyncio.run(engine.reconcile("test"))
    assert report.committed and report.revisions
    states = [t.state for t in store.transitions("v1")]
    assert states == [
        IntentState.ACCEPTED,
        IntentState.COMPILED,
        IntentState.INSTALLING,
        IntentState.INSTALLED,
        IntentState.VERIFIED,  # read back from the devices after the commit
    ]
    # the segment list ends at the tail's node SID and the policy sits at the head end
    assert installed_path(south, "BR1", "v1")[-1] == engine.topology.node("DC1").node_sid
    assert set(south.devices) == set(engine.topology.nodes)  # QoS everywhere
    assert store.check() == []
    assert store.installed_configs() == south.devices
    audit = store.audit_log()
    assert any(e["actor"] == "engine" and e["target"] == "test" for e in audit)  # the cause


def test_infeasible_intent_fails_with_a_reason(tmp_path: Path) -> None:
    engine, store, _, _ = make(tmp_path)
    store.put_intent(intent("big", "BR1", "DC1", bandwidth="5G"))
    asyncio.run(engine.reconcile("test"))
    record = store.get_intent("big")
    assert record.state is IntentState.FAILED
    assert "no path" in record.reason


def test_link_down_moves_make_before_break(tmp_path: Path) -> None:
    engine, store, south, _ = make(tmp_path)
    store.put_intent(intent("p", "DC1", "DC2", service_class="production"))
    asyncio.run(engine.reconcile("test"))
    before = engine.placement("p")
    assert before is not None
    first = before.primary.links[0][2]
    report = asyncio.run(engine.link_state(first, LinkState.DOWN, "link down"))
    assert report.moved == ["p"] and len(report.revisions) == 2
    step1, step2 = south.history[-2], south.history[-1]
    names = [cp.name for cp in step1["DC1"].sr_policies[0].candidate_paths]
    assert "previous" in names and "primary" in names  # new path added before old removed
    assert [cp.name for cp in step2["DC1"].sr_policies[0].candidate_paths] == ["primary"]
    after = engine.placement("p")
    assert after is not None and first not in {k[2] for k in after.primary.links}
    assert store.get_intent("p").state is IntentState.VERIFIED


def test_hysteresis_holds_then_moves_on_real_improvement(tmp_path: Path) -> None:
    engine, store, _, clock = make(tmp_path, hold_time_s=600, improvement=0.2)
    asyncio.run(engine.link_state("DC1-P1", LinkState.DOWN, "maintenance"))
    store.put_intent(intent("b", "DC1", "P1"))
    asyncio.run(engine.reconcile("test"))
    placed = engine.placement("b")
    assert placed is not None and "P2" in placed.primary.nodes
    clock.advance(60)
    # the better link comes back within the hold time: the healthy intent stays
    report = asyncio.run(engine.link_state("DC1-P1", LinkState.UP, "maintenance over"))
    assert report.moved == []
    assert_same_path_steered_right(engine, "b", placed)
    clock.advance(600)
    report = asyncio.run(engine.optimize("timer"))
    assert report.moved == ["b"]
    moved = engine.placement("b")
    assert moved is not None and moved.primary.cost < placed.primary.cost


def test_improvement_threshold_blocks_small_gains(tmp_path: Path) -> None:
    engine, store, _, clock = make(tmp_path, hold_time_s=0, improvement=0.9)
    asyncio.run(engine.link_state("DC1-P1", LinkState.DOWN, "maintenance"))
    store.put_intent(intent("b", "DC1", "P1"))
    asyncio.run(engine.reconcile("test"))
    placed = engine.placement("b")
    asyncio.run(engine.link_state("DC1-P1", LinkState.UP, "back"))
    clock.advance(10)
    assert asyncio.run(engine.optimize("timer")).moved == []
    assert_same_path_steered_right(engine, "b", placed)


def assert_same_path_steered_right(engine: Engine, name: str, before: Placement | None) -> None:
    """The intent kept its path, and its SIDs (re-encoded for the healed IGP) still steer
    traffic along it: the old list would follow the restored link (regression)."""
    now = engine.placement(name)
    assert now is not None and before is not None
    assert now.primary.links == before.primary.links
    routing = IgpRouting.of(engine.topology)
    assert expand(routing, now.primary.nodes[0], now.primary.sids) == [now.primary.links]
    assert expand(routing, before.primary.nodes[0], before.primary.sids) != [before.primary.links]


def test_southbound_failure_keeps_installed_state(tmp_path: Path) -> None:
    engine, store, south, _ = make(tmp_path)
    store.put_intent(intent("a", "HQ", "DC1"))
    asyncio.run(engine.reconcile("test"))
    good = dict(south.devices)
    south.fail_devices.add("HQ")
    store.put_intent(intent("a", "HQ", "DC2"))
    report = asyncio.run(engine.reconcile("test"))
    assert not report.committed
    assert south.devices == good
    record = store.get_intent("a")
    assert record.state is IntentState.FAILED and "HQ" in record.reason
    assert store.revisions(1)[0]["status"] == "failed"
    south.fail_devices.clear()
    asyncio.run(engine.reconcile("retry"))
    assert store.get_intent("a").state is IntentState.VERIFIED


def test_delete_withdraws_and_removes_config(tmp_path: Path) -> None:
    engine, store, south, _ = make(tmp_path)
    store.put_intent(intent("a", "HQ", "DC1"))
    asyncio.run(engine.reconcile("test"))
    store.delete_intent("a")
    report = asyncio.run(engine.reconcile("delete"))
    assert report.withdrawn == ["a"]
    assert south.devices["HQ"].sr_policies == ()
    assert store.find_intent("a").state is IntentState.WITHDRAWN  # type: ignore[union-attr]
    assert [t.state for t in store.transitions("a")][-2:] == [
        IntentState.WITHDRAWING,
        IntentState.WITHDRAWN,
    ]


def test_time_window_keeps_bigdata_waiting_until_night(tmp_path: Path) -> None:
    engine, store, south, clock = make(tmp_path)
    # FakeClock starts at 22:13 UTC; a 01:00-05:00 window is closed now
    store.put_intent(
        intent(
            "night",
            "DC1",
            "DC2",
            service_class="bigdata",
            windows=[{"start": "01:00", "end": "05:00"}],
        )
    )
    asyncio.run(engine.reconcile("test"))
    assert store.get_intent("night").state is IntentState.ACCEPTED
    assert south.devices["DC1"].sr_policies == ()
    clock.advance(3 * 3600)
    asyncio.run(engine.reconcile("timer"))
    assert store.get_intent("night").state is IntentState.VERIFIED


def test_disjoint_from_and_waypoints(tmp_path: Path) -> None:
    engine, store, _, _ = make(tmp_path)
    store.put_intent(intent("a", "DC1", "DC2", service_class="production"))
    store.put_intent(intent("b", "DC1", "DC2", service_class="production", disjoint_from=["a"]))
    store.put_intent(intent("w", "BR1", "DC2", waypoints=["HQ"]))
    asyncio.run(engine.reconcile("test"))
    a, b, w = (engine.placement(n) for n in "abw")
    assert a and b and w
    assert not {k[2] for k in a.primary.links} & {k[2] for k in b.primary.links}
    assert "HQ" in w.primary.nodes and w.primary.nodes[0] == "BR1" and w.primary.nodes[-1] == "DC2"


def test_path_protection_installs_backup(tmp_path: Path) -> None:
    engine, store, south, _ = make(tmp_path)
    store.put_intent(intent("v", "BR1", "DC1", service_class="voice", protection="path"))
    asyncio.run(engine.reconcile("test"))
    policy = south.devices["BR1"].sr_policies[0]
    assert [(cp.name, cp.preference) for cp in policy.candidate_paths] == [
        ("primary", 200),
        ("backup", 100),
    ]
    placed = engine.placement("v")
    assert placed is not None and placed.backup is not None
    assert not set(placed.primary.links) & set(placed.backup.links)


def test_sla_breach_moves_then_degrades_when_no_path_meets_it(tmp_path: Path) -> None:
    engine, store, _, _ = make(tmp_path)
    store.put_intent(intent("v", "BR1", "DC1", service_class="voice"))
    asyncio.run(engine.reconcile("test"))
    placed = engine.placement("v")
    assert placed is not None and placed.primary.links[0][2] == "BR1-P1"
    asyncio.run(engine.link_measured("BR1-P1", 0.5, None, "probe: BR1-P1 latency 500 ms"))
    moved = engine.placement("v")
    assert moved is not None and moved.primary.links[0][2] == "BR1-P2"
    assert store.get_intent("v").state is IntentState.VERIFIED
    asyncio.run(engine.link_measured("BR1-P2", 0.4, None, "probe: BR1-P2 latency 400 ms"))
    record = store.get_intent("v")
    assert record.state is IntentState.DEGRADED
    assert "latency" in record.reason and "150.0 ms" in record.reason
    assert any(e.cause.startswith("probe: BR1-P2") for e in engine.events)


def test_second_reconcile_is_a_no_op_even_with_waypoints(tmp_path: Path) -> None:
    engine, store, south, _ = make(tmp_path)
    store.put_intent(intent("w", "BR1", "DC2", waypoints=["HQ"], bandwidth="10M"))
    store.put_intent(intent("v", "BR2", "DC1", service_class="voice", protection="path"))
    asyncio.run(engine.reconcile("first"))
    before = (engine.placements(), len(south.transactions))
    report = asyncio.run(engine.reconcile("again"))
    assert report.revisions == [] and report.moved == []
    assert (engine.placements(), len(south.transactions)) == before
    # a restarted engine picks up the same placements from the store and changes nothing
    again = Engine(small_wan(), store, south, engine.clock)
    assert asyncio.run(again.start()).revisions == []
    assert again.placements() == before[0]


def test_failed_intents_retry_when_bandwidth_frees_not_on_every_change(tmp_path: Path) -> None:
    engine, store, _, _ = make(tmp_path)
    for name in "abc":
        store.put_intent(intent(name, "BR2", "DC1", bandwidth="80M"))
    asyncio.run(engine.reconcile("three big ones"))
    assert store.get_intent("c").state is IntentState.FAILED  # BR2 has two 100M uplinks
    store.put_intent(intent("d", "HQ", "DC2"))
    report = asyncio.run(engine.reconcile("unrelated"))
    assert "c" not in report.failed and store.get_intent("d").state is IntentState.VERIFIED
    store.delete_intent("a")
    asyncio.run(engine.reconcile("a withdrawn"))
    assert store.get_intent("c").state is IntentState.VERIFIED


def test_optimize_looks_at_a_rotating_batch(tmp_path: Path) -> None:
    engine, store, _, clock = make(tmp_path, hold_time_s=0, improvement=0.2, optimize_batch=1)
    asyncio.run(engine.link_state("DC1-P1", LinkState.DOWN, "maintenance"))
    store.put_intent(intent("a", "DC1", "P1"))
    store.put_intent(intent("b", "DC1", "P1"))
    asyncio.run(engine.reconcile("test"))
    asyncio.run(engine.set_topology(engine.topology.with_link_state("DC1-P1", LinkState.UP), "up"))
    clock.advance(1)
    first = asyncio.run(engine.optimize("timer")).moved
    second = asyncio.run(engine.optimize("timer")).moved
    assert first == ["a"] and second == ["b"]  # one per round, in turn


def test_placer_is_skipped_when_nothing_changed_and_no_event(tmp_path: Path) -> None:
    from controller.pathing.placement import place

    calls: list[int] = []

    def counting(topology: Any, requests: Any, existing: Any = None) -> Any:
        calls.append(len(requests))
        return place(topology, requests, existing)

    clock = FakeClock()
    store = Store(tmp_path / "np.db", clock=clock)
    engine = Engine(small_wan(), store, MemorySouthbound(), clock, placer=counting)
    asyncio.run(engine.start())
    store.put_intent(intent("a", "HQ", "DC1"))
    asyncio.run(engine.reconcile("new intent"))
    placed = len(calls)
    asyncio.run(engine.reconcile("nothing new"))
    assert len(calls) == placed  # kept as is, placer not asked
    asyncio.run(engine.link_state("BR1-P1", LinkState.DOWN, "unrelated link down"))
    assert len(calls) == placed + 1  # after an event every kept path is re-validated
    assert store.get_intent("a").state is IntentState.VERIFIED


def test_protection_is_srlg_aware_when_the_topology_has_srlgs(tmp_path: Path) -> None:
    from dataclasses import replace

    engine, store, _, _ = make(tmp_path)
    store.put_intent(intent("p", "DC1", "DC2", protection="path"))
    asyncio.run(engine.reconcile("no SRLGs"))
    plain = engine.placement("p")
    assert plain is not None and plain.request.disjoint == "link" and plain.backup is not None
    # both DC1 uplinks in one duct: a backup cannot avoid it, and the placement says so
    duct = [
        replace(lk, srlgs=frozenset({"duct-7"})) for lk in engine.topology.links if lk.src == "DC1"
    ]
    asyncio.run(engine.set_topology(engine.topology.with_links(duct), "ducts surveyed"))
    store.put_intent(intent("q", "DC1", "DC2", protection="path", bandwidth="1M"))
    asyncio.run(engine.reconcile("new intent"))
    q = engine.placement("q")
    assert q is not None and q.request.disjoint == "srlg"
    assert any("duct-7" in risk for risk in q.shared_risks)


def test_plan_with_stored_intents_missing_from_the_set_is_no_key_error(tmp_path: Path) -> None:
    """Regression (issue 12/13): `POST /v1/plan` answered 500 (KeyError) with prune=false."""
    engine, store, _, _ = make(tmp_path)
    a = intent("a", "BR1", "DC1")
    store.put_intent(a)
    store.put_intent(intent("b", "HQ", "DC2"))
    asyncio.run(engine.reconcile("api"))
    kept = engine.plan([a], prune=False)
    assert kept["changes"] == [{"name": "a", "action": "unchanged"}]
    assert kept["devices"] == {} and kept["unplaced"] == {}
    pruned = engine.plan([a], prune=True)
    assert pruned["changes"] == [
        {"name": "a", "action": "unchanged"},
        {"name": "b", "action": "delete"},
    ]
    assert pruned["devices"]["HQ"]["sr_policies"]["removed"]
    changed = engine.plan([a.model_copy(update={"bandwidth": 5e6})], prune=False)
    assert changed["changes"] == [{"name": "a", "action": "update"}]
    devices = changed["devices"]
    assert "BR1" in devices and "HQ" not in devices  # b stays as it is
    # a's class shares follow its bandwidth on the routers of its path (controller/qos.py)
    assert all(set(d) == {"shares"} for name, d in devices.items() if name != "BR1")


def test_a_polled_link_state_older_than_a_streamed_change_is_dropped(tmp_path: Path) -> None:
    """A telemetry round saw DC1-P1 down and queued it; a gNMI update saw it come back and was
    applied first: the queued, older observation must not take the link down again."""
    engine, _, _, _ = make(tmp_path)
    polled_at = time.monotonic()  # the round asked the routers here
    asyncio.run(engine.link_state("DC1-P1", LinkState.DOWN, "gNMI: P1 reports DC1-P1 down"))
    asyncio.run(engine.link_state("DC1-P1", LinkState.UP, "gNMI: P1 reports DC1-P1 up"))
    late = asyncio.run(
        engine.link_state("DC1-P1", LinkState.DOWN, "telemetry: P1 reports DC1-P1 down", polled_at)
    )
    assert late.committed is False
    assert state_of(engine, "DC1-P1") is LinkState.UP
    assert engine.events[-1].kind == "stale-signal" and "DC1-P1 down" in engine.events[-1].detail
    newer = asyncio.run(engine.link_state("DC1-P1", LinkState.DOWN, "poll", time.monotonic()))
    assert newer.committed and state_of(engine, "DC1-P1") is LinkState.DOWN


def state_of(engine: Engine, link: str) -> LinkState:
    return engine.topology.physical_links()[link][0].state
