"""Every command of the README's tour runs exactly as written, block after block, in a scratch
directory laid out as the README says (`topologies/` and `harness/` linked, `shared/` beside it).

The commands are read from README.md itself, so the README cannot drift from what works. Servers
(`controller run`, `network run`, `devices start`) are started as real processes: one ending in
`&` runs until its block ends, one without runs until it is ready (then Ctrl-C, i.e. SIGINT);
each must be ready in time and stop cleanly. Everything else runs in process and must exit 0,
except `topo validate my-network.yaml`, which is given a file with a mistake and must name it.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from controller.engine import WAITING
from tests.cli_inprocess import run_cli

ROOT = Path(__file__).resolve().parents[1]
API = "http://127.0.0.1:8080"
SERVERS = {("controller", "run"), ("network", "run"), ("devices", "start")}
MY_NETWORK = """\
name: my-network
nodes:
  - {name: A}
  - {name: B}
links:
  - {id: A-B, a: A, b: B, capacity: 10G}
  - {id: A-C, a: A, b: C, capacity: fast}
"""


@dataclass(frozen=True)
class Command:
    text: str
    argv: list[str]
    background: bool

    @property
    def server(self) -> bool:
        return tuple(self.argv[:2]) in SERVERS


def tour_blocks() -> list[list[Command]]:
    """The tour's code blocks, each a list of commands (continuations joined, comments cut)."""
    text = (ROOT / "README.md").read_text()
    tour = text[text.index("## A short tour") : text.index("## Layout")]
    blocks = re.findall(r"```\n(.*?)```", tour, flags=re.S)
    return [_commands(block) for block in blocks]


def _commands(block: str) -> list[Command]:
    joined = re.sub(r"\\\n\s*", "", block)
    found = []
    for raw in joined.splitlines():
        shown = re.sub(r"\s{2,}#.*$", "", raw).strip()
        background = shown.endswith("&")
        line = shown.removesuffix("&").strip()
        if line:
            argv = shlex.split(line)
            assert argv[0] == "netpilot", f"the tour shows a command that is not netpilot: {line}"
            found.append(Command(line, argv[1:], background))
    return found


def wait_for(check: Callable[[], Any], what: str, proc: subprocess.Popen[str], limit: float) -> Any:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"{what}: the process ended with {proc.returncode}"
        try:
            answer = check()
        except OSError:
            answer = None
        if answer:
            return answer
        time.sleep(0.3)
    raise AssertionError(f"{what}: not ready within {limit:.0f} s")


def get(path: str, token: str | None = None) -> Any:
    request = urllib.request.Request(API + path)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=5) as answer:  # loopback only
        return json.loads(answer.read())


@dataclass
class Scratch:
    work: Path
    env: dict[str, str]

    def start(self, command: Command) -> subprocess.Popen[str]:
        inventory = _option(command.argv, "--inventory")
        if inventory and command.argv[0] != "controller":  # it writes the file: an earlier
            (self.work / inventory).unlink(missing_ok=True)  # block's must not pass for it
        log = self.log(command).open("w")
        proc = subprocess.Popen(
            [sys.executable, "-m", "cli", *command.argv], cwd=self.work, env=self.env,
            stdout=log, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        try:
            self.wait_ready(command, proc)
        except AssertionError as error:
            proc.kill()
            raise AssertionError(f"{error}\n{self.log(command).read_text()[-3000:]}") from None
        return proc

    def wait_ready(self, command: Command, proc: subprocess.Popen[str]) -> None:
        if command.argv[0] != "controller":  # routers up, inventory written: "...; Ctrl-C ..."
            wait_for(lambda: "Ctrl-C" in self.log(command).read_text(), command.text, proc, 120)
            return
        wait_for(lambda: get("/healthz")["status"] == "ok", command.text, proc, 60)
        if "--inventory" in command.argv:  # the loop: every intent of np.db reaches the routers
            token = (self.work / ".config/netpilot/api-token").read_text().strip()
            wait_for(lambda: installed(get("/v1/intents", token)), command.text, proc, 120)

    def stop(self, proc: subprocess.Popen[str], command: Command) -> None:
        proc.send_signal(signal.SIGINT)  # Ctrl-C, as the README says
        try:
            code = proc.wait(timeout=90)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise AssertionError(f"{command.text}: did not stop within 90 s of Ctrl-C") from None
        log = self.log(command).read_text()
        assert code in (0, 130), f"{command.text}: exit {code}\n{log[-2000:]}"
        assert "Traceback" not in log, f"{command.text}:\n{log[-2000:]}"

    def log(self, command: Command) -> Path:
        return self.work / f"{command.argv[0]}-{command.argv[1]}.log"


def installed(records: list[dict[str, Any]]) -> bool:
    return bool(records) and all(
        r["state"] in ("installed", "verified") or r.get("reason") == WAITING for r in records
    )  # bank-wan's night copy waits for its time window by day


def _option(argv: list[str], name: str) -> str | None:
    return argv[argv.index(name) + 1] if name in argv else None


@pytest.fixture
def scratch(tmp_path: Path, data: Path) -> Iterator[Scratch]:
    work = tmp_path / "work"
    work.mkdir()
    (tmp_path / "shared").symlink_to(data.parent)  # the README's ../shared/data
    for name in ("topologies", "harness"):
        (work / name).symlink_to(ROOT / name)
    (work / "my-network.yaml").write_text(MY_NETWORK)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HOME": str(work), "COLUMNS": "200"}
    env.pop("NETPILOT_DATA", None)  # the README's relative paths, not the test's variable
    env.pop("NETPILOT_API_TOKEN", None)
    yield Scratch(work, env)


@pytest.mark.timeout(900)  # the whole tour, servers included: minutes on a loaded machine
def test_the_readme_tour_runs_as_written(scratch: Scratch) -> None:
    blocks = tour_blocks()
    assert len(blocks) >= 7 and sum(len(b) for b in blocks) >= 20
    for block in blocks:
        running: list[tuple[subprocess.Popen[str], Command]] = []
        try:
            for command in block:
                if not command.server:
                    check_command(command, scratch)
                    continue
                proc = scratch.start(command)
                if command.background:
                    running.append((proc, command))
                else:
                    scratch.stop(proc, command)
        finally:
            for proc, command in reversed(running):
                scratch.stop(proc, command)


def check_command(command: Command, scratch: Scratch) -> None:
    env = {"HOME": scratch.env["HOME"]}
    saved = os.environ.pop("NETPILOT_DATA", None)
    try:
        result = run_cli(*command.argv, cwd=scratch.work, env=env)
    finally:
        if saved is not None:
            os.environ["NETPILOT_DATA"] = saved
    if command.argv[:2] == ["topo", "validate"]:
        assert result.returncode == 1, result.stdout + result.stderr
        assert "link 'A-C' (links[1]).capacity" in result.stdout + result.stderr
        return
    assert result.returncode == 0, f"{command.text}\n{result.stdout[-1500:]}{result.stderr[-3000:]}"
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
