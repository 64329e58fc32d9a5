"""Listening ports for processes the CLI and benches start: outside the kernel's ephemeral range.

A port found free by binding port 0 comes from the ephemeral range, the same range the kernel hands
to every later ``bind(0)`` and outgoing connection; between choosing it and the server binding it,
another process (a simulated router, an etcd client) may take it ("address already in use"). Ports
below the ephemeral range are only ever taken by name, so a free one stays free.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

_EPHEMERAL = Path("/proc/sys/net/ipv4/ip_local_port_range")
_LOWEST = 10_000


def _ephemeral_start() -> int:
    try:
        return int(_EPHEMERAL.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768


def listen_port(host: str = "127.0.0.1", attempts: int = 200) -> int:
    """A port on ``host`` that binds now and lies below the ephemeral range (random, so parallel
    callers rarely meet); falls back to an ephemeral one when the low range is exhausted."""
    top = _ephemeral_start() - 1
    for _ in range(attempts if top > _LOWEST else 0):
        port = random.randint(_LOWEST, top)
        with socket.socket() as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
            return port
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
