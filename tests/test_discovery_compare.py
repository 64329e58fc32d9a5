"""The routers' word against the topology file (controller/discovery.py), on bank-wan: what is
confirmed, down, unverified, and each kind of mismatch; the graph the engine is given."""

from __future__ import annotations

from pathlib import Path

from controller.discovery import DeviceView, Neighbor, compare, merged
from controller.topology import LinkState, Topology
from tests.cli_inprocess import run_cli
from topologies.loader import load

BANK = load("bank-wan")


def views_of(topo: Topology, *, skip: frozenset[str] = frozenset()) -> dict[str, DeviceView]:
    """What routers matching `topo` report (LLDP on every link that is up)."""
    out = {}
    for name in topo.nodes:
        if name in skip:
            continue
        links = topo.out_links(name)
        out[name] = DeviceView(
            name,
            {lk.id: lk.is_up for lk in links},
            {lk.id: (Neighbor(lk.dst, lk.id),) for lk in links if lk.is_up},
            speeds={lk.id: lk.capacity_bps for lk in links},
        )
    return out


def test_routers_matching_the_file_confirm_every_link() -> None:
    diff = compare(BANK, views_of(BANK))
    assert diff.mismatches == ()
    assert diff.confirmed == len(BANK.physical_links()) and diff.down == 0
    assert merged(BANK, diff, views_of(BANK)) is BANK


def test_a_down_link_is_down_not_missing_and_a_silent_router_leaves_links_unverified() -> None:
    cut = BANK.with_link_state("BR1-P-SH", LinkState.DOWN)
    diff = compare(BANK, views_of(cut, skip=frozenset({"BR6", "P-BJ2"})))
    assert diff.mismatches == ()
    assert diff.down == 1
    assert diff.unverified == ("BR6-P-BJ2",)  # both of its routers are silent


def test_each_kind_of_mismatch_is_one_line() -> None:
    views = views_of(BANK)
    # a link the routers have and the file lacks, reported from both ends
    for a, b in (("P-SH", "DC2"), ("DC2", "P-SH")):
        v = views[a]
        views[a] = DeviceView(a, {**v.interfaces, "P-SH-DC2": True},
                              {**v.neighbors, "P-SH-DC2": (Neighbor(b, "P-SH-DC2"),)},
                              speeds={**v.speeds, "P-SH-DC2": 40e9})  # fmt: skip
    # a file link whose interface neither router has
    for name in ("HQ", "DC1"):
        v = views[name]
        views[name] = DeviceView(
            name,
            {k: s for k, s in v.interfaces.items() if k != "HQ-DC1-b"},
            {k: n for k, n in v.neighbors.items() if k != "HQ-DC1-b"},
        )
    # a router the file does not have, seen by P-GZ
    views["P-NEW"] = DeviceView("P-NEW", {"x": True}, {"x": (Neighbor("P-GZ", "y"),)})
    diff = compare(BANK, views)
    lines = [m.line() for m in diff.mismatches]
    assert lines == [
        "router-only: router P-NEW: reports 1 interfaces but is not in the topology file; "
        "neighbours P-GZ",
        "file-only: link HQ-DC1-b (DC1-HQ): in the topology file; DC1 has no interface "
        "HQ-DC1-b; HQ has no interface HQ-DC1-b",
        "routers-only: link P-GZ.y~P-NEW.x (P-GZ-P-NEW): P-NEW sees P-GZ (port y) on x; not in "
        "the topology file",
        "routers-only: link P-SH-DC2 (DC2-P-SH): DC2 sees P-SH (port P-SH-DC2) on P-SH-DC2; not "
        "in the topology file",
    ]
    graph = merged(BANK, diff, views)
    learned = [lk for lk in graph.links if lk.id == "P-SH-DC2"]
    assert {(lk.src, lk.dst) for lk in learned} == {("P-SH", "DC2"), ("DC2", "P-SH")}
    assert all(lk.capacity_bps == 40e9 and lk.medium == "learned" for lk in learned)
    assert all(not lk.is_up for lk in graph.links if lk.id == "HQ-DC1-b")
    assert not any("P-NEW" in lk.id for lk in graph.links)  # not routed over until in the file


def test_a_bad_extra_link_is_one_line(tmp_path: Path) -> None:
    for bad, says in (("P-SH", "give two routers as A:B"), ("P-SH:NOPE", "no router 'NOPE'")):
        done = run_cli("network", "run", "--topology", "bank-wan", "--inventory",
                       str(tmp_path / "inv.yaml"), "--add-link", bad)  # fmt: skip
        assert done.returncode == 2, done.stderr
        assert says in done.stderr and "Traceback" not in done.stderr
        assert not (tmp_path / "inv.yaml").exists()
