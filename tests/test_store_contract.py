"""One contract, two backends (issue 16): every test here runs on the SQLite store and on the
etcd store against a real etcd server on a loopback port (one server for the module, a fresh key
prefix for each test). Two store objects opened on the same file or prefix stand for two
controller replicas writing at once."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bench.etcd_proc import EtcdServer
from controller.compiler import CompileItem, compile_network
from controller.errors import ConflictError, NotFoundError
from controller.intents import Intent, IntentState, to_path_request
from controller.pathing.placement import place
from controller.store import Store
from controller.store_api import IntentStore
from controller.store_etcd import EtcdStore
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
def opener(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[str, Opener, FakeClock]]:
    """(backend, a function that opens one more store on the same data, its clock)."""
    clock = FakeClock()
    url = request.getfixturevalue("etcd").store_url() if request.param == "etcd" else None
    opened: list[IntentStore] = []

    def open_one() -> IntentStore:
        store = open_store(url, tmp_path / "np.db", clock=clock)
        opened.append(store)
        return store

    yield request.param, open_one, clock
    for store in opened:
        store.close()


def make(name: str = "i", **kw: object) -> Intent:
    return Intent.model_validate({"name": name, "src": "BR1", "dst": "DC1", **kw})


def test_versions_conflicts_and_audit(opener: tuple[str, Opener, FakeClock]) -> None:
    _, open_one, _ = opener
    store = open_one()
    record, changed = store.put_intent(make(), actor="alice", why="new branch line")
    assert changed and record.version == 1 and record.color == 1000
    assert store.put_intent(make())[1] is False  # idempotent
    with pytest.raises(ConflictError, match="at version 1, not 7"):
        store.put_intent(make(bandwidth="2M"), expected_version=7)
    assert store.put_intent(make(bandwidth="2M"), expected_version=1)[0].version == 2
    with pytest.raises(ConflictError, match="exists"):
        store.put_intent(make(), create_only=True)
    changes = store.apply_intents([make("j")], prune=True, actor="bob")
    assert {(c.name, c.action) for c in changes} == {("j", "create"), ("i", "delete")}
    assert store.get_intent("j").color == 1002
    log = store.audit_log()
    assert [(e["actor"], e["action"], e["target"]) for e in log] == [  # newest first
        ("bob", "delete", "i"),
        ("bob", "create", "j"),
        ("cli", "update", "i"),
        ("alice", "create", "i"),
    ]
    assert len({e["id"] for e in log}) == len(log) == 4
    assert any(e["detail"] == "new branch line" for e in log)
    assert store.audit_log(limit=1)[0]["target"] in ("i", "j")


def test_delete_lifecycle_and_history(opener: tuple[str, Opener, FakeClock]) -> None:
    _, open_one, clock = opener
    store = open_one()
    store.put_intent(make())
    with pytest.raises(ConflictError):
        store.delete_intent("i", expected_version=5)
    gone = store.delete_intent("i", expected_version=1, actor="api", why="decommissioned")
    assert (gone.state, gone.version, gone.deleted) == (IntentState.WITHDRAWING, 2, False)
    assert store.delete_intent("i").version == 2  # deleting again changes nothing
    with pytest.raises(NotFoundError):
        store.delete_intent("nope")
    clock.advance(1)
    assert store.set_states([("i", IntentState.WITHDRAWN, "withdrawn")]) == []
    with pytest.raises(NotFoundError):
        store.get_intent("i")
    found = store.find_intent("i")
    assert found is not None and found.deleted and found.version == 2
    assert store.list_intents() == []
    assert [r.name for r in store.list_intents(include_deleted=True)] == ["i"]
    again, changed = store.put_intent(make())  # a PUT re-creates it: the next version
    assert changed and again.version == 3 and again.color == 1000
    history = [(t.state, t.reason) for t in store.transitions("i")]
    assert history == [
        (IntentState.ACCEPTED, "created"),
        (IntentState.WITHDRAWING, "decommissioned"),
        (IntentState.WITHDRAWN, "withdrawn"),
        (IntentState.ACCEPTED, "created"),
    ]
    assert [t.state for t in store.transitions("i", limit=2)] == [
        IntentState.WITHDRAWN,
        IntentState.ACCEPTED,
    ]


def test_state_writes_skip_intents_that_moved_on(opener: tuple[str, Opener, FakeClock]) -> None:
    _, open_one, _ = opener
    store = open_one()
    store.apply_intents([make("a"), make("b"), make("c")])
    read = {r.name: r.version for r in store.list_intents()}
    store.put_intent(make("b", bandwidth="3M"))  # acknowledged after the round read
    store.delete_intent("c")
    stale = store.set_states(
        [(n, IntentState.INSTALLED, "installed") for n in "abc"], versions=read
    )
    assert stale == ["b", "c"]
    states = {r.name: r.state for r in store.list_intents()}
    assert states == {
        "a": IntentState.INSTALLED,
        "b": IntentState.ACCEPTED,
        "c": IntentState.WITHDRAWING,
    }
    read = {r.name: r.version for r in store.list_intents()}
    moved = store.set_states_from(
        [
            ("a", IntentState.INSTALLED, IntentState.VERIFIED, "read back"),
            ("b", IntentState.INSTALLED, IntentState.VERIFIED, "read back"),
        ],
        versions=read,
    )
    assert moved == ["a"]
    assert store.get_intent("a").state is IntentState.VERIFIED
    assert store.get_intent("a").version == 1  # state writes never bump the version
    store.mark_moved(["a"])
    assert store.get_intent("a").moved_at is not None and store.get_intent("b").moved_at is None


def _network() -> tuple[dict[str, object], dict[str, object], list[Intent]]:
    topo = small_wan()
    intents = [make("v", service_class="voice"), make("o", src="HQ", dst="DC2")]
    placed = place(topo, [to_path_request(i, lambda ep, _: ep.node or "") for i in intents])
    items = [CompileItem(i, placed.placed[i.name], 1000 + 2 * k) for k, i in enumerate(intents)]
    return dict(compile_network(topo, items)), dict(placed.placed), intents


def test_revisions_install_atomically(opener: tuple[str, Opener, FakeClock]) -> None:
    _, open_one, _ = opener
    store = open_one()
    configs, placements, intents = _network()
    store.apply_intents(intents)
    first = store.begin_revision(configs, {"added": 2}, "startup", "tx-1")  # type: ignore[arg-type]
    assert store.revisions()[0]["status"] == "pending"
    assert store.recover() == [first] and store.recover() == []  # a crash left it pending
    assert store.installed_configs() == {}
    second = store.begin_revision(configs, {"added": 2}, "retry", "tx-2")  # type: ignore[arg-type]
    assert second > first
    versions = {r.name: r.version for r in store.list_intents()}
    store.finish_revision(
        second,
        True,
        placements=placements,  # type: ignore[arg-type]
        states=[(i.name, IntentState.INSTALLED, "installed") for i in intents],
        versions=versions,
    )
    assert store.installed_configs() == configs
    assert store.installed_revisions() == dict.fromkeys(configs, second)
    assert store.placements() == dict(sorted(placements.items()))
    assert {r.state for r in store.list_intents()} == {IntentState.INSTALLED}
    failed = store.begin_revision({"P1": configs["P1"]}, {}, "bad", "tx-3")  # type: ignore[dict-item]
    store.finish_revision(failed, False, "device P1 refused")
    assert store.installed_revisions()["P1"] == second  # a failed revision installs nothing
    listed = store.revisions()
    assert [(r["id"], r["status"]) for r in listed] == [
        (failed, "failed"),
        (second, "committed"),
        (first, "aborted"),
    ]
    assert listed[0]["error"] == "device P1 refused" and listed[1]["diff"] == {"added": 2}
    detail = store.revision(second)
    assert detail["txid"] == "tx-2" and set(detail["configs"]) == set(configs)
    with pytest.raises(NotFoundError):
        store.revision(999)
    store.save_placements({"v": None})
    assert set(store.placements()) == {"o"}
    assert store.check() == []


def test_reopened_store_keeps_everything(opener: tuple[str, Opener, FakeClock]) -> None:
    _, open_one, _ = opener
    store = open_one()
    store.put_intent(make(), why="first")
    store.set_meta("topology", "bank-wan")
    store.audit("engine", "avoid-fault", "P1-P2", "risk 0.9")
    store.close()
    again = open_one()
    assert again.meta("topology") == "bank-wan" and again.meta("nothing") is None
    assert again.get_intent("i").version == 1
    assert again.audit_log()[0]["action"] == "avoid-fault"
    assert again.check() == []


def _bump(store: IntentStore, times: int, done: list[int]) -> None:
    """Read-modify-write with If-Match, retrying on 409: every success is one increment."""
    for _ in range(times):
        while True:
            record = store.get_intent("counter")
            n = int(record.intent.bandwidth) + 1
            try:
                store.put_intent(make("counter", bandwidth=str(n)), record.version)
            except ConflictError:
                continue
            done.append(n)
            break


def test_two_replicas_racing_lose_no_update(opener: tuple[str, Opener, FakeClock]) -> None:
    """Two stores on the same data (two replicas) and three threads each: compare-and-set on
    the version lets exactly one writer win each step, so no increment is lost."""
    _, open_one, _ = opener
    replicas = [open_one(), open_one()]
    replicas[0].put_intent(make("counter", bandwidth="1"))
    done: list[int] = []
    threads = [threading.Thread(target=_bump, args=(replicas[k % 2], 5, done)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    final = replicas[1].get_intent("counter")
    assert sorted(done) == list(range(2, 32))  # each value won by exactly one writer
    assert final.version == 31 and final.intent.bandwidth == 31
    assert len(replicas[0].transitions("counter", limit=100)) == 31


def test_racing_creates_get_distinct_colors(opener: tuple[str, Opener, FakeClock]) -> None:
    _, open_one, _ = opener
    replicas = [open_one(), open_one()]
    errors: list[Exception] = []

    def create(k: int) -> None:
        try:
            replicas[k % 2].put_intent(make(f"n{k}"), create_only=True)
        except Exception as error:  # collected: a thread's failure must fail the test
            errors.append(error)

    threads = [threading.Thread(target=create, args=(k,)) for k in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    colors = sorted(r.color for r in replicas[0].list_intents())
    assert colors == list(range(1000, 1024, 2))
    with pytest.raises(ConflictError):
        replicas[1].put_intent(make("n3"), create_only=True)


def _corrupt(backend: str, store: IntentStore, tmp_path: Path) -> None:
    """Store a spec this netpilot refuses (a latency of 0), as an older netpilot did."""
    bad = json.dumps({"src": "HQ", "dst": "DC2", "sla": {"max_latency": 0.0}}, sort_keys=True)
    if isinstance(store, Store):
        store._db.execute("UPDATE intents SET spec=? WHERE name='old'", (bad,))
        return
    assert isinstance(store, EtcdStore)
    key = store.keys.intent("old")
    kv = store.client.get(key)
    assert kv is not None
    store.client.put(key, json.dumps({**json.loads(kv.value), "spec": bad}))


def test_a_refused_stored_spec_is_set_aside(
    opener: tuple[str, Opener, FakeClock], tmp_path: Path
) -> None:
    backend, open_one, _ = opener
    store = open_one()
    store.put_intent(make("ok"))
    store.put_intent(make("old", src="HQ", dst="DC2", sla={"max_latency": 0.02}))
    _corrupt(backend, store, tmp_path)
    store.close()
    again = open_one()
    assert [r.name for r in again.list_intents()] == ["ok"]
    assert again.find_intent("old") is None
    [last] = [t for t in again.transitions("old") if t.state is IntentState.WITHDRAWN]
    assert "no longer valid (sla.max_latency" in last.reason
    assert [e["target"] for e in again.audit_log() if e["action"] == "set-aside"] == ["old"]
    record, changed = again.put_intent(make("old", src="HQ", dst="DC2"))
    assert changed and record.state is IntentState.ACCEPTED and record.version == 3
