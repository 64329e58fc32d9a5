"""Build and remove a Linux data plane of N routers (root): time and memory.

    sudo .venv/bin/python bench/dataplane_build.py --routers 120 --json

Topology `grid:R,C` with R x C = N routers (about 2N links), the way `network run --dataplane
linux` builds it: namespaces, veth pairs with tbf, addresses, static IGP routes and SIDs. Prints
the build time, the teardown time, how many namespaces, veths and kernel routes it made, this
process's peak RSS and how much MemAvailable dropped while the data plane stood (the kernel's
share: namespaces, veths, routes).
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.live_common import machine, machine_line
from harness.dataplane import LinuxDataPlane
from harness.linuxnet import check_support, clean_leftovers, new_run_id
from topologies.loader import load


def _mem_available_kib() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1])
    return 0


def _grid(routers: int) -> str:
    rows = max(1, int(math.sqrt(routers)))
    while routers % rows:
        rows -= 1
    return f"grid:{rows},{routers // rows}"


def _routes(plane: LinuxDataPlane) -> int:
    total = 0
    for namespace in plane.plan.ns.values():
        out = subprocess.run(["ip", "-n", namespace, "-6", "route", "show", "table", "all"],
                             capture_output=True, text=True, check=False)  # fmt: skip
        total += sum(1 for line in out.stdout.splitlines() if not line[:1].isspace())
    return total


def run(routers: int) -> dict[str, Any]:
    check_support()
    clean_leftovers()
    spec = _grid(routers)
    topo = load(spec)
    before = _mem_available_kib()
    plane = LinuxDataPlane(topo, new_run_id())
    build_s = plane.build()
    standing = _mem_available_kib()
    routes = _routes(plane)
    started = time.monotonic()
    removed = plane.close()
    teardown_s = time.monotonic() - started
    return {
        "topology": spec, "routers": len(topo.nodes),
        "links": len(topo.physical_links()), "namespaces_removed": removed,
        "kernel_routes": routes, "build_s": round(build_s, 3),
        "teardown_s": round(teardown_s, 3),
        "rss_peak_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "kernel_mem_mib": round((before - standing) / 1024, 1), "machine": machine(),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--routers", type=int, default=120)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.routers < 2:
        raise SystemExit("--routers: give at least 2, e.g. 120")
    result = run(args.routers)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(machine_line(result["machine"]))
    print(
        f"{result['topology']}: {result['routers']} namespaces, {result['links']} veth pairs, "
        f"{result['kernel_routes']} kernel routes built in {result['build_s']:.1f} s, "
        f"removed in {result['teardown_s']:.1f} s; peak RSS {result['rss_peak_mib']} MiB, "
        f"kernel {result['kernel_mem_mib']} MiB"
    )


if __name__ == "__main__":
    main()
