"""Benchmark: the web console's first paint (issue 19) in headless Chromium (the system's,
driven by Playwright). For each topology a real `netpilot controller run` (no --inventory:
in-memory devices; bank-wan also holds its bank intents) serves /ui/; each run opens a fresh
browser context with the token already in sessionStorage and measures, in the page's own clock
(`performance.now()`, from navigation start), the frame after the topology, the intents table
and the link states are drawn. Goals: bank-wan under 1 s, zoo:Cogentco (197 routers) under 2 s;
reported, never asserted.

    .venv/bin/python bench/ui_paint.py [--json] [--topologies bank-wan,zoo:Cogentco] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Browser, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.controller_proc import ControllerProcess
from bench.live_common import machine, machine_line
from controller.intentfile import load_intents

ROOT = Path(__file__).resolve().parent.parent
BANK_INTENTS = ROOT / "topologies" / "bank-wan.intents.yaml"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def first_paint(browser: Browser, base: str, token: str) -> dict[str, Any]:
    """One cold open of /ui/ (new context, token in the session): milliseconds from navigation
    start to the frame after the console drew, and what it drew."""
    context = browser.new_context(viewport={"width": 1400, "height": 850})
    try:
        context.add_init_script(f"sessionStorage.setItem('netpilot.token', {json.dumps(token)})")
        page = context.new_page()
        started = time.perf_counter()
        page.goto(f"{base}/ui/")
        page.wait_for_selector("body[data-painted]", timeout=60_000)
        wall_ms = (time.perf_counter() - started) * 1e3
        painted = float(page.get_attribute("body", "data-painted") or "nan")
        return {
            "paint_ms": round(painted, 1),
            "wall_ms": round(wall_ms, 1),
            "routers": page.locator("[data-node]").count(),
            "links": page.locator("[data-link]").count(),
            "intents": page.locator("#intents tbody tr").count(),
        }
    finally:
        context.close()


def measure(browser: Browser, topology: str, runs: int, work: Path) -> dict[str, Any]:
    controller = ControllerProcess(work, topology)
    controller.start(timeout_s=120)
    try:
        if topology == "bank-wan":
            intents = [
                i.model_dump(mode="json", exclude_none=True) for i in load_intents(BANK_INTENTS)
            ]
            got = httpx.post(
                f"{controller.url}/v1/apply", json={"intents": intents}, headers=controller.auth,
                timeout=60,
            )  # fmt: skip
            got.raise_for_status()
        first_paint(browser, controller.url, controller.token)  # warm the server's layout cache
        samples = [first_paint(browser, controller.url, controller.token) for _ in range(runs)]
    finally:
        controller.stop()
    paints = [s["paint_ms"] for s in samples]
    return {
        "topology": topology,
        "runs": runs,
        "routers": samples[-1]["routers"],
        "links": samples[-1]["links"],
        "intents": samples[-1]["intents"],
        "paint_ms_median": round(statistics.median(paints), 1),
        "paint_ms_min": min(paints),
        "paint_ms_max": max(paints),
        "wall_ms_median": round(statistics.median(s["wall_ms"] for s in samples), 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--topologies", default="bank-wan,zoo:Cogentco")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory(prefix="np-ui-paint-") as tmp, sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            for i, topology in enumerate(t for t in args.topologies.split(",") if t):
                work = Path(tmp) / str(i)
                work.mkdir()
                results.append(measure(browser, topology, args.runs, work))
        finally:
            browser.close()
    report: dict[str, Any] = {"machine": machine(), "results": results}
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(machine_line(report["machine"]))
    for r in results:
        print(
            f"{r['topology']}: {r['routers']} routers, {r['links']} links, {r['intents']} intents;"
            f" first paint median {r['paint_ms_median']} ms (min {r['paint_ms_min']}, max"
            f" {r['paint_ms_max']}) over {r['runs']} cold opens; wall {r['wall_ms_median']} ms"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
