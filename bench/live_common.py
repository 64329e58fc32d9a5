"""Shared pieces of the live-controller benchmarks (bench/live_*.py): the machine they ran on,
a process's CPU time and memory from /proc, the controller's Prometheus counters, scenario files
and percentiles."""

from __future__ import annotations

import datetime
import math
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml
from prometheus_client.parser import text_string_to_metric_families

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def machine() -> dict[str, Any]:
    """nproc, CPU model, memory, Python, load average and the UTC date of the run."""
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_kib = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "mem_gib": round(mem_kib / 2**20, 1),
        "python": platform.python_version(),
        "loadavg": list(os.getloadavg()),
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def machine_line(m: dict[str, Any]) -> str:
    load = ", ".join(f"{x:.1f}" for x in m["loadavg"])
    return (
        f"machine: {m['nproc']} cores ({m['cpu']}), {m['mem_gib']} GiB, Python {m['python']}, "
        f"load average {load}, {m['date']}"
    )


@dataclass(frozen=True)
class ProcSample:
    """One reading of a process: wall time, CPU seconds (user + system), memory, threads."""

    wall: float
    cpu_s: float
    rss_kib: int
    hwm_kib: int
    threads: int
    fds: int


def read_proc(pid: int) -> ProcSample:
    """Read /proc/<pid>/stat (utime, stime) and /proc/<pid>/status (VmRSS, VmHWM, Threads)."""
    wall = time.time()
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "; fields from 3 on
    cpu_s = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime: fields 14, 15
    status: dict[str, str] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        status[key] = value.strip()
    try:
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        fds = -1
    return ProcSample(
        wall=wall,
        cpu_s=cpu_s,
        rss_kib=int(status.get("VmRSS", "0 kB").split()[0]),
        hwm_kib=int(status.get("VmHWM", "0 kB").split()[0]),
        threads=int(status.get("Threads", "0")),
        fds=fds,
    )


def cpu_percent(a: ProcSample, b: ProcSample) -> float:
    """CPU use between two samples in % of one core."""
    return 100.0 * (b.cpu_s - a.cpu_s) / max(b.wall - a.wall, 1e-9)


def scrape(base: str) -> dict[str, float]:
    """GET /metrics: every sample, keyed by name and labels (`name{k="v"}`)."""
    text = httpx.get(f"{base}/metrics", timeout=10).text
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            out[f"{sample.name}{{{labels}}}" if labels else sample.name] = float(sample.value)
    return out


def write_scenario(path: Path, events: list[dict[str, Any]]) -> Path:
    path.write_text(yaml.safe_dump({"name": path.stem, "events": events}, sort_keys=False))
    return path


def wait_for(check: Callable[[], Any], timeout_s: float, every_s: float = 0.2) -> Any:
    """`check()` until it is truthy (returned) or `timeout_s` passes (None)."""
    deadline = time.monotonic() + timeout_s
    while True:
        got = check()
        if got or time.monotonic() > deadline:
            return got or None
        time.sleep(every_s)


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), nearest rank; nan for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]
