"""Run `netpilot ARGS` inside the test process (about 2.5 s faster than a subprocess each, most
of it the interpreter and imports), with the answer shaped like `subprocess.run`'s.

For user-error paths: exit code, stdout and stderr are what a real process would show (typer's
exit codes, rich's output to sys.stdout/sys.stderr). An exception that escapes the CLI is
rendered as a traceback on stderr with exit 1, as Python would, so "no traceback" checks hold.
Each file keeps at least one real subprocess test next to these (`run_process`)."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import traceback
from collections.abc import Iterator, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def _environment(extra: Mapping[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in extra}
    os.environ.update(extra)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run_cli(
    *args: str, cwd: Path = ROOT, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    import cli

    out, err = io.StringIO(), io.StringIO()
    code: int = 0
    with (
        _environment({"COLUMNS": "250", **(env or {})}),
        contextlib.chdir(cwd),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        try:
            cli.main(list(args))
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
        except Exception:
            traceback.print_exc()
            code = 1
    return subprocess.CompletedProcess(["netpilot", *args], code, out.getvalue(), err.getvalue())


def run_process(
    *args: str, cwd: Path = ROOT, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`netpilot ARGS` as a real process (`python -m cli`), same answer shape as `run_cli`."""
    full = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "250", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        capture_output=True, text=True, env=full, cwd=cwd, timeout=120, check=False,
    )  # fmt: skip
