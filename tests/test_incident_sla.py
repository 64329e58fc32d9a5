"""SLA misses measured on the path an intent's traffic is on (controller/incident_sla.py): the
measured delay and loss of each link along the installed primary (or, with the primary cut, an
intact backup) against the intent's SLA; unreachable when no path is intact; then the engine's
telemetry event goes through the feed and the correlator groups the miss under its root cause."""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise

import pytest

from controller.engine import EngineEvent
from controller.incident_correlator import Correlator
from controller.incident_feed import symptoms
from controller.incident_model import Symptom
from controller.incident_sla import Target, check, default_target, targets_from
from controller.pathing.types import Path, PathRequest, Placement
from controller.planner import LinkMeasure
from controller.topology import LinkState, Topology
from tests.intents_support import small_wan

SLA = Target(max_latency_s=0.050, max_loss=0.001)  # the production class's bounds


def path(*nodes: str) -> Path:
    keys = tuple((a, b, "-".join(sorted((a, b), key=_order))) for a, b in pairwise(nodes))
    return Path(nodes, keys, latency_s=0.0, cost=0.0)


def _order(node: str) -> int:
    return ["DC1", "DC2", "HQ", "BR1", "BR2", "P1", "P2"].index(node)


PRIMARY, BACKUP = path("BR1", "P1", "DC1"), path("BR1", "P2", "DC1")
REQUEST = PathRequest("br1-dc1", "BR1", "DC1", max_latency_s=0.050, service_class="production")


@dataclass
class State:
    """What the check reads of the engine: topology, measurements, installed placements."""

    topology: Topology = field(default_factory=small_wan)
    measures: dict[str, LinkMeasure] = field(default_factory=dict)
    protected: bool = True

    def placements(self) -> dict[str, Placement]:
        return {"br1-dc1": Placement(REQUEST, PRIMARY, BACKUP if self.protected else None)}

    def cut(self, *links: str) -> State:
        for link in links:
            self.topology = self.topology.with_link_state(link, LinkState.DOWN)
        return self


def miss(state: State) -> Symptom | None:
    (placement,) = state.placements().values()
    return check(7.0, "br1-dc1", placement, SLA, state)


def test_within_its_sla_on_the_configured_and_the_measured_delays_is_no_miss() -> None:
    assert miss(State()) is None  # 10 ms + 2 ms configured
    assert miss(State(measures={"BR1-P1": LinkMeasure(0.040, 0.0005)})) is None  # 42 ms, 0.05 %


@pytest.mark.parametrize(
    ("measures", "reason", "latency_ms", "loss"),
    [
        ({"BR1-P1": LinkMeasure(0.061, 0.0)}, "latency", 63.0, 0.0),
        ({"DC1-P1": LinkMeasure(None, 0.02)}, "loss", 12.0, 0.02),
        ({"BR1-P1": LinkMeasure(0.09, 0.01), "DC1-P1": LinkMeasure(None, 0.01)}, "loss", 92.0,
         0.0199),
    ],
)  # fmt: skip
def test_measured_delay_or_loss_over_the_sla_is_a_miss_with_the_figures(
    measures: dict[str, LinkMeasure], reason: str, latency_ms: float, loss: float
) -> None:
    found = miss(State(measures=measures))
    assert found is not None and found.kind == "sla_miss" and found.subject == "br1-dc1"
    assert found.links == ("BR1-P1", "DC1-P1")
    figures = found.sla
    assert figures is not None and figures.reason == reason and figures.source == "telemetry"
    assert figures.latency_s == pytest.approx(latency_ms / 1e3)
    assert figures.loss == pytest.approx(loss)
    assert (figures.max_latency_s, figures.max_loss) == (0.050, 0.001)
    assert "measured on its path BR1-P1-DC1" in found.detail
    shown = found.sla.to_dict() if found.sla else {}
    assert shown["measured"]["latency_ms"] == pytest.approx(latency_ms)
    assert shown["sla"] == {"max_latency_ms": 50.0, "max_loss": 0.001}


def test_a_cut_primary_is_measured_on_its_backup_and_unreachable_without_one() -> None:
    assert miss(State().cut("BR1-P1")) is None  # the head end switched: 12 + 3 ms
    slow = miss(State(measures={"BR1-P2": LinkMeasure(0.070, 0.0)}).cut("BR1-P1"))
    assert slow is not None and slow.sla is not None and slow.sla.reason == "latency"
    assert "measured on its backup BR1-P2-DC1" in slow.detail
    assert set(slow.links) == {"BR1-P1", "DC1-P1", "BR1-P2", "DC1-P2"}  # joins the cut's incident
    for state in (State().cut("BR1-P1", "BR1-P2"), State(protected=False).cut("DC1-P1")):
        gone = miss(state)
        assert gone is not None and gone.sla is not None
        assert (gone.sla.reason, gone.sla.loss, gone.sla.source) == ("unreachable", 1.0,
                                                                     "link-state")  # fmt: skip
        assert gone.links == ("BR1-P1", "DC1-P1") and "not yet rerouted" in gone.detail


def test_the_intents_own_sla_wins_over_its_class() -> None:
    (placement,) = State().placements().values()
    assert default_target("br1-dc1", placement) == SLA
    own = targets_from({"br1-dc1": Target(0.010, None)})
    assert own("br1-dc1", placement) == Target(0.010, None)
    assert own("other", placement) == SLA


def test_a_measured_loss_event_is_one_incident_with_the_measured_miss_as_evidence() -> None:
    """The engine's telemetry event (Engine.link_measured's words) through the feed and the
    correlator: the loss alarm and the intent's measured miss, one incident, root cause the
    link, the figures and the SLA in the evidence."""
    state = State(measures={"DC1-P1": LinkMeasure(0.002, 0.03)})
    event = EngineEvent(5.0, "telemetry", "telemetry: DC1-P1 delay 2.0 ms, loss 3.00% (SLA at "
                        "risk)", "DC1-P1: delay=0.002 loss=0.03")  # fmt: skip
    found = symptoms(event, state, targets_from({}))
    assert [s.kind for s in found] == ["loss", "sla_miss"]
    correlator = Correlator(state.topology)
    for symptom in found:
        correlator.observe(symptom)
    correlator.tick(7.0)
    (inc,) = correlator.incidents()
    assert inc.root is not None and (inc.root.kind, inc.root.name) == ("link", "DC1-P1")
    (evidence,) = [e for e in inc.to_dict()["evidence"] if e["kind"] == "sla_miss"]
    assert evidence["subject"] == "br1-dc1" and evidence["reason"] == "loss"
    assert evidence["measured"] == {"latency_ms": 12.0, "loss": 0.03}
    assert evidence["sla"] == {"max_latency_ms": 50.0, "max_loss": 0.001}
