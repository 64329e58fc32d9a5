"""bench/robust_forecast_replay.py, as docs/ML.md shows it: the loop's forecast avoidances with
and without `--robust-forecast`, replayed on GEANT's measured traffic."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_replay_counts_both_modes_consistently() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "robust_forecast_replay.py"), "--json"],
        capture_output=True, text=True, check=False, timeout=300, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["rounds"] == 477 - 333 and out["links"] > 60
    modes = out["modes"]
    assert set(modes) == {"forecast", "robust"}
    assert set(modes["forecast"]["started_by_member"]) == {"forecast"}
    for m in modes.values():
        assert sum(m["started_by_member"].values()) == m["avoidances_started"] > 0
        assert 0 < m["hot_avoided_before"] <= m["hot_link_rounds"]
        assert m["link_rounds_avoided"] <= out["links"] * out["rounds"]
    # the same traffic in both modes; the robust set holds the forecast: it acts at least as much
    assert modes["forecast"]["hot_link_rounds"] == modes["robust"]["hot_link_rounds"]
    assert modes["robust"]["link_rounds_avoided"] >= modes["forecast"]["link_rounds_avoided"]


def test_replay_rejects_a_bad_flag() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "robust_forecast_replay.py"), "--peak", "0"],
        capture_output=True, text=True, check=False, timeout=60, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 2 and "--peak" in done.stderr and "Traceback" not in done.stderr
