"""QoS that follows demand uses the forecast p90 (issue 20, item 6): the live telemetry's link
forecasts, split over the classes as measured (measured load where no forecast exists), reach
the engine's compile, so a placed class's queue share rises to its forecast demand and is
pushed; without the hook, or below the placed bandwidth, the placed bandwidth rules; a
restarted engine keeps the installed shares until telemetry has measured."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from controller.engine import Engine, EngineConfig
from controller.intentfile import load_intents
from controller.qos import SHARE_RULES, interface_shares, placed_demand
from controller.qos_forecast import QUANTUM, class_demand, installed_demand
from controller.southbound.memory import MemorySouthbound
from controller.store import Store
from tests.intents_support import FakeClock
from topologies.loader import load

BANK = load("bank-wan:4")
INTERNET = ("BR1", "INET-GW", "BR1-internet")  # a 100M uplink
INTENTS = Path(__file__).resolve().parent.parent / "topologies" / "bank-wan-4.intents.yaml"


@dataclass
class Load:
    link: str
    src: str
    dst: str
    speed_bps: float
    class_utilisation: dict[str, float] = field(default_factory=dict)


@dataclass
class Forecast:
    link: str
    src: str
    utilisation: float


def test_the_forecast_p90_is_split_as_classes_are_measured_else_measured_load() -> None:
    loads = [
        Load("BR1-internet", "BR1", "INET-GW", 100e6, {"office": 0.15, "video": 0.05}),
        Load("BR1-5g", "BR1", "5G-GW", 50e6, {"office": 0.11, "test": 0.0}),
        Load("P1-P2", "P1", "P2", 1e9),  # no class counters yet: nothing
    ]
    got = class_demand(loads, [Forecast("BR1-internet", "BR1", 0.40)])
    assert got.forecast_links == 1
    # p90 40M split 3:1 as measured -> 30M office, 10M video (already on 5 % steps)
    assert got.demand[INTERNET] == {"office": 30e6, "video": 10e6}
    # no forecast: 5.5M measured, rounded up to a step of 5 % of 50M
    assert got.demand[("BR1", "5G-GW", "BR1-5g")] == {"office": 7.5e6}
    assert len(got.demand) == 2 and QUANTUM == 0.05


def test_a_placed_class_takes_the_larger_of_placed_and_forecast_and_nothing_else_is_added() -> None:
    demand = {INTERNET: {"office": 20e6}}
    up = interface_shares(BANK, demand, {INTERNET: {"office": 45e6, "video": 30e6}})["BR1"]
    assert [(s.service_class, s.guaranteed_bps) for s in up] == [("office", 45e6)]
    down = interface_shares(BANK, demand, {INTERNET: {"office": 5e6}})["BR1"]
    assert down[0].guaranteed_bps == 20e6  # the placed bandwidth is the least
    over = interface_shares(BANK, demand, {INTERNET: {"office": 500e6}})["BR1"]
    assert over[0].guaranteed_bps == SHARE_RULES["office"].ceiling * 100e6


def office_share(south: MemorySouthbound) -> float:
    config = south.devices["BR1"]
    return next(s.guaranteed_bps for s in config.shares if s.key == ("BR1-internet", "office"))


def test_the_engine_compiles_with_the_live_forecast_and_pushes_the_share(tmp_path: Path) -> None:
    clock = FakeClock()
    store, south = Store(tmp_path / "np.db", clock=clock), MemorySouthbound()
    engine = Engine(BANK, store, south, clock, config=EngineConfig(verify=False))
    engine.load()
    for intent in load_intents(INTENTS):
        store.put_intent(intent)
    asyncio.run(engine.reconcile("api"))
    placed = placed_demand((p, store.get_intent(n).intent.bandwidth)
                           for n, p in engine.placements().items())  # fmt: skip
    assert office_share(south) == placed[INTERNET]["office"] == 20e6  # no forecast: as placed
    loads = [Load("BR1-internet", "BR1", "INET-GW", 100e6, {"office": 0.3})]
    engine.demand = lambda: class_demand(loads, [Forecast("BR1-internet", "BR1", 0.52)]).demand
    report = asyncio.run(engine.reconcile("telemetry"))
    assert report.devices == ["BR1"] and report.moved == []  # QoS only, no path moved
    assert office_share(south) == 55e6  # p90 52M, up to the 5 % step
    restarted = Engine(BANK, store, south, clock, config=EngineConfig(verify=False))
    restarted.load()  # no telemetry yet: it compiles with what the installed shares followed
    restarted.demand = lambda: installed_demand(BANK, restarted.installed_configs().values())
    assert asyncio.run(restarted.reconcile("startup")).devices == []  # nothing taken back
    loads[0].class_utilisation["office"] = 0.1  # forecast gone: measured 10M < placed 20M
    engine.demand = lambda: class_demand(loads, []).demand
    asyncio.run(engine.reconcile("telemetry"))
    assert office_share(south) == pytest.approx(20e6)
