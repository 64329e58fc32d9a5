"""A broken secrets or inventory file never shows a password (issue 13): the error names the file,
the line and column and what is wrong, never the offending line or a value. Run through the real
CLI (`devices list --secrets`, `controller run --secrets`) and PyYAML's pure-Python parser, whose
messages quote more than libyaml's."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from commands.ports import listen_port
from controller.textfile import yaml_problem
from tests.cli_inprocess import run_cli, run_process

ROOT = Path(__file__).parent.parent
PASSWORD = "Hunter2-S3cret"
HK = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA"

BROKEN = [
    (f'devices:\n  r1: {{username: ops, password: "{PASSWORD}\n  r2: {{username: x}}\n',
     "line 4, column 1: found unexpected end of stream (while scanning a quoted scalar at line 2, "
     "column 33)"),
    (f"devices:\n  r1: {{username: ops, password: {PASSWORD}}}}}\n",
     "line 2, column 48: did not find expected key"),
    (f"devices:\n  r1: {{username: ops, password: *{PASSWORD}}}\n",
     "line 2, column 33: found undefined alias"),
    (f"devices:\n  r1: {{username: ops, password: !{PASSWORD} x}}\n",
     "line 2, column 33: could not determine a constructor for the tag"),
    (f'devices:\n  r1: {{username: ops, password: "\\q{PASSWORD}"}}\n',
     "found unknown escape character"),
    (f"devices:\n  r1: {PASSWORD}\n",
     "device 'r1': must be a mapping like `{username: ..., password: ...}`"),
    (f"devices:\n  r1: {{username: ops, pasword: {PASSWORD}}}\n",
     "device 'r1': unknown key 'pasword' (did you mean 'password'?); use username, password, "
     "password_env, key_file"),
    (f"devices:\n  r1: {{username: ops, password {PASSWORD}}}\n",  # a colon forgotten: a key
     "device 'r1': an unknown key (not shown: it may hold a secret); use username, password"),
    (f"devices:\n  r1: {{username: ops, password: [{PASSWORD}]}}\n",
     "`password` (inventory or secrets file) must be a string; quote it"),
    (f"devices: [{PASSWORD}]\n", "`devices` must map device names to their credentials"),
    (f"default: {PASSWORD}\n", "default: must be a mapping"),
    (f"devices:\n  r1: {{username: ops, password: {PASSWORD}\xff}}\n".encode("latin-1"),
     "not UTF-8 text at byte 55 (line 2); save the file as UTF-8"),
]  # fmt: skip


def netpilot_process(*args: str) -> subprocess.CompletedProcess[str]:
    return run_process(*args, env={"NETPILOT_API_TOKEN": "t0ken"})


def netpilot(*args: str) -> subprocess.CompletedProcess[str]:
    """In-process (tests/cli_inprocess.py); `netpilot_process` is the real process."""
    return run_cli(*args, env={"NETPILOT_API_TOKEN": "t0ken"})


def _files(tmp_path: Path, secrets: str | bytes) -> tuple[Path, Path]:
    inventory = tmp_path / "inv.yaml"
    inventory.write_text(
        f"devices:\n  - {{name: r1, host: 127.0.0.1, port: 1, host_key: '{HK}'}}\n"
    )
    path = tmp_path / "secrets.yaml"
    if isinstance(secrets, bytes):
        path.write_bytes(secrets)
    else:
        path.write_text(secrets)
    return inventory, path


def _refused(result: subprocess.CompletedProcess[str], expected: str) -> None:
    shown = result.stdout + result.stderr
    assert PASSWORD not in shown and "S3cret" not in shown, shown
    assert result.returncode == 2, shown
    assert "Traceback" not in shown and result.stderr.count("\n") == 1, shown
    assert "secrets file" in result.stderr and expected in result.stderr, result.stderr


@pytest.mark.parametrize(("secrets", "expected"), BROKEN)
def test_devices_list_never_shows_a_password(
    tmp_path: Path, secrets: str | bytes, expected: str
) -> None:
    inventory, path = _files(tmp_path, secrets)
    result = netpilot(
        "devices", "list", "-i", str(inventory), "--secrets", str(path), "--no-connect"
    )
    _refused(result, expected)


def _free_port() -> int:
    return listen_port()


@pytest.mark.parametrize(("secrets", "expected"), [BROKEN[0], BROKEN[2], BROKEN[7]])
def test_controller_run_never_shows_a_password(tmp_path: Path, secrets: str, expected: str) -> None:
    inventory, path = _files(tmp_path, secrets)
    result = netpilot(
        "controller", "run", "--topology", "bank-wan", "--db", str(tmp_path / "np.db"),
        "--listen", f"127.0.0.1:{_free_port()}", "--inventory", str(inventory),
        "--secrets", str(path),
    )  # fmt: skip
    _refused(result, expected)


def test_an_inventory_holding_a_password_is_not_quoted_either(tmp_path: Path) -> None:
    inventory = tmp_path / "inv.yaml"
    inventory.write_text(
        f"devices:\n  - {{name: r1, host: h, username: u, password: '{PASSWORD}, host_key: x}}\n"
    )
    result = netpilot_process("devices", "list", "-i", str(inventory), "--no-connect")
    shown = result.stdout + result.stderr
    assert result.returncode == 2 and PASSWORD not in shown and "Traceback" not in shown, shown
    assert f"inventory {inventory}: not valid YAML: line 3, column 1" in result.stderr


PURE = [
    "line 4, column 1: found unexpected end of stream (while scanning a quoted scalar at line 2, "
    "column 33)",
    "line 2, column 48: expected <block end>, but found '}' (while parsing a block mapping at "
    "line 2, column 3)",
    "line 2, column 33: found undefined alias (a value)",
    "line 2, column 33: could not determine a constructor for the tag (a value)",
    "line 2, column 35: found unknown escape character (a value) (while scanning a double-quoted "
    "scalar at line 2, column 33)",
]


@pytest.mark.parametrize(
    ("secrets", "expected"), list(zip([s for s, _ in BROKEN[:5]], PURE, strict=True))
)
def test_pure_python_parser_messages_are_redacted(secrets: str, expected: str) -> None:
    """PyYAML without libyaml quotes the alias, tag or character it stopped at: dropped."""
    with pytest.raises(yaml.YAMLError) as caught:
        yaml.load(secrets, Loader=yaml.SafeLoader)
    assert yaml_problem(caught.value, secrets, redact=True) == expected


def test_redaction_is_what_keeps_an_alias_out() -> None:
    secrets = f"devices:\n  r1: {{username: ops, password: *{PASSWORD}}}\n"
    with pytest.raises(yaml.YAMLError) as caught:
        yaml.load(secrets, Loader=yaml.SafeLoader)
    assert PASSWORD in yaml_problem(caught.value, secrets)  # PyYAML's own words quote it
    redacted = yaml_problem(caught.value, secrets, redact=True)
    assert redacted == "line 2, column 33: found undefined alias (a value)"
