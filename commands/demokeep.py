"""`netpilot demo --keep`: after the timeline, the loop keeps running and /metrics stays up."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, start_http_server

from commands.common import err_console
from harness.loopsession import LoopSession


def serve_until_interrupted(
    session: LoopSession, registry: CollectorRegistry, port: int, speed: float = 10.0
) -> None:
    """Serve Prometheus metrics on 127.0.0.1:`port` and keep the closed loop stepping at
    `speed` x real time (the controller keeps reconciling) until Ctrl-C."""
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    err_console.print(
        f"controller and simulation still running; metrics on http://127.0.0.1:{port}/metrics "
        f"(database {session.tmp / 'netpilot.db'}); Ctrl-C to stop"
    )
    try:
        while True:
            start = time.monotonic()
            session.runner.tick()
            time.sleep(max(0.0, session.spec.step_s / speed - (time.monotonic() - start)))
    except KeyboardInterrupt:
        err_console.print("stopping")
    finally:
        server.shutdown()
        thread.join(timeout=5)
