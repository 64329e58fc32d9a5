"""The intent model, the intents file, the compiler and the store, without an engine."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError as PydanticValidationError

from controller.compiler import CompileItem, compile_network
from controller.errors import ConflictError, NotFoundError, UsageError, ValidationError
from controller.intentfile import load_intents
from controller.intents import (
    SERVICE_CLASSES,
    Intent,
    PrefixMap,
    TimeWindow,
    resolve_node,
    to_path_request,
)
from controller.pathing.placement import place
from controller.store import MIGRATIONS, SCHEMA_VERSION, Store
from tests.intents_support import FakeClock, small_wan


def make(**kw: object) -> Intent:
    return Intent.model_validate({"name": "i", "src": "BR1", "dst": "DC1", **kw})


def test_units_and_class_defaults() -> None:
    intent = make(bandwidth="10M", service_class="voice")
    assert intent.bandwidth == 10e6
    assert (intent.effective_dscp, intent.effective_priority) == (46, 0)
    assert intent.max_latency_s == pytest.approx(0.150)
    tuned = make(service_class="voice", dscp=40, priority=2, sla={"max_latency": "80ms"})
    assert (tuned.effective_dscp, tuned.effective_priority) == (40, 2)
    assert tuned.max_latency_s == pytest.approx(0.080)
    assert len({c.queue for c in SERVICE_CLASSES.values()}) == len(SERVICE_CLASSES)
    assert len({c.dscp for c in SERVICE_CLASSES.values()}) == len(SERVICE_CLASSES)


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"bandwidth": "fast"}, "bandwidth"),
        ({"service_class": "gold"}, "service_class"),
        ({"colour": "red"}, "colour"),
        ({"dscp": 64}, "dscp"),
        ({"protection": "2+2"}, "protection"),
        ({"windows": [{"start": "25:00", "end": "01:00"}]}, "windows"),
        ({"disjoint_from": ["i"]}, "disjoint_from"),
        ({"name": "bad name!"}, "name"),
        ({"dst": {"prefixes": ["10.300.0.0/16"]}}, "dst"),
    ],
)
def test_bad_fields_are_named(extra: dict[str, object], field: str) -> None:
    with pytest.raises(PydanticValidationError) as info:
        make(**extra)
    assert field in str(info.value)


def test_prefix_endpoints_resolve_by_longest_match() -> None:
    prefixes = PrefixMap({"10.0.0.0/8": "HQ", "10.1.0.0/16": "DC1"})
    intent = make(dst="10.1.2.0/24")
    assert intent.dst.node is None and intent.dst.prefixes == ("10.1.2.0/24",)
    assert resolve_node(intent.dst, prefixes, "dst") == "DC1"
    assert resolve_node(make(dst="10.9.0.0/16").dst, prefixes, "dst") == "HQ"
    with pytest.raises(Exception, match="no node owns"):
        resolve_node(make(dst="192.168.0.0/24").dst, prefixes, "dst")


def test_overnight_window() -> None:
    window = TimeWindow(start="22:00", end="06:00", days=("mon",))
    assert window.contains(datetime(2026, 11, 16, 23, 0, tzinfo=UTC))  # Monday night
    assert window.contains(datetime(2026, 11, 17, 5, 0, tzinfo=UTC))  # early Tuesday
    assert not window.contains(datetime(2026, 11, 17, 7, 0, tzinfo=UTC))
    assert not window.contains(datetime(2026, 11, 17, 23, 0, tzinfo=UTC))  # Tuesday night


def test_path_request_mapping() -> None:
    intent = make(
        bandwidth="20M",
        service_class="production",
        protection="path",
        affinities={"exclude_any": ["satellite"]},
        exclude_nodes=["P2"],
    )
    request = to_path_request(intent, lambda ep, _: ep.node or "")
    assert (request.src, request.dst, request.bandwidth_bps) == ("BR1", "DC1", 20e6)
    assert request.disjoint == "srlg" and request.setup_priority == 1
    assert request.exclude_any == {"satellite"} and request.exclude_nodes == {"P2"}
    assert request.max_latency_s == pytest.approx(0.050) and request.objective == "latency"


def test_intent_file_errors_name_the_entry(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "intents:\n"
        "  - {name: a, src: HQ, dst: DC1}\n"
        "  - {name: b, src: HQ, dst: DC1, bandwidth: x}\n"
    )
    with pytest.raises(ValidationError) as info:
        load_intents(path)
    assert info.value.problems[0].startswith("intents[1].bandwidth")
    path.write_text(
        "intents:\n  - {name: a, src: HQ, dst: DC1}\n  - {name: a, src: HQ, dst: DC2}\n"
    )
    with pytest.raises(ValidationError, match="twice"):
        load_intents(path)
    with pytest.raises(NotFoundError):
        load_intents(tmp_path / "missing.yaml")


def _items(n: int) -> list[CompileItem]:
    topo = small_wan()
    ends = ["DC1", "DC2", "HQ", "BR1", "BR2"]
    intents = [
        make(
            name=f"i{k}",
            src=ends[k % 5],
            dst=ends[(k + 1 + k // 5) % 5] if ends[(k + 1 + k // 5) % 5] != ends[k % 5] else "P1",
            service_class=list(SERVICE_CLASSES)[k % 6],
            protection=["none", "path", "1+1"][k % 3],
            bandwidth="1M",
        )
        for k in range(n)
    ]
    requests = [to_path_request(i, lambda ep, _: ep.node or "") for i in intents]
    placed = place(topo, requests)
    return [
        CompileItem(i, placed.placed[i.name], 1000 + 2 * k)
        for k, i in enumerate(intents)
        if i.name in placed.placed
    ]


@settings(max_examples=20, deadline=None)
@given(st.randoms(use_true_random=False))
def test_compiler_is_deterministic(rnd: object) -> None:
    items = _items(12)
    shuffled = list(items)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    topo = small_wan()
    assert compile_network(topo, items) == compile_network(topo, shuffled)


def test_compiler_output_shape() -> None:
    topo = small_wan()
    items = _items(12)
    config = compile_network(topo, items)
    assert set(config) == set(topo.nodes)
    assert all(len(c.qos) == len(SERVICE_CLASSES) for c in config.values())
    voice_queue = next(q for q in config["P1"].qos if q.service_class == "voice")
    assert voice_queue.priority and voice_queue.dscp == (46,)
    for item in items:
        head = config[item.placement.request.src]
        policy = next(p for p in head.sr_policies if p.color == item.color)
        prefs = {cp.name: cp.preference for cp in policy.candidate_paths}
        assert prefs["primary"] == 200
        if item.intent.protection == "path" and item.placement.backup:
            assert prefs["backup"] == 100
        if item.intent.protection == "1+1" and item.placement.backup:
            assert any(p.color == item.color + 1 for p in head.sr_policies)
        assert any(s.color == item.color for s in head.steering)
        tail_sid = topo.node(item.placement.request.dst).node_sid
        assert policy.candidate_paths[0].segment_lists[0].sids[-1] == tail_sid


def test_store_versions_conflicts_and_audit(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db", clock=FakeClock())
    record, changed = store.put_intent(make(), actor="alice", why="new branch line")
    assert changed and record.version == 1 and record.color == 1000
    assert store.put_intent(make())[1] is False  # idempotent
    with pytest.raises(ConflictError):
        store.put_intent(make(bandwidth="2M"), expected_version=7)
    assert store.put_intent(make(bandwidth="2M"), expected_version=1)[0].version == 2
    with pytest.raises(ConflictError):
        store.put_intent(make(), create_only=True)
    changes = store.apply_intents([make(name="j")], prune=True, actor="bob")
    assert {(c.name, c.action) for c in changes} == {("j", "create"), ("i", "delete")}
    log = store.audit_log()
    assert {(e["actor"], e["action"], e["target"]) for e in log} >= {
        ("alice", "create", "i"),
        ("bob", "delete", "i"),
        ("bob", "create", "j"),
    }
    assert any(e["detail"] == "new branch line" for e in log)
    store.close()


def test_store_migrates_old_schema_and_refuses_newer(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.executescript(MIGRATIONS[0])
    db.execute("PRAGMA user_version=1")
    db.close()
    store = Store(path)
    assert store.schema_version == SCHEMA_VERSION
    store.put_intent(make())
    store.mark_moved(["i"])
    assert store.get_intent("i").moved_at is not None
    store.close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(UsageError, match="newer"):
        Store(path)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(UsageError, match="not a netpilot database"):
        Store(junk)


def test_bundled_bank_wan_intents_cover_every_class() -> None:
    intents = load_intents(Path(__file__).parent.parent / "topologies" / "bank-wan.intents.yaml")
    assert {i.service_class for i in intents} == set(SERVICE_CLASSES)
    branch = [i for i in intents if (i.src.node or "").startswith("BR")]
    assert branch and all(i.bandwidth <= 20e6 for i in branch)
    assert any(i.bandwidth >= 1e9 for i in intents if i.src.node in ("DC1", "DC2"))


def test_docs_tables_are_generated_from_the_model() -> None:
    from controller.intents import class_table_markdown, field_table_markdown

    doc = (Path(__file__).parent.parent / "docs" / "intents.md").read_text()
    assert class_table_markdown() in doc and field_table_markdown() in doc
