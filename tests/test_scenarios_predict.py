"""Scenario suite: faults the controller sees coming (degradation, surge), in process."""

from __future__ import annotations

from harness.loopsession import LoopSession
from harness.surge import Surge
from models.loop_models import LoopModels
from tests.loop_support import drift, lost, placement_links, run, spec


def test_gradual_degradation_is_evacuated_before_the_link_fails(loop_models: LoopModels) -> None:
    with LoopSession(spec("degradation", models=loop_models, until_s=30 * 60)) as s:
        users = {
            n
            for n, p in s.controller.engine.placements().items()
            if "HQ-DC2-a" in {k[2] for k in p.primary.links}
        }
        assert "hq-dc2-voice" in users
        run(s)
        row = s.timeline()[0]
        assert row["signal"] == "risk" and row["link"] == "HQ-DC2-a"
        assert row["rectify_s"] < 0, "moved before the failure"
        assert "hq-dc2-voice" in row["moved"]
        assert "HQ-DC2-a" not in placement_links(s, "hq-dc2-voice")
        # voice was never hit: it left before the fibre went dark
        fails = 26 * 60
        assert all(
            x.met
            for t, rows in s.runner.sla
            if t >= fails
            for x in rows
            if x.name == "hq-dc2-voice"
        )
        audit = s.controller.store.audit_log()
        assert any(e["action"] == "avoid-risk" and e["target"] == "HQ-DC2-a" for e in audit)
        reason = s.controller.store.get_intent("hq-dc2-voice").reason
        assert "fault risk" in reason and "fault model" in reason  # which signal, which model
        assert lost(s) == [] and drift(s) == []


def test_surge_is_forecast_and_office_moves_before_the_peak(loop_models: LoopModels) -> None:
    surge = Surge("HQ", "DC2", 17e9, at=5 * 60, ramp=600, until=30 * 60)
    with LoopSession(spec("surge", models=loop_models, until_s=20 * 60, surges=(surge,))) as s:
        run(s)
        row = s.timeline()[0]
        assert row["signal"] == "forecast" and row["link"].startswith("HQ-DC2")
        assert row["rectify_s"] < 0, "moved before the surge peaked"
        assert row["moved"] == ["hq-dc2-office"]  # elastic class only
        assert row["link"] not in placement_links(s, "hq-dc2-office")
        reason = s.controller.store.get_intent("hq-dc2-office").reason
        assert "utilisation forecast" in reason and "p90 of the trained forecaster" in reason
        voice = placement_links(s, "hq-dc2-voice")
        assert voice  # voice stays where it was: forecasts only move bigdata and office
        assert lost(s) == [] and drift(s) == []
