"""docs/branches.md: every command it shows, run exactly as written, says what the doc says."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

from tests.cli_inprocess import ROOT, run_cli

DOC = (ROOT / "docs" / "branches.md").read_text()


def commands() -> list[str]:
    """The lines of plain fenced blocks (not yaml) that start with `netpilot`."""
    shown, fence = [], None
    for line in DOC.splitlines():
        if line.startswith("```"):
            fence = None if fence is not None else line[3:]
        elif fence == "" and line.startswith("netpilot"):
            shown.append(line)
    return shown


def test_every_command_in_the_doc_runs_as_written(tmp_path: Path) -> None:
    (tmp_path / "topologies").symlink_to(ROOT / "topologies")
    shown = commands()
    assert len(shown) == 5
    answers = [run_cli(*shlex.split(line)[1:], cwd=tmp_path) for line in shown]
    office, office_5g, voice, plan, bad = answers
    assert [a.returncode for a in answers] == [0, 0, 0, 0, 1], [a.stderr for a in answers]
    assert "BR1-INET-GW-DC1" in office.stdout and "uplink tier: internet" in office.stdout
    assert "BR1-5G-GW-DC1" in office_5g.stdout and "uplink tier: 5g" in office_5g.stdout
    answer = json.loads(voice.stdout)
    assert answer["tier"] == "mpls-vpn" and answer["primary"]["nodes"] == ["BR1", "VPN-PE1", "DC1"]
    for name in ("br1-dc1-voice", "br2-dc1-office-shared", "br4-dc2-video-vpn-only"):
        assert name in plan.stdout
    assert (
        "uplinks: the intent's office policy at site BR1: no allowed transport left" in bad.stderr
    )
    assert "Traceback" not in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    listed = run_cli("intent", "list", "--db", "branches.db", "--json", cwd=tmp_path)
    assert json.loads(listed.stdout) == []  # nothing stored, nothing installed
