"""`netpilot topo ...` and `netpilot demo` as users run them: exit codes, one clear line, JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema_rs
import pytest
import yaml

import cli
from commands import common
from commands.topo import schema_text
from topologies.loader import load, load_file

ROOT = Path(__file__).resolve().parent.parent


def netpilot(
    *args: str, cwd: Path = ROOT, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "120"},
        timeout=timeout,
        check=False,
    )


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """In-process `netpilot ARGS` (faster than a subprocess): exit code, stdout, stderr."""
    try:
        cli.main(list(args))
        code = 0
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else 1
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_show_cogentco_json_reports_its_197_nodes() -> None:
    result = netpilot("topo", "show", "zoo:Cogentco", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["nodes"] == 197 and data["links"] == 245
    assert data["directed_links"] == 490 and data["connected"] is True
    assert data["diameter_hops"] > 0 and data["diameter_s"] > 0
    assert any("no coordinates" in w for w in data["warnings"])


def test_show_for_people(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(common.console, "width", 160)
    code, out, _ = run(capsys, "topo", "show", "bank-wan", "--limit", "0")
    assert code == 0
    for text in ("Topology bank-wan", "edge connectivity", "Routers", "DC1", "BR6", "Links"):
        assert text in out
    assert "DC1-DC2-a" in out and "conduit-dc1-dc2" in out
    code, out, _ = run(capsys, "topo", "show", "zoo:Kdl", "--limit", "5")
    assert code == 0 and "749 more; use --limit 0" in out


BAD_YAML = "name: x\nnodes:\n  - {name: A\n"
UNKNOWN_NODE = "name: x\nnodes: [{name: A}]\nlinks: [{a: A, b: Z, capacity: 1G, delay: 1ms}]\n"
NEGATIVE = (
    "name: x\nnodes: [{name: A}, {name: B}]\nlinks: [{a: A, b: B, capacity: -1G, delay: 1ms}]\n"
)


@pytest.mark.parametrize(
    ("args", "content", "code", "message"),
    [
        (["show", "{f}"], BAD_YAML, 1, "YAML syntax error"),
        (["show", "{f}"], UNKNOWN_NODE, 1, "unknown node 'Z'"),
        (["show", "{f}"], NEGATIVE, 1, "capacity: must be more than zero"),
        (["show", "missing.yaml"], None, 2, "file not found: missing.yaml"),
        (["show", "zoo:Cogentko"], None, 2, "did you mean zoo:Cogentco"),
        (["show", "bank-lan"], None, 2, "unknown topology 'bank-lan'"),
        (["show", "ring:2"], None, 2, "ring size must be at least 3"),
        (["export", "ring:3", "--format", "png"], None, 2, "unknown export format"),
    ],
)
def test_bad_input_gives_one_clear_line(
    args: list[str], content: str | None, code: int, message: str, tmp_path: Path
) -> None:
    path = tmp_path / "t.yaml"
    if content is not None:
        path.write_text(content)
    result = netpilot("topo", *[a.replace("{f}", str(path)) for a in args], cwd=tmp_path)
    assert result.returncode == code
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]


def test_validate_exit_codes_and_every_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "topo", "validate", str(ROOT / "topologies" / "bank-wan.yaml"))[0] == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: x\nnodes: [{name: A}, {name: B, colour: red}]\n"
        "links: [{a: A, b: B, capacity: -1G, delay: 1ms}, {a: A, b: B, id: two}]\n"
    )
    code, _, err = run(capsys, "topo", "validate", str(bad))
    assert code == 1 and "3 problems" in err
    for text in ("colour: unknown field", "must be more than zero", "capacity: required field"):
        assert text in err
    code, out, _ = run(capsys, "topo", "validate", str(bad), "--json")
    as_json = json.loads(out)
    assert code == 1 and as_json["valid"] is False and len(as_json["problems"]) == 3
    code, _, err = run(capsys, "topo", "validate", str(tmp_path / "nope.yaml"))
    assert code == 2 and "file not found" in err


@pytest.mark.parametrize("fmt", ["yaml", "json", "gml", "dot"])
def test_export_to_a_file(fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / f"dc.{fmt}"
    code, _, err = run(capsys, "topo", "export", "dc-fabric", "--format", fmt, "--out", str(out))
    assert code == 0 and f"wrote {out}" in err
    if fmt == "dot":
        assert out.read_text().startswith('graph "dc-fabric"')
        return
    again = load_file(out)
    original = load("dc-fabric")
    assert set(again.links) == set(original.links)
    assert list(again.nodes.values()) == list(original.nodes.values())


def test_export_to_stdout_reloads(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "topo", "export", "zoo:Abilene", "--format", "yaml")
    assert code == 0
    doc = yaml.safe_load(out)
    assert doc["name"] == "Abilene" and len(doc["nodes"]) == 11


def test_schema_file_is_in_sync_and_validates_bundled_files() -> None:
    on_disk = (ROOT / "docs" / "topology.schema.json").read_text()
    assert on_disk == schema_text(), "run: netpilot topo schema --out docs/topology.schema.json"
    validator = jsonschema_rs.validator_for(json.loads(on_disk))
    for name in ("bank-wan", "dc-fabric"):
        assert validator.is_valid(
            yaml.safe_load((ROOT / "topologies" / f"{name}.yaml").read_text())
        )
    assert not validator.is_valid({"name": "x", "nodes": [{"name": "A", "colour": "red"}]})
    assert not validator.is_valid({"name": "x", "nodes": [{"name": "A"}], "links": [{"a": "A"}]})


def test_help_has_examples(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("show", "validate", "export", "schema", "list"):
        code, out, _ = run(capsys, "topo", command, "--help")
        assert code == 0 and f"netpilot topo {command}" in out


def test_demo_exits_zero_and_shows_the_bank_wan() -> None:
    result = netpilot("demo", "--topology-only")
    assert result.returncode == 0, result.stderr
    assert "bank-wan" in result.stdout and "private-line" in result.stdout
    data = json.loads(netpilot("demo", "--topology-only", "--json").stdout)
    assert data["topology"]["nodes"] == 16
    assert set(data["media"]) >= {"private-line", "mpls-vpn", "internet"}
    assert all(len(ups) == 3 for ups in data["branch_uplinks"].values())
    assert sorted(data["branch_uplinks"]) == [f"BR{i}" for i in range(1, 7)]


def test_list_names_every_loadable_topology(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "topo", "list", "--json")
    names = json.loads(out)
    assert code == 0 and len(names["zoo"]) == 276 and "bank-wan" in names["bundled"]
    assert names["teal"] == ["teal:B4", "teal:Kdl", "teal:UsCarrier"]
    for kind in ("bundled", "teal", "geant", "facebook"):
        for spec in names[kind]:
            assert load(spec).nodes
    code, out, _ = run(capsys, "topo", "list")
    assert code == 0 and "zoo:Abilene" in out
