"""Every YAML/JSON file the CLI reads (topology, scenario, prefix map, inventory) is size-checked
before it is read, must be UTF-8, and a YAML error is one line with its line and column (issue 13).
Run through the real CLI; `controller.textfile` directly for what a command cannot show cheaply."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from commands.ports import listen_port
from controller.errors import UsageError
from controller.textfile import load_yaml, read_text
from tests.cli_inprocess import run_cli, run_process

ROOT = Path(__file__).parent.parent
NOT_UTF8 = b"name: t\xe9st\nnodes: []\n"
MALFORMED = b"name: t\nnodes: [\n  - {name: a\n"


def netpilot_process(*args: str) -> subprocess.CompletedProcess[str]:
    return run_process(*args, env={"NETPILOT_API_TOKEN": "t0ken"})


def netpilot(*args: str) -> subprocess.CompletedProcess[str]:
    """In-process (tests/cli_inprocess.py); `netpilot_process` is the real process."""
    return run_cli(*args, env={"NETPILOT_API_TOKEN": "t0ken"})


def one_line(result: subprocess.CompletedProcess[str], code: int = 2) -> str:
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    assert result.returncode == code, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def sparse(path: Path, mib: int) -> Path:
    """A file of `mib` MiB that takes no disk (and would take a long time to parse)."""
    with path.open("wb") as f:
        f.truncate(mib * 1024 * 1024)
    return path


def _free_port() -> int:
    return listen_port()


def test_topology_files(tmp_path: Path) -> None:
    bad = tmp_path / "t.yaml"
    bad.write_bytes(NOT_UTF8)
    line = one_line(netpilot("topo", "validate", str(bad)))
    assert (
        line == f"error: topology {bad}: not UTF-8 text at byte 7 (line 1); save the file as UTF-8"
    )
    huge = sparse(tmp_path / "huge.json", 65)
    line = one_line(netpilot_process("topo", "show", str(huge)))
    assert f"topology {huge}: 65 MiB is over the 64 MiB limit" in line


def test_scenario_files(tmp_path: Path) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_bytes(b"events:\n  - {kind: link_down, link: x, at: 1m\n")
    run = ("sim", "run", "--topology", "bank-wan", "--scenario", str(scenario), "--until", "1m")
    line = one_line(netpilot(*run))
    assert line.endswith(
        "not valid YAML: line 3, column 1: did not find expected ',' or '}' "
        "(while parsing a flow mapping at line 2, column 5)"
    )
    scenario.write_bytes(b"events: []\nevents: []\n")
    assert "line 2, column 1: duplicate key 'events'" in one_line(netpilot(*run))
    sparse(scenario, 17)
    assert f"scenario {scenario}: 17 MiB is over the 16 MiB limit" in one_line(netpilot(*run))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (b"DC1: [10.1.0.0/16, nope]\n", "--prefixes {p}: DC1: 'nope' is not an IP prefix; "
                                        "write e.g. 10.1.0.0/16"),
        (NOT_UTF8, "--prefixes {p}: not UTF-8 text at byte 7 (line 1)"),
        (MALFORMED, "--prefixes {p}: not valid YAML: line 3, column 3: did not find expected node "
                    "content (while parsing a flow node)"),
    ],
)  # fmt: skip
def test_prefix_maps(tmp_path: Path, text: bytes, expected: str) -> None:
    prefixes = tmp_path / "p.yaml"
    prefixes.write_bytes(text)
    result = netpilot(
        "controller", "run", "--topology", "bank-wan", "--db", str(tmp_path / "np.db"),
        "--listen", f"127.0.0.1:{_free_port()}", "--prefixes", str(prefixes),
    )  # fmt: skip
    assert expected.format(p=prefixes) in one_line(result)


def test_inventory_over_the_limit(tmp_path: Path) -> None:
    inventory = sparse(tmp_path / "inv.yaml", 20)
    line = one_line(netpilot("devices", "list", "-i", str(inventory), "--no-connect"))
    assert f"inventory {inventory}: 20 MiB is over the 16 MiB limit" in line


def test_a_stream_without_a_size_is_cut_at_the_limit() -> None:
    """A device or pipe has no size to check beforehand: reading stops just past the limit."""
    with pytest.raises(UsageError, match=r"^-f /dev/zero: over the 1024 bytes limit; is it"):
        read_text(Path("/dev/zero"), "-f", 1024)


def test_yaml_errors_are_one_line_with_their_place(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_bytes(b"a: 1\nb: \x01\n")
    with pytest.raises(UsageError) as caught:
        load_yaml(path, "-f", 1024)
    assert str(caught.value) == (
        f"-f {path}: not valid YAML: line 2: special character #x0001 is not allowed in YAML"
    )
    path.write_bytes(b"a: [1, 2\nb: 3\n")
    with pytest.raises(UsageError) as caught:
        load_yaml(path, "-f", 1024)
    assert "\n" not in str(caught.value) and "line 2, column 2" in str(caught.value)
