"""Name resolution in `topologies.loader.load`."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from controller.errors import NotFoundError, UsageError
from topologies.loader import bundled_names, load


def test_bundled_names() -> None:
    assert {"bank-wan", "dc-fabric"} <= set(bundled_names())
    assert load("bank-wan").name == "bank-wan"
    assert load("dc-fabric").name == "dc-fabric"


def test_unknown_bundled_name_suggests() -> None:
    with pytest.raises(NotFoundError, match=r"unknown topology 'bank-wam' \(did you mean bank-wan"):
        load("bank-wam")


def test_file_by_extension(tmp_path: Path, data: Path) -> None:
    gml = tmp_path / "a.GML"
    shutil.copy(data / "topology-zoo" / "Abilene.gml", gml)
    assert len(load(str(gml)).nodes) == 11
    js = tmp_path / "g.json"
    shutil.copy(data / "geant" / "topology.json", js)
    assert len(load(str(js)).nodes) == 22
    other = tmp_path / "t.txt"
    other.write_text("x")
    with pytest.raises(UsageError, match=r"unknown topology file type '\.txt'"):
        load(str(other))


def test_data_dir_from_environment(
    tmp_path: Path, data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "topology-zoo").mkdir()
    shutil.copy(data / "topology-zoo" / "Abilene.gml", tmp_path / "topology-zoo" / "Mine.gml")
    monkeypatch.setenv("NETPILOT_DATA", str(tmp_path))
    assert len(load("zoo:mine").nodes) == 11
    with pytest.raises(NotFoundError, match="unknown zoo topology 'Abilene'"):
        load("zoo:Abilene")


@pytest.mark.parametrize(
    ("spec", "error", "message"),
    [
        ("", UsageError, "empty topology name"),
        ("ring:2", UsageError, "ring size must be at least 3"),
        ("ring:x", UsageError, "use ring:N"),
        ("grid:3", UsageError, "use grid:ROWS,COLS"),
        ("fat-tree:3", UsageError, "even number"),
        ("fat-tree:1000", UsageError, "too large"),
        ("leaf-spine:0,4", UsageError, "spines must be at least 1"),
        ("zoo:", NotFoundError, "unknown zoo topology"),
        ("facebook:pod_z", NotFoundError, "did you mean facebook:pod_b, facebook:pod_a"),
        ("missing.yaml", NotFoundError, "file not found: missing.yaml"),
    ],
)
def test_bad_specs(spec: str, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        load(spec)


def test_a_directory_is_not_a_topology(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="is a directory; give a topology file"):
        load(str(tmp_path))


def test_a_path_object(data: Path, tmp_path: Path) -> None:
    assert len(load(data / "geant" / "topology.json").nodes) == 22
    with pytest.raises(NotFoundError, match="file not found"):
        load(tmp_path / "nope.gml")
