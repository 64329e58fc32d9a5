"""The live loop's signal planner: measured loss on a link that just came back is not judged
while the counters still span the outage; the engine tells which links changed lately."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from controller.avoid import AvoidConfig
from controller.runtime.signals import SignalPlanner
from controller.topology import LinkState
from tests.test_intent_engine import make


@dataclass
class Report:
    link: str
    src: str
    dst: str
    oper_up: bool
    delay_s: float | None
    loss: float | None


def test_loss_on_a_link_that_just_came_back_waits_for_a_clean_round(tmp_path: Path) -> None:
    engine, _, _, _ = make(tmp_path)
    asyncio.run(engine.link_state("DC1-P1", LinkState.DOWN, "gNMI: cut"))
    asyncio.run(engine.link_state("DC1-P1", LinkState.UP, "gNMI: back"))
    settling = engine.links_changed_within(10.0)
    assert settling == {"DC1-P1"} and engine.links_changed_within(-1.0) == set()
    lossy = [
        Report("DC1-P1", "DC1", "P1", True, 0.002, 0.2),
        Report("P1-P2", "P1", "P2", True, 0.001, 0.2),
    ]
    planner = SignalPlanner(AvoidConfig())
    signals = planner.measure_signals(lossy, engine.topology, settling)
    assert [(s.kind, s.link) for s in signals] == [("sla", "P1-P2")]  # judged: it did not change
    later = planner.measure_signals(lossy, engine.topology)  # a round wholly after the change
    assert [(s.kind, s.link) for s in later] == [("sla", "DC1-P1")]
