"""bench/incidents.py judges each cut from the network's ground truth and the controller's
incidents (the live run itself is tests/test_incident_live.py; the bench's figures are not
judged here)."""

from __future__ import annotations

from typing import Any

from bench.incidents import cut_events, cut_times, judge, summary


def incident(iid: str, first: float, identified: float, located: float | None,
             name: str = "conduit-dc1-dc2") -> dict[str, Any]:  # fmt: skip
    links = ["DC1-DC2-a", "DC1-DC2-b"]
    return {
        "id": iid, "root_cause": {"kind": "srlg", "name": name}, "first_seen": first,
        "identified_at": identified, "located_at": located, "links": links, "reopened": 0,
        "revisions": 0,
        "evidence": [{"at": first, "kind": "link_down", "subject": link} for link in links],
    }  # fmt: skip


def test_each_cut_is_matched_with_the_incidents_that_followed_it() -> None:
    events = cut_events(2, 100.0, 50.0, 25.0)
    assert [(e["link"], e["at"], e["until"]) for e in events[:2]] == [
        ("DC1-DC2-a", "100s", "125s"), ("DC1-DC2-b", "100s", "125s"),
    ]  # fmt: skip
    truth = [
        {"kind": "link_down", "link": "DC1-DC2-a", "wall": 10.0},
        {"kind": "link_down", "link": "DC1-DC2-b", "wall": 10.0},
        {"kind": "link_down", "link": "BR1-P-SH", "wall": 11.0},
        {"kind": "link_up", "link": "DC1-DC2-a", "wall": 15.0},
        {"kind": "link_up", "link": "DC1-DC2-b", "wall": 15.0},
        {"kind": "link_down", "link": "DC1-DC2-b", "wall": 20.0},
        {"kind": "link_down", "link": "DC1-DC2-a", "wall": 20.0},
    ]
    cuts = cut_times(truth)
    assert cuts == [10.0, 20.0]
    rows = judge(cuts, [incident("inc-1", 10.2, 10.2, 11.3), incident("inc-2", 20.1, 20.1, 21.2),
                        incident("inc-3", 20.3, 20.3, None, name="other")])  # fmt: skip
    assert [r["incidents"] for r in rows] == [1, 2]
    assert round(rows[0]["identify_s"], 3) == 0.2 and round(rows[0]["locate_s"], 3) == 1.3
    result = summary(rows)
    assert result["one_incident_naming_the_srlg"] == 1 and not result["goal_met"]
    assert summary(rows[:1])["goal_met"]
