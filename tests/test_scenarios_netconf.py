"""Scenario suite over NETCONF: a device unreachable during a push; the controller killed in the
middle of a transaction and restarted. Real SSH sessions to the simulated routers."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from pathlib import Path

from controller.engine import Engine
from controller.southbound.inventory import load_inventory
from controller.southbound.netconf import NetconfSouthbound
from controller.southbound.render import canonical
from controller.store import Store
from controller.topology import LinkState
from harness.loopsession import BANK_INTENTS, ROOT, LoopSession
from models.loop_models import LoopModels
from tests.loop_support import drift, lost, placement_links, spec
from tests.southbound_support import running, start_fleet, wait_settled
from topologies.loader import load


def _reachable(session: LoopSession, name: str, up: bool) -> None:
    """Stop a router's NETCONF server and cut its sessions (or bring it back)."""
    assert session.devices is not None
    runner = session.devices.runner
    router = runner.fleet.routers[name]
    runner.run(router.revive() if up else router.stop())


def test_unreachable_device_aborts_the_push_cleanly_then_it_is_retried(
    loop_models: LoopModels,
) -> None:
    with LoopSession(spec("unreachable", models=loop_models, until_s=12 * 60, netconf=True)) as s:
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
        back_at = s.sim.t
        while s.sim.t < 12 * 60:
            s.runner.tick()
        # the failed intents are pushed again once BR1 answers: by the retry of the next round,
        # or by whichever signal reconciles first (BR1's probes report the cut uplink too)
        again = [x for x in s.runner.signals if x.t > back_at and x.committed and x.moved]
        assert again and "br1-dc1-voice" in again[0].moved, "retried once BR1 answered"
        assert "BR1-P-SH" not in placement_links(s, "br1-dc1-voice")
        assert s.controller.store.get_intent("br1-dc1-voice").state.value == "verified"
        assert lost(s) == [] and drift(s) == []


def test_controller_killed_mid_transaction_restarts_consistent(tmp_path: Path) -> None:
    names = sorted(load("bank-wan").nodes)
    runner = start_fleet(names, tmp_path / "fleet")
    try:
        inventory = runner.fleet.write_inventory(tmp_path / "inventory.yaml")
        db = tmp_path / "netpilot.db"

        def slow() -> None:  # BR1 answers slowly: the transaction is long enough to be cut
            runner.fleet.routers["BR1"].faults.delay_s = 0.3

        runner.call(slow)
        worker = subprocess.Popen(
            [sys.executable, "-m", "tests.loop_kill_worker", str(db), str(inventory),
             str(BANK_INTENTS)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT,
        )  # fmt: skip
        assert worker.stdout is not None
        assert worker.stdout.readline().strip() == "installed"
        deadline = time.monotonic() + 30
        while not runner.call(
            lambda: any(r.pending is not None for r in runner.fleet.routers.values())
        ):
            assert time.monotonic() < deadline, "the cut's transaction never reached a router"
            time.sleep(0.01)
        worker.send_signal(signal.SIGKILL)  # mid-transaction: a confirmed commit is pending
        worker.wait(10)
        runner.call(lambda: setattr(runner.fleet.routers["BR1"].faults, "delay_s", 0.0))
        wait_settled(runner, 15)  # the pending confirmed commits roll back on their own
        store = Store(db)
        before = {n: canonical(c) for n, c in store.installed_configs().items()}
        assert all(running(runner)[n] == cfg for n, cfg in before.items()), "one revision"
        # restart: recover, reconcile, hear the cut again from telemetry
        south = NetconfSouthbound(load_inventory(inventory))
        engine = Engine(load("bank-wan"), store, south, time.time)

        async def restart() -> None:
            await engine.start()
            await engine.link_state("BR1-P-SH", LinkState.DOWN, "telemetry after restart")

        asyncio.run(restart())
        south.close_sync()
        records = {r.name: r for r in store.list_intents()}
        assert len(records) == 17 and all(
            r.state.value in ("verified", "degraded", "accepted") for r in records.values()
        ), {n: r.state for n, r in records.items()}
        after = {n: canonical(c) for n, c in store.installed_configs().items()}
        wait_settled(runner, 15)
        assert all(running(runner)[n] == cfg for n, cfg in after.items()), "no drift"
        voice = engine.placement("br1-dc1-voice")
        assert voice is not None and "BR1-P-SH" not in {k[2] for k in voice.primary.links}
        store.close()
    finally:
        runner.stop()
