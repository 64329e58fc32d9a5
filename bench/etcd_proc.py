"""A real etcd server for tests and benchmarks: Debian's `etcd` (package etcd-server, `make
test` installs it) started on free loopback ports with its data directory where the caller says."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
import uuid
from pathlib import Path

import httpx

from commands.ports import listen_port

# what netpilot needs of an etcd cluster (docs/ha.md): room for a revision of many devices
ETCD_FLAGS = ("--max-txn-ops", "10000", "--max-request-bytes", str(16 * 1024 * 1024))
# a cluster on one LAN: etcd elects a new raft leader within about a second (docs/ha.md)
RAFT_FLAGS = ("--heartbeat-interval", "50", "--election-timeout", "500")


def free_port() -> int:
    return listen_port()


class EtcdServer:
    """One etcd member on 127.0.0.1; `url` is the `--store` value that reaches it."""

    def __init__(self, data: Path, name: str = "np", flags: tuple[str, ...] = ()) -> None:
        self.data = data
        self.name = name
        self.flags = flags
        self.client_port = free_port()
        self.peer_port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.client_port}"

    @property
    def url(self) -> str:
        return f"etcd://{self.endpoint}"

    def store_url(self) -> str:
        """A fresh key prefix on this server: one test's store, isolated from the others."""
        return f"{self.url}/t{uuid.uuid4().hex[:10]}"

    @property
    def peer(self) -> str:
        return f"{self.name}=http://127.0.0.1:{self.peer_port}"

    def start(self, timeout_s: float = 20.0, cluster: str = "") -> None:
        """Start (again, on the same data); `cluster` is the --initial-cluster of a member of
        several (`EtcdCluster`), empty for a member alone."""
        self.launch(cluster)
        self.wait(timeout_s)

    def launch(self, cluster: str = "") -> None:
        binary = shutil.which("etcd")
        if binary is None:
            raise RuntimeError(
                "etcd missing: `apt-get install etcd-server` (make test installs it)"
            )
        client = f"http://{self.endpoint}"
        peer = f"http://127.0.0.1:{self.peer_port}"
        args = [
            binary, "--name", self.name, "--data-dir", str(self.data),
            "--listen-client-urls", client, "--advertise-client-urls", client,
            "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
            "--initial-cluster", cluster or self.peer, *ETCD_FLAGS, *self.flags,
        ]  # fmt: skip
        self.data.parent.mkdir(parents=True, exist_ok=True)
        log = (self.data.parent / f"{self.name}.log").open("ab")
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        log.close()

    def wait(self, timeout_s: float = 20.0) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout_s
        while not self.healthy():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"etcd did not start: {self.tail()}")
            time.sleep(0.05)

    def healthy(self) -> bool:
        try:
            r = httpx.get(f"http://{self.endpoint}/health", timeout=1)
        except httpx.HTTPError:
            return False
        return r.status_code == 200 and r.json().get("health") == "true"

    def kill(self) -> None:
        """SIGKILL: etcd loses nothing it acknowledged (its WAL is fsynced)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def tail(self) -> str:
        path = self.data.parent / f"{self.name}.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""


class EtcdCluster:
    """`size` etcd members on 127.0.0.1 forming one cluster; `url` lists every member."""

    def __init__(self, work: Path, size: int = 3, flags: tuple[str, ...] = RAFT_FLAGS) -> None:
        self.members = [
            EtcdServer(work / f"m{i}" / "data", name=f"m{i}", flags=flags) for i in range(size)
        ]

    @property
    def url(self) -> str:
        return "etcd://" + ",".join(m.endpoint for m in self.members)

    def store_url(self) -> str:
        return f"{self.url}/t{uuid.uuid4().hex[:10]}"

    def start(self, timeout_s: float = 30.0) -> None:
        cluster = ",".join(m.peer for m in self.members)
        for member in self.members:
            member.launch(cluster)
        for member in self.members:
            member.wait(timeout_s)

    def stop(self) -> None:
        for member in self.members:
            member.stop()
