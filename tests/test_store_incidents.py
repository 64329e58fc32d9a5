"""The incidents kept in the intent store (issue 15: a restart keeps them), on both backends:
SQLite and a real etcd on a loopback port (one server for the module, a fresh key prefix per
test). Saved as the correlator writes them, read back by a second store object standing for the
restarted controller, the history bounded; the correlator carries on with what it reads."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.etcd_proc import EtcdServer
from controller.incident_correlator import Correlator, CorrelatorConfig
from controller.incident_model import SlaFigures, Symptom
from controller.incident_record import from_record, to_record
from controller.store_api import IntentStore
from controller.store_open import open_store
from tests.intents_support import FakeClock, small_wan

Opener = Callable[[], IntentStore]


@pytest.fixture(scope="module")
def etcd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtcdServer]:
    server = EtcdServer(tmp_path_factory.mktemp("etcd") / "data")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", "etcd"])
def open_one(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """Opens one more store on the same data (the same file, the same etcd prefix)."""
    url = request.getfixturevalue("etcd").store_url() if request.param == "etcd" else None
    opened: list[IntentStore] = []

    def opener() -> IntentStore:
        store = open_store(url, tmp_path / "np.db", clock=FakeClock())
        opened.append(store)
        return store

    yield opener
    for store in opened:
        store.close()


def srlg_cut() -> Correlator:
    """inc-1: BR2-P2 down then up (resolved), with an SLA miss measured meanwhile; inc-2: the
    router P1 loses every link (open, located)."""
    correlator = Correlator(small_wan(), CorrelatorConfig(window_s=2.0))
    miss = SlaFigures("latency", 0.081, 0.0, 0.05, 0.001)
    correlator.observe(Symptom(10.0, "link_down", "BR2-P2", detail="BR2 reports it"))
    correlator.observe(Symptom(10.1, "sla_miss", "br2-dc1", ("BR2-P2", "DC1-P2"), "measured", miss))
    correlator.observe(Symptom(12.0, "link_up", "BR2-P2"))
    for i, link in enumerate(("DC1-P1", "DC2-P1", "P1-P2", "HQ-P1", "BR1-P1")):
        correlator.observe(Symptom(20.0 + i / 10, "link_down", link, detail="P1 reports it"))
    correlator.tick(25.0)
    return correlator


def rows(correlator: Correlator) -> list[dict[str, Any]]:
    return [to_record(i) for i in correlator.incidents()]


def test_incidents_survive_a_reopened_store_bounded_and_in_order(open_one: Opener) -> None:
    kept = srlg_cut()
    first = open_one()
    assert first.load_incidents() == []
    first.save_incidents(rows(kept))
    views = {i.id: i.to_dict() for i in kept.incidents()}
    assert {(i["id"], i["state"]) for i in views.values()} == {("inc-1", "resolved"),
                                                               ("inc-2", "open")}  # fmt: skip
    again = open_one()  # the restarted controller
    loaded = [from_record(r) for r in again.load_incidents()]
    assert [i.id for i in loaded] == ["inc-2", "inc-1"]  # open first, then resolved
    assert [i.to_dict() for i in loaded] == [views["inc-2"], views["inc-1"]]
    (miss,) = [e for e in views["inc-1"]["evidence"] if e["kind"] == "sla_miss"]
    assert miss["measured"] == {"latency_ms": 81.0, "loss": 0.0} and miss["reason"] == "latency"
    node = loaded[0].root
    assert node is not None and (node.kind, node.name) == ("node", "P1")
    assert loaded[0].located_at is not None and loaded[0].identified_at <= loaded[0].located_at

    old = to_record(loaded[1])
    resolved = [{**old, "id": f"inc-{n}", "state": "resolved"} for n in range(3, 9)]
    again.save_incidents(resolved, gone=["inc-1"], keep_resolved=3)
    closed = {**to_record(loaded[0]), "state": "resolved", "resolved_at": 30.0}
    again.save_incidents([closed], keep_resolved=3)  # inc-2 moves, the oldest resolved go
    assert [(r["id"], r["state"]) for r in first.load_incidents()] == [
        ("inc-6", "resolved"), ("inc-7", "resolved"), ("inc-8", "resolved"),
    ]  # fmt: skip


def test_the_correlator_carries_on_with_what_it_reads_back(open_one: Opener) -> None:
    store = open_one()
    store.save_incidents(rows(srlg_cut()))
    restarted = Correlator(small_wan(), CorrelatorConfig(late_s=30.0))
    restarted.restore([from_record(r) for r in open_one().load_incidents()], now=100.0)
    assert [i.id for i in restarted.incidents()] == ["inc-2", "inc-1"]
    # P1's links re-reported down by the routers: the restored incident, not a new one
    restarted.observe(Symptom(101.0, "link_down", "DC1-P1", detail="P1 reports it"))
    assert list(restarted.open) == ["inc-2"]
    restarted.observe(Symptom(110.0, "link_down", "BR2-P2"))  # a new fault: numbered on
    assert sorted(restarted.open) == ["inc-2", "inc-3"]

    quiet = Correlator(small_wan(), CorrelatorConfig(late_s=30.0))
    quiet.restore([from_record(r) for r in store.load_incidents()], now=100.0)
    assert quiet.tick(129.0) == [] and list(quiet.open) == ["inc-2"]
    (change,) = quiet.tick(130.0)  # nobody reported P1's links again: they came back
    assert change.what == "resolved" and "not reported again after the restart" in change.text
    assert quiet.open == {} and quiet.incidents()[0].resolved_at == 130.0
