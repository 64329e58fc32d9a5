"""Telemetry: rates from counters (wrap, restart), ring-buffer store, processor and events."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from simnets import DIAMOND, LINE, static, topo

from harness.netsim import NetworkSimulator
from harness.routing import LinkIndex
from harness.scenario import parse_scenario
from harness.simrun import SimRuntime
from telemetry.rates import COUNTER_MODULUS, CounterSample, RateTracker, counter_rate
from telemetry.store import RingStore, series


def test_rate_across_a_64_bit_wrap() -> None:
    prev = CounterSample(0.0, COUNTER_MODULUS - 1000)
    cur = CounterSample(10.0, 4000)
    assert counter_rate(prev, cur) == pytest.approx(500.0)


def test_restart_gives_no_rate_and_implausible_jump_is_dropped() -> None:
    assert counter_rate(CounterSample(0, 10**12, 1), CounterSample(10, 5, 2)) is None
    # reset without a new boot id reads as a near-2**64 wrap: implausible for a 10G link
    assert counter_rate(CounterSample(0, 10**12, 1), CounterSample(10, 5, 1), 1.5e9) is None
    assert counter_rate(CounterSample(10, 5), CounterSample(10, 6)) is None


@settings(max_examples=60, deadline=None)
@given(
    start=st.integers(0, COUNTER_MODULUS - 1),
    steps=st.lists(st.integers(0, 10**10), min_size=1, max_size=10),
)
def test_rates_are_never_negative_or_beyond_line_rate(start: int, steps: list[int]) -> None:
    tracker = RateTracker()
    value, t = start, 0.0
    tracker.update("c", CounterSample(t, value))
    for inc in steps:
        value = (value + inc) % COUNTER_MODULUS
        t += 10.0
        rate = tracker.update("c", CounterSample(t, value), max_rate=1.5e9)
        assert rate == pytest.approx(inc / 10.0)


def test_store_downsamples_and_picks_a_tier() -> None:
    store = RingStore(tiers=((0.0, 10), (60.0, 100)))
    key = series("utilisation", link="a-b", src="a")
    for i in range(60):
        store.append(key, i * 10.0, float(i))
    assert store.latest(key) == (590.0, 59.0)
    t, v = store.query(key, 500, 600)
    assert list(v) == [50.0 + i for i in range(10)]
    t, v = store.query(key, 0, 600)  # raw ring no longer covers t=0: the minute tier answers
    assert list(t) == [60.0, 120.0, 180.0, 240.0, 300.0, 360.0, 420.0, 480.0, 540.0]
    assert v[0] == pytest.approx(np.mean(range(6)))
    assert store.keys("utilisation") == [key]


def _runtime(edges, flows, scenario, counter_start: int = 0) -> SimRuntime:
    index = LinkIndex(topo("t", edges))
    sim = NetworkSimulator(
        index,
        static(index, flows),
        rng=np.random.default_rng(0),
        scenario=parse_scenario(scenario),
        counter_start=counter_start,
    )
    return SimRuntime(sim)


def test_counters_wrap_in_the_simulator_and_rates_stay_right() -> None:
    rt = _runtime(LINE, [("a", "c", "production", 4e9)], None, COUNTER_MODULUS - 10**10)
    wrapped = False
    for _ in range(6):
        rt.tick()
        out = {i.name: i for i in rt.sim.device_state("a").interfaces}["a-b"].out_octets
        wrapped |= out < 10**10
        lt = rt.processor.links[("a", "a-b")]
        if lt.utilisation is not None:
            assert lt.utilisation == pytest.approx(0.4, rel=1e-6)
    assert wrapped


def test_router_restart_emits_an_event_and_no_bogus_rate() -> None:
    seen = []
    scenario = {"events": [{"kind": "node_down", "node": "b", "at": "25s", "until": "45s"}]}
    rt = _runtime(DIAMOND, [("a", "d", "office", 2e9), ("b", "d", "office", 1e9)], scenario)
    rt.on_event = seen.append
    utils = []
    for _ in range(8):
        rt.tick()
        utils.append(rt.processor.links[("b", "b-d")].utilisation)
    kinds = [(e.kind, e.device, e.link) for e in seen]
    assert ("link_down", "a", "a-b") in kinds
    assert ("device_restart", "b", None) in kinds
    assert ("link_up", "a", "a-b") in kinds
    assert all(u is None or 0 <= u <= 1 for u in utils)
    assert utils[-1] == pytest.approx(0.2)
    assert any(u is None for u in utils[4:6]), "the interval spanning the restart has no rate"


def test_class_loss_and_utilisation_from_queue_counters() -> None:
    edges = [("a", "b", 10e9, 1e-3, 10)]
    rt = _runtime(edges, [("a", "b", "voice", 2e9), ("a", "b", "bigdata", 12e9)], None)
    rt.tick()
    rt.tick()
    lt = rt.processor.links[("a", "a-b")]
    assert lt.utilisation == pytest.approx(1.0)
    assert lt.class_utilisation["voice"] == pytest.approx(0.2)
    assert lt.class_loss["bigdata"] == pytest.approx(4 / 12, rel=1e-6)
    assert lt.class_loss["voice"] == 0
