"""End to end over NETCONF: the engine installs intents on simulated routers (real SSH sessions)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from controller.engine import Engine
from controller.intents import Intent, IntentState
from controller.southbound.render import canonical
from controller.store import Store
from controller.topology import LinkState
from tests.intents_support import small_wan
from tests.southbound_support import driver, running, start_fleet, wait_settled


def test_engine_installs_and_moves_over_netconf(tmp_path: Path) -> None:
    topo = small_wan()
    fleet = start_fleet(sorted(topo.nodes), tmp_path)
    south = driver(fleet, tmp_path)
    store = Store(tmp_path / "np.db")
    engine = Engine(topo, store, south, time.time)

    async def scenario() -> None:
        await engine.start()
        for spec in (
            {
                "name": "v",
                "src": "BR1",
                "dst": "DC1",
                "service_class": "voice",
                "protection": "path",
            },
            {"name": "p", "src": "DC1", "dst": "DC2", "service_class": "production"},
        ):
            store.put_intent(Intent.model_validate(spec))
        report = await engine.reconcile("apply over NETCONF")
        assert report.committed, store.revisions(2)[0]["error"]
        moved = engine.placement("p")
        assert moved is not None
        await engine.link_state(moved.primary.links[0][2], LinkState.DOWN, "fibre cut")
        await south.close()

    try:
        asyncio.run(scenario())
        wait_settled(fleet)
        on_devices = running(fleet)
        installed = store.installed_configs()
        assert all(on_devices[d] == canonical(c) for d, c in installed.items())
        assert {p.name for p in on_devices["BR1"].sr_policies} == {"v"}
        assert store.get_intent("p").state is IntentState.VERIFIED  # read back over NETCONF
        assert store.get_intent("v").state is IntentState.VERIFIED
        assert [r["status"] for r in store.revisions()] == ["committed"] * len(store.revisions())
    finally:
        store.close()
        fleet.stop()
