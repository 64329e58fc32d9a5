"""`netpilot path compute` and `netpilot path optimize` on real data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pathing_data import matrices
from typer.testing import CliRunner

import cli

runner = CliRunner()


def _run_json(args: list[str]) -> dict:  # type: ignore[type-arg]
    result = runner.invoke(cli.app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_compute_prints_path_latency_hops_and_sids() -> None:
    out = _run_json(["path", "compute", "geant", "0", "1", "--bw", "1G"])
    primary = out["primary"]
    assert primary["nodes"][0] == "0" and primary["nodes"][-1] == "1"
    assert primary["hops"] == len(primary["links"]) and primary["sids"]
    assert out["backup"] is None


def test_compute_disjoint_node_backup() -> None:
    out = _run_json(["path", "compute", "zoo:Cogentco", "Paris", "Madrid", "--disjoint", "node"])
    inner = [set(out[r]["nodes"][1:-1]) for r in ("primary", "backup")]
    assert not inner[0] & inner[1] and out["shared_risks"] == []


def test_compute_human_table() -> None:
    result = runner.invoke(cli.app, ["path", "compute", "geant", "0", "1"])
    assert result.exit_code == 0 and "primary" in result.stdout


def test_compute_infeasible_latency_is_one_clear_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["path", "compute", "zoo:Cogentco", "Paris", "Madrid", "--max-latency", "1ms"])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert "no path from Paris to Madrid within 1 ms: best is" in err
    assert "Traceback" not in err


def test_bad_flags_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["path", "compute", "geant", "0", "1", "--objective", "cheapest"])
    assert exit_info.value.code == 2
    assert "--objective" in capsys.readouterr().err


def test_optimize_geant_lp_matches_opt_and_rounds(data: Path) -> None:
    _, opt = matrices("geant")
    out = _run_json(
        [
            "path",
            "optimize",
            "geant",
            "--tm",
            str(data / "geant/tm-5min.hist"),
            "--index",
            "3",
            "--tunnels",
            str(data / "geant/tunnels.txt"),
            "--granularity",
            "16",
        ]
    )
    assert set(out) >= {"mlu", "shortest_path_mlu", "seconds"}
    assert out["mlu"] == pytest.approx(opt[3], rel=1e-6)
    assert out["shortest_path_mlu"] >= out["mlu"]
    assert out["rounded_mlu"] >= out["mlu"] - 1e-12


def test_optimize_gravity_fast_on_uscarrier() -> None:
    out = _run_json(
        [
            "path",
            "optimize",
            "teal:UsCarrier",
            "--tm",
            "gravity",
            "--paths",
            "3",
            "--max-pairs",
            "200",
            "--method",
            "fast",
            "--time-budget",
            "2s",
        ]
    )
    assert out["shortest_path_mlu"] == pytest.approx(1.0)
    assert out["lower_bound"] <= out["mlu"] <= out["shortest_path_mlu"] + 1e-9
    assert out["pairs"] == 200
