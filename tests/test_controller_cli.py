"""`netpilot controller run`: bad flags, files and environment fail at start with one line naming
what to fix (no traceback), before anything listens."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_topo_cli import ROOT, run


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--models", "{tmp}/nope"], "--models"),
        (["--interval", "0"], "--interval (or NETPILOT_TELEMETRY_INTERVAL)"),
        (["--drift", "sometimes"], "--drift (or NETPILOT_DRIFT)"),
        (["--improvement", "1.5"], "--improvement"),
        (["--listen", "nowhere"], "--listen"),
        (["--inventory", "{tmp}/missing.yaml"], "missing.yaml"),
    ],
)
def test_bad_settings_fail_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], expected: str
) -> None:
    args = [a.format(tmp=tmp_path) for a in extra]
    code, _, err = run(capsys, "controller", "run", "--topology", "bank-wan",
                       "--db", str(tmp_path / "db"), *args)  # fmt: skip
    assert code == 2, err
    assert expected in err and "Traceback" not in err
    assert len(err.strip().splitlines()) <= 3, err


def _run_with_env(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", "controller", "run", *args],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        cwd=ROOT, timeout=60, check=False,
    )  # fmt: skip


def test_environment_stands_in_for_flags(tmp_path: Path) -> None:
    env = {"NETPILOT_TELEMETRY_INTERVAL": "-1", "NETPILOT_TOPOLOGY": "bank-wan",
           "NETPILOT_DB": str(tmp_path / "db")}  # fmt: skip
    result = _run_with_env(env)
    assert result.returncode == 2 and "NETPILOT_TELEMETRY_INTERVAL" in result.stderr


def test_unknown_failpoint_is_refused(tmp_path: Path) -> None:
    env = {"NETPILOT_FAILPOINTS": "engine-crash=1"}
    result = _run_with_env(env, "--topology", "bank-wan", "--db", str(tmp_path / "db"))
    assert result.returncode == 2 and "unknown failpoint 'engine-crash'" in result.stderr


def test_premove_periods_flag_wraps_the_link_models_and_says_so(tmp_path: Path) -> None:
    from controller.runtime.assemble import build
    from controller.runtime.settings import make_settings
    from telemetry.linkmodels import PeriodLinkModels

    settings = make_settings(topology="ring:4", db=tmp_path / "db", premove_periods=True)
    runtime = build(settings, env={})
    try:
        assert isinstance(runtime.models, PeriodLinkModels)
        line = next(x for x in runtime.startup_lines() if x.startswith("models:"))
        assert "--premove-periods" in line and "900s before a busy period" in line
    finally:
        asyncio.run(runtime.stop())
    off = build(make_settings(topology="ring:4", db=tmp_path / "db2"), env={})
    try:
        assert not isinstance(off.models, PeriodLinkModels)
    finally:
        asyncio.run(off.stop())
