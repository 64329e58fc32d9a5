"""Brownout decisions from uplink probes: N breaches in a row move a class off, a hold time of
good probes brings it back, causes name the figures, other classes stay (issue 20, item 4)."""

from __future__ import annotations

from controller.uplink_sla import Probe, SlaWatch


def probe(at: float, loss: float = 0.0, delay_ms: float = 25.0, jitter_ms: float = 2.0) -> Probe:
    return Probe("BR1-internet", at, delay_ms / 1e3, jitter_ms / 1e3, loss)


def test_brownout_moves_office_off_after_three_probes_and_back_after_the_hold() -> None:
    watch = SlaWatch(probes_to_move=3, hold_s=10.0)
    assert watch.observe(probe(0, loss=0.02)) == [] and watch.observe(probe(2, loss=0.02)) == []
    moves = watch.observe(probe(4, loss=0.02))
    # every class whose max loss is under 2% leaves; test (5%) stays
    assert {m.service_class for m in moves} == {"voice", "production", "video", "office", "bigdata"}
    office = next(m for m in moves if m.service_class == "office")
    assert (office.kind, office.at) == ("off", 4)
    assert office.cause == (
        "SLA: BR1-internet loss 2.0% > 1.0% for 3 probes in a row "
        "(delay 25.0 ms, jitter 2.0 ms, loss 2.0%)"
    )
    assert "test" not in watch.avoided()["BR1-internet"]
    assert watch.observe(probe(6, loss=0.02)) == []  # already off: no second move
    assert watch.observe(probe(8)) == [] and watch.observe(probe(16)) == []  # good, holding
    assert watch.observe(probe(17, loss=0.03)) == []  # a breach restarts the hold
    assert watch.observe(probe(19)) == [] and watch.observe(probe(28)) == []
    back = watch.observe(probe(29))
    assert {m.kind for m in back} == {"back"} and len(back) == 5
    assert back[0].cause == (
        "SLA: BR1-internet good for 10 s (delay 25.0 ms, jitter 2.0 ms, loss 0.0%)"
    )
    assert watch.avoided() == {}


def test_breaches_must_be_consecutive_and_jitter_counts_for_voice() -> None:
    watch = SlaWatch(probes_to_move=2, hold_s=5.0)
    assert watch.observe(probe(0, jitter_ms=40)) == []
    assert watch.observe(probe(1)) == []  # the run is broken
    assert watch.observe(probe(2, jitter_ms=40)) == []
    (voice,) = watch.observe(probe(3, jitter_ms=40))
    assert voice.service_class == "voice" and "jitter 40.0 ms > 30.0 ms" in voice.cause
