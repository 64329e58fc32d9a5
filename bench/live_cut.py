"""Benchmark: link cuts on a live network (issue 12): `netpilot network run` (bank-wan, the bank
intents probed) and `netpilot controller run --inventory` (telemetry every `--interval` s) as two
processes; the network cuts one link after another (branch uplinks, core links; each cut stays
down) and the controller is judged from outside. Per cut: the ground-truth `link_down` (the
network's events file) -> the controller's `topology` event naming the link (detect) -> the
`reconcile` with the same cause (rectify: committed and read back), and every intent that used
the link as its primary path off it (`GET /v1/intents/{name}/status`). Goal: rectify <=
interval + 2 s.

    .venv/bin/python bench/live_cut.py [--json] [--cuts 5] [--interval 10] [--speed 1]

Cuts fall `--gap` (32) s apart, so with the default 10 s interval each lands 2 s later in the
controller's polling cycle than the one before: 5 cuts sample the cycle evenly, from a cut just
before a poll (detected at once) to one just after (waits a whole interval). The network steps
every `--step` (1) s of wall time so that a cut is not held to a 10 s grid.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.live_common import machine, machine_line, wait_for, write_scenario
from commands.livedemo import LiveDemo, LiveSpec

LINKS = ("BR1-P-SH", "BR2-P-GZ", "DC1-DC2-a", "BR4-P-WH", "HQ-DC2-a", "BR5-P-WH")
"""Branch private lines (the cheapest uplink, so the primary path of the branch's intents) and
core links (the DC interconnect, HQ to DC2) that carry bank intents."""
HEALTHY = ("installed", "verified")
CONTROLLER_DEFAULTS = ("--tick", "60", "--drift-interval", "300")
"""`controller run`'s own defaults (LiveDemo scales them to the network's speed for the demo)."""
SLACK_S = 2.0
"""The goal: rectified within one telemetry interval plus this many wall seconds."""


def primary_links(live: LiveDemo, name: str) -> list[str]:
    primary = live.get(f"/v1/intents/{name}/status")["primary"]
    return list(primary["links"]) if primary else []


def on_link(live: LiveDemo, link: str) -> list[str]:
    """Intents whose primary path crosses `link` now."""
    return [r["name"] for r in live.get("/v1/intents") if link in primary_links(live, r["name"])]


def all_healthy(live: LiveDemo) -> bool:
    records = live.get("/v1/intents")
    return bool(records) and all(
        r["state"] in HEALTHY or (r["state"] == "accepted" and "time window" in r["reason"])
        for r in records
    )


def truth_down(live: LiveDemo, link: str) -> dict[str, Any] | None:
    return next((e for e in live.truth() if e["kind"] == "link_down" and e["link"] == link), None)


def detection(live: LiveDemo, link: str, after: float) -> dict[str, Any] | None:
    """The controller's first `topology` event naming `link` down, at or after `after`."""
    return next(
        (
            e
            for e in live.controller_events()
            if e["kind"] == "topology" and f"reports {link} down" in e["cause"] and e["at"] >= after
        ),
        None,
    )


def rectified(live: LiveDemo, hit: dict[str, Any]) -> dict[str, Any] | None:
    """The `reconcile` event with the detection's cause (written once committed and verified)."""
    return next(
        (
            e
            for e in live.controller_events()
            if e["kind"] == "reconcile" and e["cause"] == hit["cause"] and e["at"] >= hit["at"]
        ),
        None,
    )


def measure_cut(live: LiveDemo, link: str, cut_wall: float, interval: float) -> dict[str, Any]:
    """Watch one cut from outside: before it, the intents on the link; after it, the truth,
    the detection, the reconcile and the intents' primary paths."""
    wait_for(lambda: time.time() >= cut_wall - 2.0, timeout_s=cut_wall - time.time() + 5)
    ready = all_healthy(live)
    before = on_link(live, link)
    wait_s = max(30.0, cut_wall - time.time() + 30)
    down = wait_for(lambda: truth_down(live, link), timeout_s=wait_s)
    row: dict[str, Any] = {"link": link, "intents_on_link": before, "healthy_before": ready}
    if down is None:
        return {**row, "error": "the network logged no link_down"}
    row["sim_s"] = down["sim_s"]
    limit = 3 * interval + 30.0
    hit = wait_for(lambda: detection(live, link, down["wall"] - 1.0), timeout_s=limit)
    if hit is None:
        return {**row, "error": f"no topology event for {link} within {limit:g}s"}
    done = wait_for(lambda: rectified(live, hit), timeout_s=limit)
    off = wait_for(lambda: not any(link in primary_links(live, n) for n in before), limit, 0.1)
    off_seen = time.time()
    still = [n for n in before if link in primary_links(live, n)]
    states = {r["name"]: r["state"] for r in live.get("/v1/intents") if r["name"] in before}
    detail = "" if done is None else str(done.get("detail", ""))
    moved = re.search(r"moved=(\d+)", detail)
    rectify = None if done is None else done["at"] - down["wall"]
    committed = "committed=True" in detail
    return {
        **row,
        "down_wall": down["wall"],
        "cause": hit["cause"],
        "detect_s": hit["at"] - down["wall"],
        "rectify_s": rectify,
        "reaction_s": None if done is None else done["at"] - hit["at"],
        "committed": committed,
        "moved": int(moved.group(1)) if moved else None,
        "off_link": bool(off) and not still,
        "still_on_link": still,
        "off_link_seen_s": off_seen - down["wall"] if off else None,
        "states_after": states,
        "goal_met": bool(before and committed and not still)
        and rectify is not None
        and rectify <= interval + SLACK_S,
    }


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    links = args.links[: args.cuts]
    offsets = [args.first + k * args.gap for k in range(len(links))]
    plan = write_scenario(work / "cuts.yaml", [
        {"kind": "link_down", "link": link, "at": f"{offset * args.speed:g}s"}
        for link, offset in zip(links, offsets, strict=True)
    ])  # fmt: skip
    spec = LiveSpec(
        work=work,
        models=args.models,
        speed=args.speed,
        sample_s=args.interval * args.speed,
        scenario=plan,
        network_step_s=args.step * args.speed,
        controller_args=CONTROLLER_DEFAULTS,
    )
    t0 = time.perf_counter()
    with LiveDemo(spec) as live:
        startup_s = time.perf_counter() - t0
        started = next(e for e in live.truth() if e["kind"] == "started")
        installed = wait_for(lambda: all_healthy(live), timeout_s=args.first)
        rows = [
            measure_cut(live, link, started["wall"] + offset, args.interval)
            for link, offset in zip(links, offsets, strict=True)
        ]
        telemetry = live.get("/v1/telemetry")
    done = [r for r in rows if r.get("rectify_s") is not None]
    judged = [r for r in rows if r["intents_on_link"] or "error" in r]
    return {
        "machine": machine(),
        "interval_s": args.interval,
        "speed": args.speed,
        "network_step_s": args.step,
        "goal_s": args.interval + SLACK_S,
        "startup_s": startup_s,
        "installed_before_first_cut": bool(installed),
        "cuts": rows,
        "max_detect_s": max((r["detect_s"] for r in done), default=None),
        "max_rectify_s": max((r["rectify_s"] for r in done), default=None),
        "max_reaction_s": max((r["reaction_s"] for r in done), default=None),
        "goal_met": bool(judged) and all(r.get("goal_met") for r in judged),
        "cuts_without_intents": [r["link"] for r in rows if r not in judged],
        "telemetry": {k: telemetry.get(k) for k in ("rounds", "last_round_s", "stale", "models")},
    }


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def report(r: dict[str, Any]) -> None:
    print(machine_line(r["machine"]))
    print(
        f"bank-wan, speed {r['speed']:g}, telemetry every {r['interval_s']:g} s (wall), network "
        f"step {r['network_step_s']:g} s; goal: rectify <= {r['goal_s']:g} s"
    )
    print(f"{'link':<10} {'intents':>7} {'detect':>7} {'rectify':>8} {'reaction':>8}  goal")
    for c in r["cuts"]:
        if "error" in c:
            print(f"{c['link']:<10} {len(c['intents_on_link']):>7}  {c['error']}")
            continue
        met = "met" if c["goal_met"] else "NOT met"
        if not c["intents_on_link"]:
            met = "n/a: no intent on the link"
        print(
            f"{c['link']:<10} {len(c['intents_on_link']):>7} {_s(c['detect_s']):>7} "
            f"{_s(c['rectify_s']):>8} {_s(c['reaction_s']):>8}  {met} "
            f"(moved {c['moved']}, committed {c['committed']}, off the link {c['off_link']})"
        )
    print(
        f"max: detect {_s(r['max_detect_s'])} s, rectify {_s(r['max_rectify_s'])} s, controller "
        f"reaction {_s(r['max_reaction_s'])} s; goal {'met' if r['goal_met'] else 'NOT met'}"
    )


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--cuts", type=int, default=5, help=f"how many cuts (1-{len(LINKS)})")
    ap.add_argument("--interval", type=float, default=10.0, help="telemetry interval, wall s")
    ap.add_argument("--speed", type=float, default=1.0, help="network speed (x real time)")
    ap.add_argument("--first", type=float, default=45.0, help="first cut, wall s after start")
    ap.add_argument("--gap", type=float, default=32.0, help="wall s between cuts")
    ap.add_argument("--step", type=float, default=1.0, help="network step, wall s")
    ap.add_argument("--links", type=lambda s: s.split(","), default=list(LINKS))
    ap.add_argument("--models", type=Path, help="trained loop models (default: stand-ins)")
    args = ap.parse_args(argv)
    if not 1 <= args.cuts <= len(args.links):
        ap.error(f"--cuts {args.cuts}: give 1 to {len(args.links)} (one link per cut)")
    with tempfile.TemporaryDirectory(prefix="np-cut-") as tmp:
        result = run(args, Path(tmp))
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        report(result)
    return result


if __name__ == "__main__":
    main()
