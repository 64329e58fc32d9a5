"""Benchmark: big edit-configs on the simulated routers, and whether they stall the others.

In process: the router datastore's edit-config (harness/datastore.py) loading n policies into an
empty datastore, then a replace of all n, then libyang validation. Over NETCONF/SSH, with the
routers in a second process (one asyncio loop, as `netpilot devices start` runs them): one
network-wide transaction (lock, edit, validate, confirmed commit, confirm) installing n policies
on router r1, while another client reads r2's running config in a loop; the slowest of those
reads during the transaction is the stall r1's edit caused on the shared loop (the issue measured
9 s for 1,500 policies before the edit left the loop).

    .venv/bin/python bench/southbound_edits.py --json
    .venv/bin/python bench/southbound_edits.py --policies 1000,5000 --json
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from controller.desired import DeviceConfig
from controller.southbound.inventory import load_inventory
from controller.southbound.netconf import NetconfSouthbound
from controller.southbound.render import render_config, render_edit
from controller.southbound.session import DeviceSession
from controller.southbound.transaction import TransactionOptions
from controller.southbound.yang import Schema
from harness.bigconfig import big_config
from harness.datastore import apply_edit, content, new_datastore

SERVE = Path(__file__).resolve().with_name("southbound.py")  # its --serve runs a fleet


def in_process(n: int) -> dict[str, float]:
    schema = Schema()
    store = new_datastore()
    start = time.perf_counter()
    apply_edit(schema, store, render_config(big_config("r1", n)), "merge")
    load = time.perf_counter() - start
    edit = render_edit(big_config("r1", n), big_config("r1", n, revision=2))
    start = time.perf_counter()
    work = copy.deepcopy(store)
    apply_edit(schema, work, edit, "merge")
    replace = time.perf_counter() - start
    start = time.perf_counter()
    schema.validate(content(work), "bench")
    validate = time.perf_counter() - start
    return {"load_s": round(load, 3), "replace_all_s": round(replace, 3),
            "validate_s": round(validate, 3)}  # fmt: skip


def reader(entry_session: DeviceSession, stop: threading.Event, out: list[float]) -> None:
    while not stop.is_set():
        start = time.perf_counter()
        entry_session.get_config("running")
        out.append(time.perf_counter() - start)


def over_netconf(n: int, inventory: Path) -> dict[str, object]:
    inv = load_inventory(inventory)
    sb = NetconfSouthbound(
        inv, transaction_options=TransactionOptions(confirm_timeout_s=600), max_workers=2
    )
    other = DeviceSession(inv.get("r2"))
    try:
        sb.connect_all(["r1"])
        other.get_config("running")
        idle: list[float] = []
        for _ in range(20):  # the read's own time, nothing else going on
            start = time.perf_counter()
            other.get_config("running")
            idle.append(time.perf_counter() - start)
        during: list[float] = []
        stop = threading.Event()
        thread = threading.Thread(target=reader, args=(other, stop, during))
        thread.start()
        start = time.perf_counter()
        result = sb.apply_sync(1, {"r1": big_config("r1", n)}, {"r1": DeviceConfig("r1")})
        seconds = time.perf_counter() - start
        stop.set()
        thread.join()
        sb.apply_sync(2, {"r1": DeviceConfig("r1")}, {"r1": big_config("r1", n)})
        return {
            "policies": n, "committed": result.committed, "transaction_s": round(seconds, 3),
            "other_router_reads_during": len(during),
            "other_router_read_max_s": round(max(during, default=0.0), 3),
            "other_router_read_idle_median_s": round(sorted(idle)[len(idle) // 2], 4),
        }  # fmt: skip
    finally:
        other.close()
        sb.close_sync()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policies", default="1000,4000,5000", help="comma-separated sizes")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    sizes = [int(x) for x in args.policies.split(",")]
    out: dict[str, object] = {
        "bench": "southbound_edits",
        "machine": {"nproc": os.cpu_count(), "python": platform.python_version(),
                    "load_avg_1m": round(os.getloadavg()[0], 2)},
        "in_process": {str(n): in_process(n) for n in sizes},
    }  # fmt: skip
    tmp = Path(tempfile.mkdtemp(prefix="np-bench-edits-"))
    (tmp / "names").write_text("r1\nr2\n")
    proc = subprocess.Popen(
        [sys.executable, str(SERVE), "--serve", str(tmp / "names"), str(tmp / "inventory.yaml")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "READY"
        out["over_netconf"] = [over_netconf(n, tmp / "inventory.yaml") for n in sizes]
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        proc.wait(timeout=120)
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        for key, value in out.items():
            print(f"{key}: {value}")


if __name__ == "__main__":
    main()
