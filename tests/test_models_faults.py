"""Fault prediction: metrics on hand-made timelines, alarms, generator, features, CLI JSON."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from controller.devicestate import InterfaceState
from controller.errors import UsageError
from models.alarms import Hysteresis, active_at_end, alarms
from models.fault_eval import Tally
from models.fault_features import FEATURES, link_features, trailing_slope
from models.faults import HoltTrend, labels, mad_score
from models.precursors import LOS_DBM, Event, GeneratorConfig, LinkSeries, generate

H = 3600.0


def flat_link(hours: float, events: list[Event]) -> LinkSeries:
    n = int(hours * 60)
    return LinkSeries(
        "l", 60.0, np.full(n, -3.0), np.full(n, 6.0), np.zeros(n), np.zeros(n),
        np.full(n, 0.005), np.ones(n, dtype=bool), events,
    )  # fmt: skip


def test_metrics_on_a_hand_made_timeline() -> None:
    events = [
        Event("optical_drift", 6 * H, 10 * H, is_fault=True),
        Event("error_burst", 60 * H, 70 * H, is_fault=True),
        Event("rx_dip", 30 * H, 32 * H, is_fault=False),
    ]
    link = flat_link(96, events)
    minute = 60  # samples per hour
    raised = [
        5 * minute,  # 5 h before the first failure: a hit, lead 300 min
        9 * minute + 55,  # 5 min before it: late, neither hit nor false
        31 * minute,  # during the decoy, no failure within 24 h: false
        70 * minute - 10,  # 10 min before the second failure: a hit (edge of the window)
    ]
    tally = Tally()
    tally.add_alarms(link, raised, start=0)
    assert (tally.failures, tally.detected, tally.alarms, tally.hits, tally.false) == (
        2,
        2,
        4,
        2,
        1,
    )
    assert sorted(tally.leads_s) == [600.0, 5 * H]
    only_late = Tally()
    only_late.add_alarms(link, [9 * minute + 51], start=0)
    assert (only_late.detected, only_late.false) == (0, 0)
    too_early = Tally()
    too_early.add_alarms(link, [70 * minute - 24 * minute - 1], start=0)
    assert (too_early.detected, too_early.false) == (0, 1)


def test_summary_figures() -> None:
    link = flat_link(48, [Event("optical_drift", 10 * H, 20 * H, is_fault=True)])
    tally = Tally()
    tally.add_alarms(link, [15 * 60, 40 * 60], start=0)
    tally.scores.append(np.linspace(0, 1, 10))
    tally.truth.append(np.arange(10) >= 5)
    out = tally.summary(link_days=2.0)
    assert out["recall"] == 1.0
    assert out["precision"] == 0.5
    assert out["false_alarms_per_100_link_days"] == pytest.approx(50.0)
    assert out["median_lead_minutes"] == pytest.approx(300.0)
    assert out["pr_auc"] == pytest.approx(1.0)


def test_hysteresis_needs_persistence_and_a_quiet_spell_to_clear() -> None:
    h = Hysteresis(on=1.0, off=0.5, persist=3, clear=2)
    score = np.array([0, 2, 2, 0, 2, 2, 2, 2, 0.7, 0.2, 2, 0.2, 0.2, 2, 2, 2], dtype=float)
    up = np.ones(len(score), dtype=bool)
    # raised at 6 (third hot in a row); 0.7 is not cool; cleared after 11-12; raised again at 15
    assert alarms(score, up, h) == [6, 15]
    assert active_at_end(score, up, h)
    down = up.copy()
    down[5] = False
    # the link down at 5 breaks the hot run 4..7: only the last run raises
    assert alarms(score, down, h) == [15]


def test_labels_cover_the_precursor_up_to_ten_minutes_before() -> None:
    link = flat_link(24, [Event("laser_aging", 2 * H, 12 * H, is_fault=True)])
    y, ttf = labels(link)
    t = link.times
    assert not y[t < 2 * H].any()
    assert y[(t >= 4 * H) & (t <= 12 * H - 600)].all()
    assert not y[t > 12 * H - 600].any()
    assert ttf[(6 * 60)] == pytest.approx(6 * H)


def test_generator_shape_matches_the_telemetry_contract() -> None:
    links = generate(3, GeneratorConfig(links=12, days=2.0))
    state = links[0].interface_state(10)
    assert isinstance(state, InterfaceState)
    for link in links:
        assert np.all(np.diff(link.crc_errors) >= 0)  # cumulative counters
        assert np.all(np.asarray(link.in_errors) >= np.asarray(link.crc_errors))
        for e in link.events:
            i = int(e.end_s / link.step_s)
            if e.is_fault:
                assert not link.oper_up[i]
                if e.kind == "optical_drift":
                    assert link.rx_power_dbm[i - 1] < LOS_DBM + 0.5
            else:  # decoys recover and never take the link down
                a, b = int(e.onset_s / link.step_s), min(i, len(link.oper_up) - 1)
                assert link.oper_up[a:b].all()
                before = np.median(link.rx_power_dbm[a - 30 : a])
                after = np.median(link.rx_power_dbm[b - 5 : b + 5])
                assert abs(after - before) < 0.5
    kinds = {e.kind for link in links for e in link.events}
    assert kinds & {"optical_drift", "laser_aging", "error_burst", "latency_creep"}


def test_features_are_causal_and_complete() -> None:
    link = generate(5, GeneratorConfig(links=1, days=2.0))[0]
    x = link_features(link)
    assert x.shape == (len(link.rx_power_dbm), len(FEATURES))
    assert np.isfinite(x).all()
    changed = generate(5, GeneratorConfig(links=1, days=2.0))[0]
    changed.rx_power_dbm[1500:] -= 5.0
    changed.crc_errors = np.asarray(changed.crc_errors).copy()
    changed.crc_errors[1500:] += np.arange(len(changed.crc_errors) - 1500) * 7
    np.testing.assert_array_equal(link_features(changed)[:1500], x[:1500])


def test_deviation_score_only_counts_the_harmful_direction() -> None:
    base = flat_link(24, [])
    rng = np.random.default_rng(0)
    base.rx_power_dbm = base.rx_power_dbm + rng.normal(0, 0.05, len(base.rx_power_dbm))
    better, worse = base.rx_power_dbm.copy(), base.rx_power_dbm.copy()
    better[1200:] += 3.0
    worse[1200:] -= 3.0
    base.rx_power_dbm = better
    assert mad_score(link_features(base))[1300] < 3
    base.rx_power_dbm = worse
    assert mad_score(link_features(base))[1300] > 10


def test_holt_sees_a_ramp_reaching_the_limit_in_time() -> None:
    link = flat_link(24, [])
    link.rx_power_dbm = np.linspace(-3.0, -3.0 - 24 * 0.5, len(link.rx_power_dbm))  # -0.5 dB/h
    score = HoltTrend(horizon_h=6.0).score_link(link)
    # at -3 dB - 0.5*t the loss-of-signal level (-14) is reached at 22 h: inside 6 h from 16 h on
    assert score[(12 * 60)] < 1.0 < score[(17 * 60)]


def test_trailing_slope_of_a_line() -> None:
    assert trailing_slope(np.arange(50.0) * 3, 10)[-1] == pytest.approx(3.0)


def test_cli_eval_faults_json_shape() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "cli", "model", "eval", "faults", "--seeds", "1",
         "--train-seeds", "2", "--links", "12", "--days", "2", "--json"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    doc = json.loads(out)
    assert set(doc) == {"model", "mad", "threshold", "holt"}
    for m in doc.values():
        assert set(m) == {
            "recall", "precision", "false_alarms_per_100_link_days", "median_lead_minutes",
            "pr_auc",
        }  # fmt: skip
        assert 0 <= m["recall"] <= 1 and 0 <= m["precision"] <= 1 and 0 <= m["pr_auc"] <= 1
        assert m["false_alarms_per_100_link_days"] >= 0 and m["median_lead_minutes"] >= 0


def _reference_hysteresis(
    hot: np.ndarray, cool: np.ndarray, up: np.ndarray, persist: int, clear: int
) -> tuple[list[int], bool]:
    """The alarm state machine stepped sample by sample, to check the fast version against."""
    raised, active, run_hot, run_cool = [], False, 0, 0
    for i in range(len(hot)):
        if not up[i]:
            active, run_hot, run_cool = False, 0, 0
        elif active:
            run_cool = run_cool + 1 if cool[i] else 0
            if run_cool >= clear:
                active, run_cool = False, 0
        else:
            run_hot = run_hot + 1 if hot[i] else 0
            if run_hot >= persist:
                raised.append(i)
                active, run_hot = True, 0
    return raised, active


def test_fast_hysteresis_matches_the_step_by_step_machine() -> None:
    from models.alarms import run

    rng = np.random.default_rng(7)
    for _ in range(400):
        n = int(rng.integers(1, 60))
        score, up = rng.random(n), rng.random(n) > 0.1
        persist, clear = int(rng.integers(1, 5)), int(rng.integers(1, 5))
        args = (score > 0.4, score < 0.3, up, persist, clear)
        assert run(*args) == _reference_hysteresis(*args)


def test_a_compressed_generator_scales_episodes_labels_and_hit_windows() -> None:
    cfg = GeneratorConfig(links=40, days=6 / 24, step_s=30.0, time_scale=0.125)
    links = generate(11, cfg)
    events = [e for link in links for e in link.events]
    assert events and all(link.time_scale == 0.125 for link in links)
    for e in events:  # precursors of 2-12 h become 15-90 min
        assert 15 * 60 - 30 <= e.end_s - e.onset_s <= 90 * 60 + 30, e
    faults = [(link, e) for link in links for e in link.events if e.is_fault]
    link, fault = faults[0]
    y, _ = labels(link)
    late = link.times > fault.end_s - 75  # 10 min scaled by 1/8
    assert y.any() and not (y & late & (link.times < fault.end_s)).any()
    tally = Tally()
    tally.add_alarms(link, [int((fault.end_s - 120) / link.step_s)], start=0)
    assert tally.detected == 1  # 2 min ahead is a hit in compressed time


def test_a_generator_with_too_little_time_or_a_bad_scale_is_refused() -> None:
    with pytest.raises(UsageError, match="time_scale"):
        generate(1, GeneratorConfig(time_scale=0.0))
    with pytest.raises(UsageError, match="each slot needs 2 h"):
        generate(1, GeneratorConfig(days=3 / 24, step_s=30.0, time_scale=0.125))


def test_features_of_a_window_shorter_than_an_hour_are_finite() -> None:
    link = flat_link(0.5, [])  # 30 one-minute samples: the loop's first judgement
    x = link_features(link)
    assert x.shape == (30, len(FEATURES)) and np.isfinite(x).all()


def test_delay_deviation_is_relative_to_at_least_a_millisecond() -> None:
    link = flat_link(12, [])
    link.delay_s = np.full(len(link.delay_s), 100e-6)  # a 100 us data-center link
    link.delay_s[600:] += 5e-6  # five microseconds of queueing
    z = link_features(link)[:, FEATURES.index("delay_z")]
    assert abs(z[-1]) < 1.0
    link.delay_s[600:] += 5e-3  # five milliseconds more is a deviation
    assert link_features(link)[-1, FEATURES.index("delay_z")] > 10
