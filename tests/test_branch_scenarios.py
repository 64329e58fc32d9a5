"""Branch scenarios of issue 20 (harness/scenarios/branch-*.yaml) in the lockstep closed loop on
bank-wan:4: probes every 2 s of simulated time, the shipped engine and placer, the simulator in
process. Each asserts outcomes (which uplink carries what, and why), not timings."""

from __future__ import annotations

from pathlib import Path

from controller.intents import IntentState
from harness.loopsession import LoopSession, LoopSpec
from tests.loop_support import run

ROOT = Path(__file__).resolve().parent.parent
INTENTS = ROOT / "topologies" / "bank-wan-4.intents.yaml"
PROBE_S = 2.0


def session(name: str, until_s: float, hold_time_s: float = 300.0) -> LoopSession:
    scenario = ROOT / "harness" / "scenarios" / f"branch-{name}.yaml"
    spec = LoopSpec(
        scenario,
        "bank-wan:4",
        INTENTS,
        until_s=until_s,
        step_s=PROBE_S,
        flows=40,
        hold_time_s=hold_time_s,
    )
    return LoopSession(spec)


def uplink(s: LoopSession, name: str) -> str | None:
    placement = s.controller.engine.placement(name)
    return None if placement is None else placement.primary.links[0][2]


def record(s: LoopSession, name: str) -> tuple[IntentState, str]:
    r = s.controller.store.get_intent(name)
    assert r is not None
    return r.state, r.reason


def kinds(s: LoopSession, kind: str) -> list[float]:
    return [sig.t for sig in s.runner.signals if sig.kind == kind and sig.moved]


def test_internet_brownout_moves_office_to_5g_and_back_after_the_hold_voice_untouched() -> None:
    with session("internet-brownout", until_s=66, hold_time_s=20.0) as s:
        # the default holds are 60 s (probes) and 300 s (the engine's, which a move back honours
        # as well: flap damping): a shorter run
        s.runner.planner.probes.watch.hold_s = 20.0
        run(s, 8)  # t = 16 s: onset at 11 s, the windows ending 12, 14 and 16 s break office's SLA
        assert uplink(s, "br1-dc1-office") == "BR1-5g"
        assert kinds(s, "uplink") == [16.0]  # detected at the third probe window of the brownout
        state, reason = record(s, "br1-dc1-office")
        assert state in (IntentState.INSTALLED, IntentState.VERIFIED)
        assert "SLA: BR1-internet:" in reason and "office" in reason
        assert "loss 8.0% > 1.0% for 3 probes in a row" in reason  # the probe figures as cause
        assert uplink(s, "br1-dc1-voice") == "BR1-private-line"
        assert [e.detail for e in s.controller.engine.events if e.kind == "sla-off"][3] == (
            "office off BR1-internet"
        )
        run(s, 25)  # t = 66 s: the brownout ended at 41 s, halfway through the window to 42 s
        assert uplink(s, "br1-dc1-office") == "BR1-internet"  # (which saw it): good from 44 s
        assert kinds(s, "uplink") == [16.0, 64.0]
        assert "good for 20 s" in record(s, "br1-dc1-office")[1]
        voice = [sig for sig in s.runner.signals if "br1-dc1-voice" in sig.moved]
        assert voice == [] and uplink(s, "br1-dc1-voice") == "BR1-private-line"


def test_private_line_cut_moves_voice_to_mpls_vpn_at_the_next_round() -> None:
    with session("private-line-cut", until_s=14) as s:
        run(s)
        assert uplink(s, "br1-dc1-voice") == "BR1-mpls-vpn"
        assert kinds(s, "link_down") == [12.0]  # cut at 11 s, moved at the next 2 s round
        assert "BR1-private-line down" in record(s, "br1-dc1-voice")[1]
        assert uplink(s, "br1-dc1-office") == "BR1-internet"


def test_5g_only_keeps_office_on_5g_and_bulk_and_voice_off_it_with_the_policy_as_reason() -> None:
    with session("5g-only", until_s=14) as s:
        run(s)
        assert uplink(s, "br1-dc1-office") == "BR1-5g"
        state, reason = record(s, "br3-dc2-bigdata")
        assert state is IntentState.FAILED
        assert "class policy for bigdata fits at BR3 (any transport; never metered)" in reason
        state, reason = record(s, "br1-dc1-voice")
        assert state is IntentState.FAILED
        assert reason.endswith(
            "(private-line then mpls-vpn): private-line is down; mpls-vpn is down"
        )
        engine = s.controller.engine
        assert all(
            not engine.topology.link(k).metered
            for p in engine.placements().values()
            if p.request.service_class == "bigdata"
            for k in p.primary.links
        )


def test_double_failure_that_once_crossed_a_branch_fails_with_a_clear_reason() -> None:
    with session("double-failure", until_s=14) as s:
        run(s)
        state, reason = record(s, "br1-dc1-voice")
        assert state is IntentState.FAILED
        assert (
            "voice fits at BR1 (private-line then mpls-vpn): private-line is down; mpls-vpn:"
            in (reason)
        )
        branches = {n for n, node in s.controller.engine.topology.nodes.items() if not node.transit}
        for p in s.controller.engine.placements().values():
            inner = {k[0] for k in p.primary.links[1:]}
            assert not inner & branches, p.primary.links  # 0 paths through a branch
        assert uplink(s, "br1-dc1-office") == "BR1-internet"
