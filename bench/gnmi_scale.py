"""Benchmark (issue 15): N routers' SAMPLE streams into one streaming collector.

`--servers` gNMI server processes (harness/gnmi_server.py, this script with `--serve`) front N
synthetic routers of `--interfaces` interfaces each (6 class queues, optics) between them, on
one port each, their counters advancing every `--interval` s (the routers' own work, spread
over processes as real routers are separate machines; one shared CA and password); the
collector (telemetry/stream_collector.py) in this process subscribes to every router (ON_CHANGE
on oper-status and LLDP, SAMPLE every `--interval` s) for `--duration` s, calling `collect()`
every interval as the live controller's round does. Reported: samples the servers sent and the
collector applied (dropped = sent - applied: a sample lost with a restarted stream counts),
stream restarts, the collector's CPU (process CPU seconds / wall), the servers' CPU, the time
of a `collect()` and when every stream was sampling (`setup_s`).

    .venv/bin/python bench/gnmi_scale.py [--routers 1000] [--servers 2] [--interval 10]
        [--duration 60] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
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
    from harness.gnmi_tls import GnmiPki

    folder = Path(args.serve)
    pki = GnmiPki(folder / "gnmi-ca.pem", folder / "gnmi-server.pem",
                  folder / "gnmi-server.key", folder / "gnmi-password")  # fmt: skip
    server = GnmiServer(pki)
    names = [f"R{i:04d}" for i in range(args.first, args.first + args.routers)]

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
            sent = asyncio.run_coroutine_threadsafe(_stall_all(server, names), server.loop)
            samples = sent.result(timeout=600)  # on the server's loop: no sample after this
            usage = resource.getrusage(resource.RUSAGE_SELF)
            print(json.dumps({"samples_sent": samples,
                              "streams": server.stats.streams,
                              "cpu_s": usage.ru_utime + usage.ru_stime}), flush=True)  # fmt: skip
        if not drained and time.time() - epoch >= args.interval:
            epoch += args.interval
            publish(epoch)
    server.stop()
    return 0


async def _stall_all(server: Any, names: list[str]) -> int:
    """Stop every router's sampling and count the samples sent, in one go on the loop."""
    for n in names:
        server.faults[n] = "stall"
    return int(server.stats.samples)


def _drain(collector: StreamCollector, sent: int, quiet_s: float = 5.0) -> dict[str, Any]:
    """Health once the collector has applied every sample sent, or applied nothing more for
    `quiet_s` (what is then missing was dropped)."""
    last, since = -1, time.monotonic()
    while True:
        health = collector.health()
        applied = sum(h["samples"] - h["dumps"] for h in health.values())
        if applied >= sent or time.monotonic() - since > quiet_s:
            return health
        if applied != last:
            last, since = applied, time.monotonic()
        time.sleep(0.2)


def start_servers(args: argparse.Namespace, workdir: Path) -> list[tuple[Any, int, range]]:
    """(process, port, router numbers) per server process; the PKI made once, shared."""
    from harness.gnmi_tls import make_pki

    make_pki(workdir)
    k = max(1, min(args.servers, args.routers))
    bounds = [args.routers * j // k for j in range(k + 1)]
    out = []
    for lo, hi in itertools.pairwise(bounds):
        proc = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(workdir), "--routers", str(hi - lo),
             "--first", str(lo), "--interfaces", str(args.interfaces),
             "--interval", str(args.interval)],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        out.append((proc, 0, range(lo, hi)))
    ready = []
    for proc, _, numbers in out:
        assert proc.stdout is not None
        ready.append((proc, int(json.loads(proc.stdout.readline())["port"]), numbers))
    return ready


def measure(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    servers = start_servers(args, workdir)
    devices = {
        f"R{i:04d}": GnmiDevice(f"R{i:04d}", "127.0.0.1", port, f"R{i:04d}")
        for _, port, numbers in servers
        for i in numbers
    }
    access = GnmiAccess(workdir / "gnmi-ca.pem", "netpilot",
                        (workdir / "gnmi-password").read_text().strip(), devices)  # fmt: skip
    collector = StreamCollector(access, StreamOptions(sample_s=args.interval))
    cpu0, wall0 = time.process_time(), time.monotonic()
    collector.start()
    setup = -1.0
    rounds: list[float] = []
    stale_max = 0
    try:
        while time.monotonic() - wall0 < args.duration:
            time.sleep(args.interval)
            result = collector.collect()
            rounds.append(result.duration_s)
            stale_max = max(stale_max, len(result.errors))
            if setup < 0 and all(h["samples"] for h in collector.health().values()):
                setup = time.monotonic() - wall0  # every stream synced and sampling
    finally:
        for proc, _, _ in servers:  # they stop sampling and count what they sent
            proc.send_signal(signal.SIGUSR1)
        stats = [json.loads(proc.stdout.readline()) for proc, _, _ in servers]
        server = {"samples_sent": sum(x["samples_sent"] for x in stats),
                  "cpu_s": sum(x["cpu_s"] for x in stats)}  # fmt: skip
        drained = time.monotonic()
        health = _drain(collector, server["samples_sent"])  # what is still in flight
        drained = time.monotonic() - drained
        cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0  # the drain included
        collector.close()
        for proc, _, _ in servers:
            proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=60)
    applied = sum(h["samples"] for h in health.values())
    initial = sum(h["dumps"] for h in health.values())  # each subscription's full dump
    return {
        "routers": args.routers,
        "servers": len(servers),
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
        "setup_s": round(setup, 1),
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
    parser.add_argument("--servers", type=int, default=2, help="gNMI server processes")
    parser.add_argument("--first", type=int, default=0, help=argparse.SUPPRESS)
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
        f"{result['restarts']} (drained in {result['drain_s']}s, all sampling after "
        f"{result['setup_s']}s); collector CPU "
        f"{result['collector_cpu_s']}s "
        f"({result['collector_cpu_pct']}% of a core), server CPU {result['server_cpu_s']}s; "
        f"collect() <= {result['collect_ms_max']} ms"
    )
    return 0


if __name__ == "__main__":
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    raise SystemExit(main())
