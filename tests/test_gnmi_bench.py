"""The gNMI benchmarks run, on tiny inputs, as documented (figures are not judged here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(*argv: str) -> dict:  # type: ignore[type-arg]
    done = subprocess.run(
        [sys.executable, *argv, "--json"],
        check=False, cwd=ROOT, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def test_scale_bench_streams_every_router() -> None:
    got = run("bench/gnmi_scale.py", "--routers", "3", "--interval", "0.5", "--duration", "1")
    assert got["routers"] == 3 and got["samples_sent"] >= 3
    assert got["samples_applied"] + got["dropped"] == got["samples_sent"]
    assert got["collector_cpu_s"] > 0 and len(got["machine"]["loadavg"]) == 3


def test_detect_bench_times_cuts_both_ways() -> None:
    got = run("bench/gnmi_detect.py", "--cuts", "1", "--poll", "0.5")
    assert got["cuts"] == 1
    for key in ("stream_rx", "stream_event", "stream_commit", "poll_event"):
        assert got[key]["n"] == 1, (key, got[key])
        assert 0 <= got[key]["p50_s"] <= got[key]["max_s"]
