"""Data-plane verification: SRH packets walked hop by hop through the forwarding state."""

from __future__ import annotations

from scapy.layers.inet6 import IPv6ExtHdrSegmentRouting
from simnets import DIAMOND, topo

from controller.topology import LinkState
from harness.verify import build_packet, verify_path

# a-b-d costs 20, a-c-d costs 60: the IGP goes via b
WEIGHTED = [(a, b, c, d, 30 if "c" in (a, b) else 10) for a, b, c, d, _ in DIAMOND]


def test_packet_carries_the_segment_list_in_an_srh() -> None:
    t = topo("t", WEIGHTED)
    sids = [t.node("c").node_sid, t.node("d").node_sid]
    pkt = build_packet(t, "a", "d", sids)
    srh = pkt[IPv6ExtHdrSegmentRouting]
    assert list(srh.addresses) == list(reversed(sids))
    assert srh.segleft == 1
    assert pkt.dst == sids[0]


def test_node_sid_steers_off_the_igp_path_and_stays_on_the_intended_path() -> None:
    t = topo("t", WEIGHTED)
    intended = [("a", "c", "a-c"), ("c", "d", "c-d")]
    v = verify_path(t, "a", "d", [t.node("c").node_sid], intended=intended)
    assert v.ok, v
    (trace,) = v.traces
    assert [h.action for h in trace.hops] == ["forward", "End.DT6", "forward", "deliver"]
    assert trace.links == tuple(intended)


def test_adjacency_sid_forces_the_link() -> None:
    t = topo("t", WEIGHTED)
    adj = t.adjacency_sid(t.link(("a", "c", "a-c")))
    v = verify_path(t, "a", "d", [adj, t.node("d").node_sid])
    (trace,) = v.traces
    assert trace.links == (("a", "c", "a-c"), ("c", "d", "c-d"))
    assert "End.X" in [h.action for h in trace.hops]


def test_ecmp_branches_are_all_walked_and_a_stray_branch_is_flagged() -> None:
    t = topo("t", DIAMOND)  # equal metrics: a->d splits over b and c
    v = verify_path(
        t, "a", "d", [t.node("d").node_sid], intended=[("a", "b", "a-b"), ("b", "d", "b-d")]
    )
    assert len(v.traces) == 2
    assert sorted(tr.on_path for tr in v.traces) == [False, True]
    assert not v.ok
    assert any(tr.reason == "left the intended path" for tr in v.traces)


def test_a_down_link_on_the_intended_path_is_caught() -> None:
    t = topo("t", WEIGHTED).with_link_state("c-d", LinkState.DOWN)
    v = verify_path(
        t, "a", "d", [t.node("c").node_sid], intended=[("a", "c", "a-c"), ("c", "d", "c-d")]
    )
    assert not v.ok
    assert all(tr.delivered for tr in v.traces)  # delivered, but back via a and b
    assert v.traces[0].links[-1] == ("b", "d", "b-d")


def test_unknown_sid_is_dropped_with_a_reason() -> None:
    t = topo("t", WEIGHTED)
    v = verify_path(t, "a", "d", ["fcbb:bb00:99::1"])
    (trace,) = v.traces
    assert not trace.delivered and "no route" in trace.reason


def test_verify_cli_exit_codes(capsys) -> None:  # type: ignore[no-untyped-def]
    import json

    import pytest

    from cli import main

    with pytest.raises(SystemExit) as ok:
        main(
            [
                "verify",
                "--topology",
                "geant",
                "--from",
                "0",
                "--to",
                "9",
                "--via",
                "4",
                "--expect",
                "0,4,0,9",
                "--json",
            ]
        )
    assert ok.value.code in (0, None)
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] and data["sids"] == ["fcbb:bb00:5::1"]
    with pytest.raises(SystemExit) as strays:
        main(["verify", "--from", "0", "--to", "9", "--via", "4", "--expect", "0,9"])
    assert strays.value.code == 1
    with pytest.raises(SystemExit) as bad:
        main(["verify", "--from", "0", "--to", "9", "--expect", "0,5"])
    assert bad.value.code == 2
    assert "no link from '0' to '5'" in capsys.readouterr().err


def test_every_bank_wan_intent_installed_by_the_engine_stays_on_its_path(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    import json
    from pathlib import Path

    import pytest

    from cli import main

    root = Path(__file__).resolve().parent.parent
    db = str(tmp_path / "np.db")
    with pytest.raises(SystemExit):
        main(
            [
                "intent",
                "apply",
                "-f",
                str(root / "topologies" / "bank-wan.intents.yaml"),
                "--db",
                db,
                "--topology",
                "bank-wan",
                "--json",
            ]
        )
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["intent", "list", "--db", db, "--json"])
    rows = json.loads(capsys.readouterr().out)
    installed = [r["name"] for r in rows if r["state"] == "verified"]
    assert len(installed) >= 5
    for name in installed:
        with pytest.raises(SystemExit) as done:
            main(["verify", name, "--db", db, "--topology", "bank-wan", "--json"])
        data = json.loads(capsys.readouterr().out)
        assert done.value.code in (0, None), (name, data)
        assert data["ok"] and data["traces"]
