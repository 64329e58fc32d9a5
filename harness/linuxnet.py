"""Linux network namespaces for the real data plane: names, support check, sysctls, sockets
inside a namespace, and cleaning up what a killed run left behind.

Every namespace a run makes is named `np-<run>-<router index, hex>`, `<run>` being 6 hex digits
of that run; the run records its pid in `STATE_DIR/<run>.json`. At start, any `np-*` namespace
whose run's state file is missing or names a dead pid is a leftover of a killed run and goes
(its veths go with it). Sockets and sysctls for a namespace are made in a short-lived thread
that enters it with setns(2): the calling thread never changes namespace.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import re
import secrets
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from pyroute2 import NetNS, netns

from controller.errors import UsageError

T = TypeVar("T")
CLONE_NEWNET = 0x40000000
NETNS_DIR = Path("/var/run/netns")
STATE_DIR = Path("/run/netpilot/dataplane")
PREFIX = "np-"
NAME_RE = re.compile(r"^np-([0-9a-f]{6})-[0-9a-f]+$")
SEG6_SYSCTL = Path("/proc/sys/net/ipv6/conf/all/seg6_enabled")
ROUTER_SYSCTLS = {
    "net.ipv6.conf.all.forwarding": "1",
    "net.ipv6.conf.all.seg6_enabled": "1",
    "net.ipv6.conf.default.seg6_enabled": "1",
    "net.ipv6.conf.all.keep_addr_on_down": "1",
    "net.ipv6.conf.default.keep_addr_on_down": "1",
    "net.ipv6.conf.default.accept_dad": "0",
    "net.ipv6.conf.all.accept_dad": "0",
    "net.ipv6.conf.default.router_solicitations": "0",
    "net.ipv6.conf.default.mldv2_unsolicited_report_interval": "0",
    "net.ipv6.conf.default.mldv1_unsolicited_report_interval": "0",
    "net.ipv4.ip_forward": "1",
    "net.ipv6.icmp.ratelimit": "1000",  # errors (traffic to a prefix nobody serves) 1/s, not 10
}
_LIBC = ctypes.CDLL(None, use_errno=True)


def new_run_id() -> str:
    return secrets.token_hex(3)


def ns_name(run: str, index: int) -> str:
    return f"{PREFIX}{run}-{index:x}"


def check_support() -> None:
    """Raise UsageError (one line, what is missing) unless root with kernel SRv6 support."""
    if os.geteuid() != 0:
        raise UsageError(
            "--dataplane linux needs root (CAP_NET_ADMIN) to create network namespaces; "
            "run it as root, or drop --dataplane"
        )
    if not SEG6_SYSCTL.exists():
        raise UsageError(
            "--dataplane linux: this kernel has no SRv6 (no net.ipv6.conf.all.seg6_enabled); "
            "it needs CONFIG_IPV6_SEG6_LWTUNNEL"
        )
    probe = f"{PREFIX}check-{os.getpid()}"
    try:
        netns.create(probe)
        with contextlib.closing(NetNS(probe)) as ns:
            lo = ns.link_lookup(ifname="lo")[0]
            ns.link("set", index=lo, state="up")
            ns.route("add", dst="fcbb::1/128", oif=lo,
                     encap={"type": "seg6local", "action": "End"})  # fmt: skip
    except Exception as error:  # any refusal means the same thing to the user
        raise UsageError(
            f"--dataplane linux: the kernel refused an SRv6 End route ({error}); "
            "it needs CONFIG_IPV6_SEG6_LWTUNNEL and network namespaces"
        ) from None
    finally:
        with contextlib.suppress(Exception):
            netns.remove(probe)


def in_namespace(name: str, fn: Callable[[], T]) -> T:
    """Run `fn` in a thread that entered namespace `name` (sockets it makes stay there)."""
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            fd = os.open(NETNS_DIR / name, os.O_RDONLY)
            try:
                if _LIBC.setns(fd, CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, f"setns({name}): {os.strerror(err)}")
            finally:
                os.close(fd)
            result["value"] = fn()
        except BaseException as error:  # handed to the caller's thread
            result["error"] = error

    thread = threading.Thread(target=run, name=f"netns-{name}")
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    return result["value"]


def set_sysctls(name: str, values: dict[str, str]) -> None:
    """Write sysctls inside namespace `name` (/proc/sys/net is per namespace)."""

    def write() -> None:
        for key, value in values.items():
            Path("/proc/sys", *key.split(".")).write_text(value)

    in_namespace(name, write)


def ns_socket(name: str, family: int, kind: int, proto: int = 0) -> socket.socket:
    return in_namespace(name, lambda: socket.socket(family, kind, proto))


# -- run state and leftovers --------------------------------------------------------------------
def state_path(run: str) -> Path:
    return STATE_DIR / f"{run}.json"


def write_state(run: str, state: dict[str, Any]) -> Path:
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    path = state_path(run)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=1))
    os.replace(tmp, path)
    return path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_state(run: str) -> dict[str, Any] | None:
    try:
        state: dict[str, Any] = json.loads(state_path(run).read_text())
    except (OSError, ValueError):
        return None
    return state


def live_runs() -> list[dict[str, Any]]:
    """States of the data planes whose process still runs."""
    if not STATE_DIR.is_dir():
        return []
    out = []
    for path in sorted(STATE_DIR.glob("*.json")):
        state = read_state(path.stem)
        if state and _alive(int(state.get("pid", 0))):
            out.append(state)
    return out


def remove_namespaces(names: list[str]) -> int:
    removed = 0
    for name in names:
        with contextlib.suppress(OSError, FileNotFoundError):
            netns.remove(name)
            removed += 1
    return removed


def clean_leftovers() -> int:
    """Remove `np-` namespaces (and state files) of runs that are no longer alive."""
    dead: dict[str, list[str]] = {}
    for name in netns.listnetns():
        match = NAME_RE.match(name)
        if match is None:
            continue
        state = read_state(match.group(1))
        if state is None or not _alive(int(state.get("pid", 0))):
            dead.setdefault(match.group(1), []).append(name)
    removed = 0
    for run, names in dead.items():
        removed += remove_namespaces(names)
        state_path(run).unlink(missing_ok=True)
    if STATE_DIR.is_dir():
        for path in STATE_DIR.glob("*.json"):
            state = read_state(path.stem)
            if state is None or not _alive(int(state.get("pid", 0))):
                path.unlink(missing_ok=True)
    return removed
