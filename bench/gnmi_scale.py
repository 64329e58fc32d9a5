"""Benchmark (issue 15): N routers' SAMPLE streams into one streaming collector.

A gNMI server process (harness/gnmi_server.py, this script with `--serve`) fronts N synthetic
routers of `--interfaces` interfaces each (6 class queues, optics), their counters advancing
every `--interval` s; the collector (telemetry/stream_collector.py) in this process subscribes
to every router (ON_CHANGE on oper-status and LLDP, SAMPLE every `--interval` s) for
`--duration` s, calling `collect()` every interval as the live controller's round does.
Reported: samples the server sent and the collector applied (dropped = sent - applied, over
streams that stayed up), stream restarts, the collector's CPU (process CPU seconds / wall), the
server's CPU, and the time of a `collect()`.

    .venv/bin/python bench/gnmi_scale.py [--routers 1000] [--interval 10] [--duration 60] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.live_common import machine, machine_line
from controller.devicestate import DeviceState, InterfaceState, QueueStats
from telemetry.gnmi_inventory import GnmiAccess, GnmiDevice
from telemetry.gnmi_model import encode_containers, encode_events
from telemetry.stream_collector import StreamCollector, StreamOptions

CLASSES = ("voice", "production", "video", "office", "bigdata", "test")


def synthetic(name: str, t: float, n_if: int) -> DeviceState:
    k = int(t * 1e6)
    ifaces = tuple(
        InterfaceState(
            f"{name}-e{i}", True, 10e9, in_octets=k, out_octets=2 * k, in_packets=k // 800,
            out_packets=k // 400, rx_power_dbm=-3.0, tx_bias_ma=35.0, delay_s=0.001,
            queues=tuple(QueueStats(c, q, tx_octets=k, tx_packets=k // 1000)
                         for q, c in enumerate(CLASSES)),
        )
        for i in range(n_if)
    )  # fmt: skip
    return DeviceState(name, t, 1, ifaces)


def serve(args: argparse.Namespace) -> int:
    """The server process: print {port, dir}, republish every interval, stats at SIGTERM."""
    from harness.gnmi_server import GnmiServer, Snapshot
    from harness.gnmi_tls import make_pki

    pki = make_pki(Path(args.serve))
    server = GnmiServer(pki)
    names = [f"R{i:04d}" for i in range(args.routers)]

    def publish(t: float) -> None:
        states = {n: synthetic(n, t, args.interfaces) for n in names}
        server.publish({n: Snapshot(t, encode_events(s), tuple(encode_containers(s)))
                        for n, s in states.items()})  # fmt: skip

    epoch = time.time()
    publish(epoch)
    port = server.start()
    print(json.dumps({"port": port}), flush=True)
    stop = drain = drained = False

    def on_term(*_: object) -> None:
        nonlocal stop
        stop = True

    def on_usr1(*_: object) -> None:
        nonlocal drain
        drain = True

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGUSR1, on_usr1)
    while not stop:
        time.sleep(min(args.interval, 0.2))
        if drain and not drained:  # stop sampling, let what is in flight arrive, then count
            drained = True
            for n in names:
                server.inject(n, "stall")
            time.sleep(1.0)
            usage = resource.getrusage(resource.RUSAGE_SELF)
            print(json.dumps({"samples_sent": server.stats.samples,
                              "streams": server.stats.streams,
                              "cpu_s": usage.ru_utime + usage.ru_stime}), flush=True)  # fmt: skip
        if not drained and time.time() - epoch >= args.interval:
            epoch += args.interval
            publish(epoch)
    server.stop()
    return 0


def _drain(collector: StreamCollector, sent: int, quiet_s: float = 5.0) -> dict[str, Any]:
    """Health once the collector has applied every sample sent, or applied nothing more for
    `quiet_s` (what is then missing was dropped)."""
    last, since = -1, time.monotonic()
    while True:
        health = collector.health()
        applied = sum(h["samples"] - 1 for h in health.values() if h["samples"])
        if applied >= sent or time.monotonic() - since > quiet_s:
            return health
        if applied != last:
            last, since = applied, time.monotonic()
        time.sleep(0.2)


def measure(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(workdir), "--routers", str(args.routers),
         "--interfaces", str(args.interfaces), "--interval", str(args.interval)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    port = json.loads(proc.stdout.readline())["port"]
    devices = {
        f"R{i:04d}": GnmiDevice(f"R{i:04d}", "127.0.0.1", port, f"R{i:04d}")
        for i in range(args.routers)
    }
    access = GnmiAccess(workdir / "gnmi-ca.pem", "netpilot",
                        (workdir / "gnmi-password").read_text().strip(), devices)  # fmt: skip
    collector = StreamCollector(access, StreamOptions(sample_s=args.interval))
    cpu0, wall0 = time.process_time(), time.monotonic()
    collector.start()
    rounds: list[float] = []
    stale_max = 0
    try:
        while time.monotonic() - wall0 < args.duration:
            time.sleep(args.interval)
            result = collector.collect()
            rounds.append(result.duration_s)
            stale_max = max(stale_max, len(result.errors))
    finally:
        proc.send_signal(signal.SIGUSR1)  # the server stops sampling and counts what it sent
        server = json.loads(proc.stdout.readline())
        drained = time.monotonic()
        health = _drain(collector, server["samples_sent"])  # what is still in flight
        drained = time.monotonic() - drained
        cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0  # the drain included
        collector.close()
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
    applied = sum(h["samples"] for h in health.values())
    initial = sum(1 for h in health.values() if h["samples"])  # the sync's full dump
    return {
        "routers": args.routers,
        "interfaces": args.interfaces,
        "interval_s": args.interval,
        "duration_s": round(wall, 1),
        "samples_sent": server["samples_sent"],
        "samples_applied": applied - initial,
        "dropped": server["samples_sent"] - (applied - initial),
        "restarts": sum(h["restarts"] for h in health.values()),
        "drain_s": round(drained, 2),
        "stale_max": stale_max,
        "collector_cpu_s": round(cpu, 2),
        "collector_cpu_pct": round(100 * cpu / wall, 1),
        "server_cpu_s": round(server["cpu_s"], 2),
        "collect_ms_max": round(1e3 * max(rounds, default=0.0), 2),
        "causes": Counter(
            re.sub(r"target '[^']*'", "target T", h["last_trouble"])
            for h in health.values()
            if h["last_trouble"]
        ).most_common(3),
        "machine": machine(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--routers", type=int, default=1000)
    parser.add_argument("--interfaces", type=int, default=4)
    parser.add_argument("--interval", type=float, default=10.0)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return serve(args)
    with tempfile.TemporaryDirectory(prefix="gnmi-scale-") as tmp:
        result = measure(args, Path(tmp))
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(machine_line(result["machine"]))
    print(
        f"{result['routers']} routers x {result['interfaces']} interfaces, SAMPLE every "
        f"{result['interval_s']:g}s for {result['duration_s']:g}s: sent {result['samples_sent']}, "
        f"applied {result['samples_applied']}, dropped {result['dropped']}, restarts "
        f"{result['restarts']} (drained in {result['drain_s']}s); collector CPU "
        f"{result['collector_cpu_s']}s "
        f"({result['collector_cpu_pct']}% of a core), server CPU {result['server_cpu_s']}s; "
        f"collect() <= {result['collect_ms_max']} ms"
    )
    return 0


if __name__ == "__main__":
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    raise SystemExit(main())
