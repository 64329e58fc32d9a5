"""The correlator inside the controller (controller/incident_service.py): the real engine's
events become symptoms (a cut told to `Engine.link_state`, a loss measured by
`Engine.link_measured`, a stale device), the incident is an engine event too, located incidents
go to the store's audit log and into the store itself (a restarted service reads them back),
and /metrics counts the open ones by kind; the SLA misses are measured (unreachable: cut, no
intact backup; a measured loss over the SLA)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest

from controller.engine import Engine, EngineConfig, EngineEvent
from controller.incident_metrics import assemble_incidents
from controller.incident_service import IncidentService
from controller.intentfile import load_intents
from controller.pathing.types import Placement
from controller.southbound.memory import MemorySouthbound
from controller.store import Store
from controller.topology import LinkState
from topologies.loader import load

ROOT = Path(__file__).resolve().parent.parent
DUCT = ("DC1-DC2-a", "DC1-DC2-b")


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_engine_events_feed_one_srlg_incident(tmp_path: Path) -> None:
    asyncio.run(_srlg_cut(tmp_path))


async def _srlg_cut(tmp_path: Path) -> None:
    clock, store, registry = Clock(), Store(tmp_path / "np.db"), CollectorRegistry()
    engine = Engine(load("bank-wan"), store, MemorySouthbound(), clock,
                    config=EngineConfig(tick_s=3600))  # fmt: skip
    store.apply_intents(load_intents(ROOT / "topologies/bank-wan.intents.yaml"), actor="test")
    await engine.start()
    service = assemble_incidents(engine, store.audit, registry, clock)
    cut_off: list[str] = []  # the intents whose primary crosses a link as it is cut, no backup
    for link in DUCT:
        over = {n: p for n, p in engine.placements().items() if link in _links(p)}
        cut_off += [n for n, p in over.items() if p.backup is None]
        assert any(p.backup is not None for p in over.values())  # protected: rides its backup
        await engine.link_state(link, LinkState.DOWN, f"telemetry: gNMI: DC1 reports {link} down")
        clock.now += 0.05
    await engine.link_measured("BR4-P-WH", 0.01, 0.2, "telemetry: BR4-P-WH loss (SLA at risk)")
    engine.record(EngineEvent(clock.now, "device-stale", "telemetry: BR3 is stale", "timeout"))
    (cut, loss, stale) = service.incidents()
    assert cut.links == set(DUCT) and cut.located_at is None
    clock.now += 1.5
    service.tick()
    assert cut.root is not None and (cut.root.kind, cut.root.name) == ("srlg", "conduit-dc1-dc2")
    misses = [s for s in cut.evidence if s.kind == "sla_miss"]
    assert cut_off and sorted(s.subject for s in misses) == sorted(cut_off)
    assert all(s.sla is not None and s.sla.reason == "unreachable" for s in misses)
    assert all("not yet rerouted" in s.detail for s in misses)
    lossy = [s for s in loss.evidence if s.kind == "sla_miss"]  # 20 % measured on BR4-P-WH
    assert lossy and all(s.sla is not None and s.sla.reason == "loss" for s in lossy), lossy
    for s in lossy:
        assert s.sla is not None and s.sla.max_loss is not None and 0 < s.sla.max_loss < 0.2
        assert abs(s.sla.loss - 0.2) < 1e-9
    assert loss.root is not None and (loss.root.kind, loss.root.name) == ("link", "BR4-P-WH")
    assert stale.root is not None and (stale.root.kind, stale.root.name) == ("node", "BR3")
    said = [e.cause for e in engine.events if e.kind == "incident"]
    assert any(c.startswith("inc-1 srlg conduit-dc1-dc2") for c in said), said
    text = generate_latest(registry).decode()
    assert 'netpilot_incidents_open{kind="srlg"} 1.0' in text
    assert 'netpilot_incidents_open{kind="node"} 1.0' in text
    assert "netpilot_incidents_opened_total 3.0" in text
    await service._flush_audit()
    await service.flush()  # kept in the store: a restarted service reads them back
    again = IncidentService(engine, clock, store=store)
    assert again.view() == service.view() and len(again.view()) == 3
    audited = [(a["actor"], a["action"], a["target"]) for a in store.audit_log()]
    assert ("correlator", "incident-located", "inc-1") in audited
    for link in DUCT:
        await engine.link_state(link, LinkState.UP, f"telemetry: DC2 reports {link} up")
    assert cut.state == "resolved" and service.view("open")[0]["id"] != "inc-1"
    store.close()


def _links(placement: Placement) -> set[str]:
    return {key[2] for key in placement.primary.links}
