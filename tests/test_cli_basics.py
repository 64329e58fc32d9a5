from __future__ import annotations

import subprocess
import sys


def test_help_lists_the_command_groups() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "cli", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for group in ("topo", "path", "intent", "controller", "devices", "model", "demo"):
        assert group in out
