"""`netpilot controller run` as a child process for the benchmarks: start on a free port with a
token, wait until it answers, stop it with SIGTERM or kill it with SIGKILL, start it again on the
same database."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from commands.ports import listen_port

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    return listen_port()


class ControllerProcess:
    def __init__(self, work: Path, topology: str = "bank-wan", *args: str) -> None:
        self.work = work
        self.db = work / "np.db"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.token = secrets.token_urlsafe(24)
        self.auth = {"Authorization": f"Bearer {self.token}"}
        self.args = [
            sys.executable, "-m", "cli", "controller", "run", "--topology", topology,
            "--db", str(self.db), "--listen", f"127.0.0.1:{self.port}", *args,
        ]  # fmt: skip
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.start_s: list[float] = []

    def start(self, timeout_s: float = 180.0) -> None:
        path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
        env = {**os.environ, "NETPILOT_API_TOKEN": self.token, "PYTHONPATH": path}
        log = (self.work / f"controller-{self.starts}.log").open("wb")
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            self.args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
        log.close()
        self.starts += 1
        deadline = time.monotonic() + timeout_s
        while not self.ready():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"controller did not start: {self.tail()}")
            time.sleep(0.05)
        self.start_s.append(time.perf_counter() - t0)

    def ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def new_port(self) -> None:
        """Listen on another free port next time (the old one may have been taken meanwhile)."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        at = self.args.index("--listen") + 1
        self.args[at] = f"127.0.0.1:{self.port}"

    def ended(self) -> bool:
        """It was started and is no longer running (killed, or exited by itself)."""
        return self.proc is not None and self.proc.poll() is not None

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)

    def stop(self) -> bool:
        """SIGTERM and wait; True when it shut down by itself (uvicorn re-raises the signal after
        its graceful shutdown, so the exit status is 0 or -SIGTERM), False if it had to be
        killed or was not running."""
        if self.proc is None or self.proc.poll() is not None:
            return False
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            return False
        return code in (0, -signal.SIGTERM)

    def tail(self, lines: int = 5) -> str:
        log = self.work / f"controller-{self.starts - 1}.log"
        text = log.read_text(errors="replace") if log.is_file() else ""
        return " | ".join(text.strip().splitlines()[-lines:])
