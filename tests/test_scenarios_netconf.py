"""Scenario suite over NETCONF: a device unreachable during a push; the controller killed in the
middle of a transaction and restarted. Real SSH sessions to the simulated routers."""

from __future__ import annotations

from harness.loopsession import LoopSession
from tests.loop_support import drift, lost, placement_links, spec


def _reachable(session: LoopSession, name: str, up: bool) -> None:
    """Stop a router's NETCONF server and cut its sessions (or bring it back)."""
    assert session.devices is not None
    runner = session.devices.runner
    router = runner.fleet.routers[name]
    runner.run(router.revive() if up else router.stop())


def test_unreachable_device_aborts_the_push_cleanly_then_it_is_retried() -> None:
    with LoopSession(spec("unreachable", until_s=12 * 60, netconf=True)) as s:
        before = s.controller.store.installed_configs()
        while s.sim.t < 4 * 60:
            s.runner.tick()
        _reachable(s, "BR1", False)
        while s.sim.t < 7 * 60:
            s.runner.tick()
        failed = [x for x in s.runner.signals if not x.committed]
        assert failed, "the push during the outage was not committed"
        # aborted cleanly: no router kept a partial change of the failed revision
        assert drift(s) == []
        assert s.controller.store.installed_configs()["BR1"] == before["BR1"]
        voice = s.controller.store.get_intent("br1-dc1-voice")
        assert voice.state.value in ("failed", "degraded"), voice
        _reachable(s, "BR1", True)
        while s.sim.t < 12 * 60:
            s.runner.tick()
        retried = [x for x in s.runner.signals if x.kind == "retry" and x.committed]
        assert retried, "retried once BR1 answered"
        assert "BR1-P-SH" not in placement_links(s, "br1-dc1-voice")
        assert s.controller.store.get_intent("br1-dc1-voice").state.value == "installed"
        assert lost(s) == [] and drift(s) == []
