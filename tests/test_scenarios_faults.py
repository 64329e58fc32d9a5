"""Scenario suite: hard faults on bank-wan with the closed loop (in-process southbound, real
SQLite, the shipped engine and placer). Each asserts outcomes, not timings."""

from __future__ import annotations

from harness.loop import longest_violation
from harness.loopsession import LoopSession
from models.loop_models import LoopModels
from tests.loop_support import drift, lost, moves, placement_links, run, spec
from tests.test_topo_cli import netpilot

BR1_INTENTS = {"br1-dc1-voice", "br1-dc1-production"}


def test_link_cut_moves_br1_within_one_interval(loop_models: LoopModels) -> None:
    with LoopSession(spec("link-cut", models=loop_models, until_s=20 * 60)) as s:
        run(s)
        rows = s.timeline()
        assert len(rows) == 1 and rows[0]["link"] == "BR1-P-SH"
        assert (
            0 <= rows[0]["detect_s"] <= s.spec.step_s and rows[0]["locate_s"] == rows[0]["detect_s"]
        )
        assert set(rows[0]["moved"]) >= BR1_INTENTS and rows[0]["committed"]
        for name in BR1_INTENTS:
            assert "BR1-P-SH" not in placement_links(s, name)
        # voice never misses its latency bound for more than one telemetry interval
        assert longest_violation(s.runner.sla, "br1-dc1-voice", after=5 * 60) <= 1
        assert lost(s) == [] and drift(s) == []
        state = s.controller.store.get_intent("br1-dc1-voice")
        assert "BR1-P-SH down" in state.reason  # the cause is visible in intent status
        db = str(s.tmp / "netpilot.db")
        out = netpilot("intent", "status", "br1-dc1-voice", "--db", db, "--topology", "bank-wan")
        assert out.returncode == 0, out.stderr
        assert "reports BR1-P-SH down" in out.stdout.replace("\n", " ")


def test_node_failure_reroutes_everything_through_p_sh(loop_models: LoopModels) -> None:
    with LoopSession(spec("node-failure", models=loop_models, until_s=15 * 60)) as s:
        before = {
            n for n, p in s.controller.engine.placements().items() if "P-SH" in p.primary.nodes
        }
        assert before, "some intents cross P-SH"
        run(s)
        row = s.timeline()[0]
        assert row["detect_s"] is not None and row["detect_s"] <= s.spec.step_s
        after = s.controller.engine.placements()
        for name in before:
            assert "P-SH" not in after[name].primary.nodes, name
        assert lost(s) == [] and drift(s) == []
        assert longest_violation(s.runner.sla, "br1-dc1-voice", after=5 * 60) <= 1


def test_srlg_cut_takes_both_dc_links_and_nothing_is_lost(loop_models: LoopModels) -> None:
    with LoopSession(spec("srlg", models=loop_models, until_s=15 * 60)) as s:
        run(s)
        rows = s.timeline()
        assert {r["link"] for r in rows} == {"DC1-DC2-a", "DC1-DC2-b"}
        for name in ("dc1-dc2-production", "dc2-dc1-production"):
            links = placement_links(s, name)
            assert not links & {"DC1-DC2-a", "DC1-DC2-b"}, (name, links)
        # protected production placements never shared the conduit with their backup
        for name in ("dc1-dc2-production", "dc2-dc1-production"):
            record = s.controller.store.get_intent(name)
            assert record.state.value in ("verified", "degraded"), record
        assert lost(s) == [] and drift(s) == []


def test_flapping_link_does_not_make_paths_oscillate(loop_models: LoopModels) -> None:
    with LoopSession(spec("flap", models=loop_models, until_s=15 * 60, hold_time_s=600.0)) as s:
        run(s)
        downs = [x for x in s.runner.signals if x.kind == "link_down"]
        assert len(downs) >= 3, "the flaps reached the engine"
        counts = moves(s)
        for name in BR1_INTENTS:
            assert counts[name] == 1, counts  # moved away once, not back with every flap up
            assert "BR1-P-SH" not in placement_links(s, name)
        assert lost(s) == [] and drift(s) == []


def test_sla_violation_moves_only_the_intents_whose_bound_breaks(loop_models: LoopModels) -> None:
    with LoopSession(spec("latency", models=loop_models, until_s=12 * 60)) as s:
        on_link = {
            n
            for n, p in s.controller.engine.placements().items()
            if "HQ-DC2-a" in {k[2] for k in p.primary.links}
        }
        assert {"hq-dc2-voice", "hq-dc2-office"} <= on_link
        run(s)
        row = s.timeline()[0]
        assert row["signal"] == "sla" and row["link"] == "HQ-DC2-a"
        assert row["detect_s"] is not None and row["detect_s"] <= 2 * s.spec.step_s
        moved = {n for x in s.runner.signals for n in x.moved}
        assert "hq-dc2-voice" in moved and "hq-dc2-office" not in moved
        assert "HQ-DC2-a" not in placement_links(s, "hq-dc2-voice")
        assert "HQ-DC2-a" in placement_links(s, "hq-dc2-office")
        assert "SLA at risk" in s.controller.store.get_intent("hq-dc2-voice").reason
        assert lost(s) == [] and drift(s) == []
