"""`netpilot report`: PNG plots in an HTML page."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli import main

SCENARIO = Path(__file__).resolve().parent.parent / "harness" / "scenarios" / "geant-fibre-cut.yaml"


def test_report_writes_pngs_and_html(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report"
    with pytest.raises(SystemExit) as done:
        main(
            [
                "report",
                "--out",
                str(out),
                "--traffic",
                "geant",
                "--scenario",
                str(SCENARIO),
                "--until",
                "80m",
                "--step",
                "2m",
                "--json",
            ]
        )
    assert done.value.code in (0, None)
    data = json.loads(capsys.readouterr().out)
    names = {Path(f).name for f in data["files"]}
    assert names == {"index.html", "utilisation.png", "sla.png", "forecast.png"}
    for png in ("utilisation.png", "sla.png", "forecast.png"):
        head = (out / png).read_bytes()[:8]
        assert head == b"\x89PNG\r\n\x1a\n" and (out / png).stat().st_size > 5000
    page = (out / "index.html").read_text()
    assert all(f'src="{p}"' in page for p in ("utilisation.png", "sla.png", "forecast.png"))
    assert "link_down 0-2" in page and "Holt" in page
