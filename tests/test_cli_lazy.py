"""The CLI loads only the command group it runs, and still lists every command when asked."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import cli

ROOT = Path(__file__).resolve().parents[1]


def _modules_loaded_by(command: str) -> set[str]:
    probe = f"import sys, cli; cli.build_app({command!r}); print(' '.join(sys.modules))"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=True
    )
    return set(done.stdout.split())


def test_controller_run_loads_no_simulator_and_no_other_group() -> None:
    loaded = _modules_loaded_by("controller")
    assert "commands.ctl" in loaded
    assert not {m for m in loaded if m.startswith(("harness", "scapy", "commands.demo"))}


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["controller", "run", "--port", "0"], "controller"),
        (["demo", "--json"], "demo"),
        (["--help"], None),
        ([], None),
        (["no-such-command"], None),
    ],
)
def test_the_group_is_chosen_from_the_first_argument(argv: list[str], named: str | None) -> None:
    assert cli._command_named(argv) == named


def test_help_and_a_wrong_name_list_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--help"], ["no-such-command"]):
        with pytest.raises(SystemExit):
            cli.main(argv)
        shown = capsys.readouterr()
        text = shown.out + shown.err
        if argv == ["--help"]:
            assert all(name in text for name in [*cli.GROUPS, *cli.COMMANDS])
        else:
            assert "No such command" in text and "no-such-command" in text
