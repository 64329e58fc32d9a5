from __future__ import annotations

from pathlib import Path

import pytest

from controller.errors import NotFoundError, ValidationError
from topologies.datasets import read_opt, read_tm_hist, read_tunnels


def test_geant_matrices_opt_and_tunnels(data: Path) -> None:
    tms = read_tm_hist(data / "geant" / "tm-5min.hist")
    opt = read_opt(data / "geant" / "tm-5min.opt")
    tunnels = read_tunnels(data / "geant" / "tunnels.txt")
    assert tms.shape == (477, 22, 22)
    assert len(opt) == len(tms)
    assert tunnels[(0, 1)][0] == [0, 2, 6, 1]
    assert all(len(paths) == 3 for paths in tunnels.values())


def test_bad_files_name_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "x.hist"
    bad.write_text("1 2 3 4\n1 2 x 4\n")
    with pytest.raises(ValidationError, match="line 2"):
        read_tm_hist(bad)
    tun = tmp_path / "t.txt"
    tun.write_text("0 1:0-2-1\n0 2:0-3\n")
    with pytest.raises(ValidationError, match="line 2"):
        read_tunnels(tun)
    with pytest.raises(NotFoundError):
        read_opt(tmp_path / "missing.opt")
