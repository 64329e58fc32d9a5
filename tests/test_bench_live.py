"""The live-controller benchmarks (bench/live_*.py, figures in docs/BENCHMARKS.md) run end to
end with tiny arguments and their --json has the fields the docs quote. Their figures are not
asserted (a benchmark prints figures; timing asserts would only measure the machine)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from models.loop_models import LoopModels
from models.loop_models import save as save_models

pytestmark = pytest.mark.serial  # judged in real time: run alone, not beside other tests

ROOT = Path(__file__).resolve().parent.parent


def bench(script: str, *args: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *args, "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "Traceback" not in out.stderr
    result: dict[str, Any] = json.loads(out.stdout)
    assert result["machine"]["nproc"] >= 1 and result["machine"]["python"].startswith("3.")
    return result


def test_live_cut_measures_a_cut_from_outside() -> None:
    r = bench("live_cut.py", "--cuts", "1", "--speed", "5", "--interval", "2", "--first", "25")
    assert r["interval_s"] == 2 and r["goal_s"] == 4 and r["speed"] == 5
    [cut] = r["cuts"]
    assert cut["link"] == "BR1-P-SH" and "error" not in cut, cut
    # the branch's intents rode its private line, and all of them left it in one commit
    assert cut["intents_on_link"] and cut["off_link"] and not cut["still_on_link"]
    assert cut["committed"] and cut["moved"] >= 1
    assert cut["cause"].startswith("telemetry: ") and "reports BR1-P-SH down" in cut["cause"]
    assert set(cut["states_after"]) == set(cut["intents_on_link"])
    # detection comes after the cut, the commit after the detection
    assert 0 <= cut["detect_s"] <= cut["rectify_s"]
    assert cut["reaction_s"] == cut["rectify_s"] - cut["detect_s"]
    assert r["max_rectify_s"] == cut["rectify_s"] and isinstance(r["goal_met"], bool)
    assert r["telemetry"]["rounds"] >= 1


def test_live_telemetry_times_rounds_over_a_network_process() -> None:
    r = bench(
        "live_telemetry.py", "--routers", "20", "--workers", "4,64", "--rounds", "3",
        "--pause", "0.1", "--idle", "0.5",
    )  # fmt: skip
    [size] = r["sizes"]
    assert size["topology"] == "grid:4,5" and size["routers"] == 20
    assert size["interfaces"] == 2 * 31  # a 4 x 5 grid has 31 links, 2 interfaces each
    assert [run["workers"] for run in size["runs"]] == [4, 64]
    for run in size["runs"]:
        assert run["setup_answered"] == 20 and run["setup_errors"] == 0
        assert run["answered_min"] == run["answered_max"] == 20 and not run["errors"]
        assert 0 < run["p50_s"] <= run["p95_s"] <= run["max_s"]
        assert run["rounds"] == 3 and run["cpu_s_per_round_client"] > 0
        assert run["idle_cpu_percent_client"] >= 0 and run["client_threads"] > 2 * 20
    assert size["network_skipped_ticks"] is not None  # the network's summary was read
    assert r["tick_s"] == 1.0  # the controller's idle tick by default


def test_live_soak_samples_the_controller_process(tmp_path: Path, loop_models: LoopModels) -> None:
    models = tmp_path / "models"
    save_models(models, loop_models)
    r = bench("live_soak.py", "--minutes", "0.1", "--sample", "2", "--models", str(models))
    c = r["controller"]
    assert c["samples"] >= 3 and len(c["cpu_percent_windows"]) == c["samples"] - 1
    assert c["cpu_s_before_first_sample"] > 0 and c["cpu_percent_mean"] >= 0
    assert 0 < c["rss_mib_start"] <= c["rss_mib_max_sampled"] <= c["rss_mib_peak_vmhwm"]
    assert c["threads_end"] > 1 and c["fds_end"] > 0
    assert r["telemetry"]["rounds"] >= 1 and "trained" in r["telemetry"]["models"]
    assert r["engine"]["round_errors"] == 0 and r["engine"]["ready"] == 1
    assert r["models_trained_s"] is None  # given with --models, not trained
    assert r["intent_states"] and set(r["intent_states"]) <= {"installed", "verified", "accepted"}
