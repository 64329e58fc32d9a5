"""Helpers shared by the southbound tests: a running fleet and a driver pointed at it."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from controller.desired import DeviceConfig
from controller.southbound.netconf import NetconfSouthbound
from controller.southbound.render import canonical
from controller.southbound.session import SessionOptions
from controller.southbound.transaction import TransactionOptions
from harness.device import RouterOptions
from harness.fleet import Fleet, FleetThread


def start_fleet(
    names: list[str],
    directory: Path,
    options: Callable[[str], RouterOptions] | None = None,
    flavors: str = "netpilot",
) -> FleetThread:
    runner = FleetThread(lambda: Fleet(names, directory, options=options, flavors=flavors))
    runner.start()
    return runner


def driver(
    runner: FleetThread,
    directory: Path,
    *,
    confirm_timeout_s: int = 1,
    rpc_timeout_s: float = 5.0,
    connect_attempts: int = 2,
    margin_s: float = 2.0,
) -> NetconfSouthbound:
    inventory = runner.fleet.write_inventory(directory / "inventory.yaml")
    from controller.southbound.inventory import load_inventory

    return NetconfSouthbound(
        load_inventory(inventory),
        session_options=SessionOptions(
            rpc_timeout_s=rpc_timeout_s, connect_attempts=connect_attempts, backoff_s=0.05
        ),
        transaction_options=TransactionOptions(
            confirm_timeout_s=confirm_timeout_s, unknown_margin_s=margin_s
        ),
        max_workers=16,
    )


def running(runner: FleetThread) -> dict[str, DeviceConfig]:
    """Each router's running config, read straight from its datastore (not over NETCONF)."""
    return runner.call(lambda: {n: r.running_config() for n, r in runner.fleet.routers.items()})


def wait_settled(runner: FleetThread, timeout_s: float = 10.0) -> None:
    """Wait until no router has an unconfirmed commit pending and every router is up."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        busy = runner.call(
            lambda: any(r.pending is not None or not r.alive for r in runner.fleet.routers.values())
        )
        if not busy:
            return
        time.sleep(0.05)
    raise AssertionError("routers did not settle (pending confirmed commit or still down)")


def same(configs: dict[str, DeviceConfig], network: dict[str, DeviceConfig]) -> bool:
    return all(configs[n] == canonical(cfg) for n, cfg in network.items())


class RawNetconf:
    """A bare NETCONF client over paramiko for protocol tests: sends any bytes as one message
    and returns the next reply, so tests can send what ncclient never would. Host key checked
    against the router's own key."""

    def __init__(self, host: str, port: int, host_key: str, key_file: Path, base11: bool) -> None:
        import base64

        import paramiko

        self.client = paramiko.SSHClient()
        kind, blob = host_key.split()[:2]
        pinned = paramiko.PKey.from_type_string(kind, base64.b64decode(blob))
        self.client.get_host_keys().add(f"[{host}]:{port}", pinned.get_name(), pinned)
        self.client.set_missing_host_key_policy(paramiko.RejectPolicy())
        self.client.connect(
            host, port, username="netpilot", key_filename=str(key_file),
            allow_agent=False, look_for_keys=False, timeout=10,
        )  # fmt: skip
        self.channel = self.client.get_transport().open_session()
        self.channel.settimeout(30)
        self.channel.invoke_subsystem("netconf")
        self.chunked = False
        self.buf = b""
        self.server_hello = self._read()
        caps = ["urn:ietf:params:netconf:base:1.0"]
        caps += ["urn:ietf:params:netconf:base:1.1"] if base11 else []
        capabilities = "".join(f"<capability>{c}</capability>" for c in caps)
        self.send(
            '<hello xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">'
            f"<capabilities>{capabilities}</capabilities></hello>"
        )
        self.chunked = base11 and b"base:1.1" in self.server_hello

    def send(self, message: str | bytes) -> None:
        data = message.encode() if isinstance(message, str) else message
        self.channel.sendall(
            b"\n#%d\n%s\n##\n" % (len(data), data) if self.chunked else data + b"]]>]]>"
        )

    def _read(self) -> bytes:
        end = b"\n##\n" if self.chunked else b"]]>]]>"
        while end not in self.buf:
            data = self.channel.recv(65536)
            if not data:
                raise EOFError("session closed")
            self.buf += data
        msg, self.buf = self.buf.split(end, 1)
        if self.chunked:  # one or more chunks: strip the headers
            import re

            msg = b"".join(re.split(rb"\n#\d+\n", msg)[1:])
        return msg

    def rpc(self, message: str | bytes) -> bytes:
        self.send(message)
        return self._read()

    def close(self) -> None:
        self.client.close()
