"""The alarm correlator (controller/incident_correlator.py): many symptoms of one cause become
one incident naming it; independent faults stay apart. Pure: times are passed, nothing sleeps."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from controller.incident_causes import CauseIndex
from controller.incident_correlator import Correlator
from controller.incident_model import Symptom
from controller.topology import Link, Node, Topology
from topologies.loader import load

BANK = load("bank-wan")
P_SH = ["P-BJ1-P-SH", "P-BJ2-P-SH", "P-SH-P-WH", "P-SH-P-GZ", "BR1-P-SH"]


def card_topology() -> Topology:
    """R1 has two line cards: card:R1/0 carries R1-R2 and R1-R3, card:R1/1 carries R1-R4."""
    nodes = [Node(f"R{i}", i) for i in range(1, 5)]
    spec = [
        ("R1-R2", "R1", "R2", {"card:R1/0"}), ("R1-R3", "R1", "R3", {"card:R1/0"}),
        ("R1-R4", "R1", "R4", {"card:R1/1"}), ("R2-R3", "R2", "R3", set()),
        ("R3-R4", "R3", "R4", set()),
    ]  # fmt: skip
    links = [
        Link(lid, s, d, 1e10, 0.001, srlgs=frozenset(g))
        for lid, a, b, g in spec
        for s, d in ((a, b), (b, a))
    ]
    return Topology("cards", nodes, links)


def downs(links: list[str], at: float = 0.0, gap: float = 0.05) -> list[tuple[float, str, str]]:
    return [(at + i * gap, "link_down", link) for i, link in enumerate(links)]


def run(topo: Topology, events: list[tuple[float, str, str]], until: float) -> Correlator:
    correlator = Correlator(topo)
    for at, kind, subject in sorted(events):
        correlator.observe(Symptom(at, kind, subject))  # type: ignore[arg-type]
    correlator.tick(until)
    return correlator


def causes(correlator: Correlator) -> list[tuple[str, str, list[str]]]:
    out = []
    for inc in correlator.incidents():
        assert inc.root is not None, inc
        out.append((inc.root.kind, inc.root.name, sorted(inc.links)))
    return sorted(out)


CASES: list[tuple[str, Topology, list[tuple[float, str, str]], list[tuple[str, str, list[str]]]]]
CASES = [
    ("srlg cut: both conduit links, one incident", BANK, downs(["DC1-DC2-a", "DC1-DC2-b"]),
     [("srlg", "conduit-dc1-dc2", ["DC1-DC2-a", "DC1-DC2-b"])]),
    ("router failure: all of P-SH's links", BANK, downs(P_SH, gap=0.2),
     [("node", "P-SH", sorted(P_SH))]),
    ("line card: the links of card R1/0", card_topology(), downs(["R1-R3", "R1-R2"]),
     [("linecard", "card:R1/0", ["R1-R2", "R1-R3"])]),
    ("an unrelated single link", BANK, downs(["BR5-P-WH"]), [("link", "BR5-P-WH", ["BR5-P-WH"])]),
    ("one link of a duct is not the duct", BANK, downs(["P-BJ1-P-SH"]),
     [("link", "P-BJ1-P-SH", ["P-BJ1-P-SH"])]),
    ("two independent faults at once", BANK,
     downs(["DC1-DC2-a", "BR5-P-WH", "DC1-DC2-b"], gap=0.01),
     [("link", "BR5-P-WH", ["BR5-P-WH"]), ("srlg", "conduit-dc1-dc2", ["DC1-DC2-a", "DC1-DC2-b"])]),
    ("two independent faults sharing a router", BANK,
     downs(["P-BJ1-P-SH", "P-SH-P-GZ", "P-BJ2-P-SH"], gap=0.01),
     [("link", "P-SH-P-GZ", ["P-SH-P-GZ"]), ("srlg", "duct-jinghu", ["P-BJ1-P-SH", "P-BJ2-P-SH"])]),
    ("a router failing link by link, slower than the window", BANK,
     [(0.0, "link_down", P_SH[0]), (0.1, "link_down", P_SH[1]), (1.5, "link_down", P_SH[2]),
      (3.0, "link_down", P_SH[3]), (4.5, "link_down", P_SH[4])],
     [("node", "P-SH", sorted(P_SH))]),
    ("an unreachable router, no link down", BANK, [(0.0, "unreachable", "BR3")],
     [("node", "BR3", [])]),
    ("a loss alarm alone", BANK, [(0.0, "loss", "HQ-DC2-a")], [("link", "HQ-DC2-a", [])]),
]  # fmt: skip


@pytest.mark.parametrize(("topo", "events", "want"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])  # fmt: skip
def test_symptoms_become_incidents_naming_the_root_cause(
    topo: Topology, events: list[tuple[float, str, str]], want: list[Any]
) -> None:
    correlator = run(topo, events, until=20.0)
    assert causes(correlator) == want
    for inc in correlator.incidents():
        assert inc.located_at is not None and inc.located_at >= inc.identified_at
        assert inc.identified_at >= inc.first_seen
        assert inc.root is not None and inc.ranking[0].key == inc.root.key


def test_srlg_cut_evidence_times_and_resolution() -> None:
    correlator = Correlator(BANK)
    opened = correlator.observe(Symptom(10.0, "link_down", "DC1-DC2-a", detail="DC1 reports"))
    assert [c.what for c in opened] == ["opened"]
    miss = Symptom(10.02, "sla_miss", "dc1-dc2-sync", ("DC1-DC2-a",), "primary crossed it")
    correlator.observe(miss)
    correlator.observe(Symptom(10.05, "loss", "DC1-DC2-b"))  # BFD saw it before oper-status
    correlator.observe(Symptom(10.1, "link_down", "DC1-DC2-b"))
    assert [c.what for c in correlator.tick(10.5)] == []  # not settled yet
    located = correlator.tick(11.2)
    assert [c.what for c in located] == ["located"]
    (inc,) = correlator.incidents()
    assert inc.root is not None and (inc.root.kind, inc.root.name) == ("srlg", "conduit-dc1-dc2")
    assert inc.root.confidence == 1.0
    assert (inc.first_seen, inc.identified_at, inc.located_at) == (10.0, 10.0, 11.2)
    kinds = [(s.kind, s.subject) for s in inc.evidence]
    assert kinds == [("link_down", "DC1-DC2-a"), ("sla_miss", "dc1-dc2-sync"),
                     ("loss", "DC1-DC2-b"), ("link_down", "DC1-DC2-b")]  # fmt: skip
    correlator.observe(Symptom(30.0, "link_up", "DC1-DC2-a"))
    assert inc.state == "open"  # one link still down
    assert [c.what for c in correlator.observe(Symptom(31.0, "link_up", "DC1-DC2-b"))] == [
        "resolved"
    ]
    view = inc.to_dict()
    assert view["state"] == "resolved" and view["resolved_at"] == 31.0
    assert view["root_cause"]["members"] == ["DC1-DC2-a", "DC1-DC2-b"]
    assert view["links"] == ["DC1-DC2-a", "DC1-DC2-b"]


def test_an_sla_miss_before_its_cut_joins_the_incident() -> None:
    correlator = Correlator(BANK)
    correlator.observe(Symptom(5.0, "sla_miss", "br1-voice", ("BR1-P-SH", "P-SH-P-WH")))
    correlator.observe(Symptom(5.5, "link_down", "BR1-P-SH"))
    (inc,) = correlator.incidents()
    assert [s.kind for s in inc.evidence] == ["sla_miss", "link_down"]
    assert inc.first_seen == 5.0


def test_unknown_links_and_routers_are_counted_not_correlated() -> None:
    correlator = Correlator(BANK)
    correlator.observe(Symptom(1.0, "link_down", "no-such-link"))
    correlator.observe(Symptom(1.0, "unreachable", "no-such-router"))
    assert correlator.incidents() == [] and correlator.ignored == 2


def test_history_is_bounded() -> None:
    from controller.incident_correlator import CorrelatorConfig

    correlator = Correlator(BANK, CorrelatorConfig(history=3))
    for i in range(6):
        correlator.observe(Symptom(30.0 * i, "link_down", "BR5-P-WH"))
        correlator.observe(Symptom(30.0 * i + 5, "link_up", "BR5-P-WH"))
    kept = correlator.incidents()
    assert [i.id for i in kept] == ["inc-6", "inc-5", "inc-4"]
    assert all(i.state == "resolved" for i in kept)


# -- property: independent faults on random networks ---------------------------------------


@st.composite
def networks(draw: st.DrawFn) -> Topology:
    n = draw(st.integers(4, 9))
    nodes = [Node(f"N{i}", i + 1) for i in range(n)]
    pairs = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)),
                          min_size=n, max_size=3 * n))  # fmt: skip
    links = []
    for k, (a, b) in enumerate(pairs):
        if a == b:
            continue
        groups = draw(st.sets(st.sampled_from(["duct-x", "duct-y", "duct-z", f"card:N{a}/0"]),
                              max_size=2))  # fmt: skip
        for s, d in ((a, b), (b, a)):
            links.append(Link(f"L{k}", f"N{s}", f"N{d}", 1e9, 0.001, srlgs=frozenset(groups)))
    assume(links)
    return Topology("random", nodes, links)


@given(topo=networks(), data=st.data())
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_unrelated_faults_give_one_incident_each_naming_what_failed(
    topo: Topology, data: st.DataObject
) -> None:
    """Pick candidates (SRLG, card, router, link) that share no link, router or SRLG; fail all
    their links in a shuffled, interleaved order: one incident per fault, each naming a cause
    that takes down exactly the fault's links."""
    index = CauseIndex(topo)
    pool = sorted(index.candidates.values(), key=lambda c: (c.kind, c.name))
    pool += [index.link(link) for link in sorted(index.ends)]
    chosen: list[frozenset[str]] = []
    for cand in data.draw(st.permutations(pool))[: data.draw(st.integers(1, 3))]:
        if all(not _related(index, cand.members, other) for other in chosen):
            chosen.append(cand.members)
    events = []
    for members in chosen:
        for link in members:
            events.append((data.draw(st.floats(0.0, 0.8)), "link_down", link))
    correlator = run(topo, events, until=30.0)
    got = sorted(sorted(i.links) for i in correlator.incidents())
    assert got == sorted(sorted(m) for m in chosen)
    for inc in correlator.incidents():
        assert inc.root is not None and inc.root.members == frozenset(inc.links)


def _related(index: CauseIndex, a: frozenset[str], b: frozenset[str]) -> bool:
    return any(index.related(link, b) for link in a) or bool(a & b)


def test_a_late_report_completing_the_srlg_relocates_the_incident() -> None:
    """Polled signals reach the engine one reconcile at a time: the second link of a cut duct
    may be heard seconds after the first was located as a link on its own."""
    correlator = Correlator(BANK)
    correlator.observe(Symptom(0.0, "link_down", "DC1-DC2-a"))
    assert [c.what for c in correlator.tick(1.5)] == ["located"]
    changes = correlator.observe(Symptom(3.7, "link_down", "DC1-DC2-b"))
    assert [c.what for c in changes] == ["relocated"]
    (inc,) = correlator.incidents()
    assert inc.root is not None and inc.root.name == "conduit-dc1-dc2"
    assert (inc.located_at, inc.revisions) == (3.7, 1)


def test_a_link_down_again_soon_after_the_repair_reopens_the_incident() -> None:
    """A flap, or the cut's polled report reaching the engine after the streamed repair."""
    correlator = Correlator(BANK)
    for link in ("DC1-DC2-a", "DC1-DC2-b"):
        correlator.observe(Symptom(0.0, "link_down", link))
    for link in ("DC1-DC2-a", "DC1-DC2-b"):
        correlator.observe(Symptom(5.0, "link_up", link))
    changes = correlator.observe(Symptom(5.4, "link_down", "DC1-DC2-a"))
    assert [c.what for c in changes] == ["reopened"]
    (inc,) = correlator.incidents()
    assert (inc.id, inc.state, inc.reopened, inc.resolved_at) == ("inc-1", "open", 1, None)
    correlator.observe(Symptom(8.0, "link_up", "DC1-DC2-a"))
    assert correlator.observe(Symptom(30.0, "link_down", "DC1-DC2-a"))[0].what == "opened"
