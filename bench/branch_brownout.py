"""Benchmark: brownout switching on a live network (issue 20, item 4). `netpilot network run`
(bank-wan:4, its branch routers probing every uplink every 2 s) and `netpilot controller run`
(telemetry every `--interval` s) as two processes; the network browns out uplinks (they stay up:
loss, extra delay, jitter) one after another and the controller is judged from outside.

Per brownout: the ground-truth `brownout` mark (the network's events file, written at the step
where the brownout begins) -> the controller's first `sla-off` event naming the uplink (detect)
-> the `reconcile` whose cause names the uplink's probe figures (move: committed and read back;
goal: within 2 s of the detection) and every intent of the moved classes that used the uplink
off it (`GET /v1/intents/{name}/status`). With `--back`, also the return after the hold time
(60 s of good probes): the `sla-back` event and the intents on the uplink again.

A probe interval is one probe window: 2 s of network time (2 s wall at `--speed 1` when the
network keeps pace; under load its steps lag and a window takes longer). Detection is the
controller's `sla-detect` event (the planner's decision, made as the window arrives ON_CHANGE)
minus the onset, wall clock. A class leaves after 3 bad windows in a row and a window is judged
when it closes, so the floor is the close of the third window that saw the brownout (3 windows
after the onset when it begins at a window's start, 2-3 when within one, if enough of that
window's probes were impaired). Each row says how many windows the network closed (published,
per its events file) from the onset to the detection (`windows`: 3 is the goal), the wall time
they took (`windows_s`: 6 s when the network keeps pace), and the delivery after the last one
(`delivery_s`: that window's publication to the decision). `detect_probes` is `windows` plus the
delivery in intervals; `detect_wall_probes` the wall time over 2 s. Move: `sla-detect` to the
committed reconcile naming the uplink (goal 2 s), including any wait for a reconcile already
running (the engine runs one at a time).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.live_common import machine, machine_line, wait_for, write_scenario
from commands.livedemo import LiveDemo, LiveSpec

ROOT = Path(__file__).resolve().parent.parent
INTENTS = ROOT / "topologies" / "bank-wan-4.intents.yaml"
PROBE_S = 2.0
"""The simulated branch routers' probe interval (harness/uplink_probes.py)."""
MOVE_GOAL_S = 2.0
DELIVERY_GOAL_S = 0.2
"""A tenth of an interval, from a window's close to the decision."""
BROWNOUTS = (
    ("BR1-internet", "br1-dc1-office", {"loss": 0.08, "delay": "20ms", "jitter": "5ms"}),
    ("BR1-private-line", "br1-dc1-voice", {"loss": 0.03}),
    ("BR3-mpls-vpn", "br3-dc2-bigdata", {"loss": 0.05}),
)
"""(uplink, the intent on it whose class's SLA the brownout breaks, the impairment)."""


def all_healthy(live: LiveDemo) -> bool:
    records = live.get("/v1/intents")
    return bool(records) and all(r["state"] in ("installed", "verified") for r in records)


def primary(live: LiveDemo, name: str) -> list[str]:
    status = live.get(f"/v1/intents/{name}/status")["primary"]
    return list(status["links"]) if status else []


def first_event(live: LiveDemo, kind: str, link: str, after: float) -> dict[str, Any] | None:
    return next(
        (
            e
            for e in live.controller_events()
            if e["kind"] == kind and f"{link} " in e["cause"] and e["at"] >= after
        ),
        None,
    )


def moved(live: LiveDemo, link: str, after: float) -> dict[str, Any] | None:
    """The reconcile whose cause names the uplink's probe figures (`SLA: <link>: ...`)."""
    return next(
        (
            e
            for e in live.controller_events()
            if e["kind"] == "reconcile" and f"SLA: {link}:" in e["cause"] and e["at"] >= after
        ),
        None,
    )


def truth(live: LiveDemo, kind: str, link: str) -> dict[str, Any] | None:
    return next((e for e in live.truth() if e["kind"] == kind and e.get("link") == link), None)


def measure(live: LiveDemo, link: str, intent: str, limit_s: float) -> dict[str, Any]:
    row: dict[str, Any] = {"link": link, "intent": intent}
    if truth(live, "brownout", link) is not None:
        return {**row, "error": "the brownout began before the controller was ready; raise --first"}
    before = primary(live, intent)
    onset = wait_for(lambda: truth(live, "brownout", link), timeout_s=limit_s)
    if onset is None:
        return {**row, "error": "the network logged no brownout"}
    hit = wait_for(lambda: detected(live, link, onset["wall"] - 1), limit_s)
    if hit is None:
        return {**row, "error": f"no sla-detect event for {link} within {limit_s:g}s"}
    done = wait_for(lambda: moved(live, link, hit["at"] - 0.01), limit_s)
    off = wait_for(lambda: link not in primary(live, intent), limit_s, 0.1)
    applied = first_event(live, "sla-off", link, hit["at"] - 0.01)
    detect = hit["at"] - onset["wall"]
    move = None if done is None else done["at"] - hit["at"]
    split = breakdown(live, onset, hit["at"])
    return {
        **row,
        "on_link_before": link in before,
        "cause": hit["cause"],
        "onset_s": float(onset["at"]),
        "detect_s": detect,
        "detect_wall_probes": live.spec.speed * detect / PROBE_S,
        "detect_probes": split["windows"] + live.spec.speed * split["delivery_s"] / PROBE_S,
        **split,
        "queued_s": None if applied is None else applied["at"] - hit["at"],
        "move_s": move,
        "committed": done is not None and "committed=True" in str(done.get("detail", "")),
        "off_link": bool(off),
        "now_on": primary(live, intent)[:1],
        "goal_met": link in before
        and bool(off)
        and split["windows"] <= 3
        and split["delivery_s"] <= DELIVERY_GOAL_S
        and move is not None
        and move <= MOVE_GOAL_S,
    }


def detected(live: LiveDemo, link: str, after: float) -> dict[str, Any] | None:
    """The planner's decision (`sla-detect`, cause `SLA: <link>: ...`), else the engine's
    (`sla-off`), from one read of the events (whole, not `since` the last poll)."""
    events = [e for e in live.get("/v1/events", limit=1000) if e["at"] >= after]
    for kind, words in (("sla-detect", f"SLA: {link}:"), ("sla-off", f"{link} ")):
        found = next((e for e in events if e["kind"] == kind and words in e["cause"]), None)
        if found is not None:
            return found
    return None


def breakdown(live: LiveDemo, onset: dict[str, Any], detect_at: float) -> dict[str, Any]:
    """The probe windows the network closed from the onset to the detection (a window goes out
    with the first step at or after its close: the step's `published` wall time, logged by
    `network run` in its `probes` line), the wall time they took, and the delivery after the
    last one."""
    steps = [
        (float(e["sim_s"]), float(e.get("published", e["wall"])))
        for e in live.truth()
        if e["kind"] == "probes"
    ]
    start = math.floor(float(onset["at"]) / PROBE_S + 1e-9) * PROBE_S
    last, windows = float(onset["wall"]), 0
    for k in range(1, 12):
        close = next((w for t, w in steps if t >= start + k * PROBE_S - 1e-6), None)
        if close is None or close > detect_at:
            break
        last, windows = close, k
    return {
        "windows": windows,
        "windows_s": last - float(onset["wall"]),
        "delivery_s": detect_at - last,
    }


def back(live: LiveDemo, link: str, intent: str, limit_s: float) -> dict[str, Any]:
    end = wait_for(lambda: truth(live, "brownout_end", link), timeout_s=limit_s)
    if end is None:
        return {"error": "no brownout_end"}
    hit = wait_for(lambda: first_event(live, "sla-back", link, end["wall"]), limit_s)
    on = wait_for(lambda: link in primary(live, intent), limit_s, 0.2)
    return {
        "back_after_s": None if hit is None else hit["at"] - end["wall"],
        "back_on_link": bool(on),
    }


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    chosen = BROWNOUTS[: args.brownouts]
    events = [
        {"kind": "brownout", "link": link, "at": f"{args.first + k * args.gap:g}s",
         "until": f"{args.first + k * args.gap + args.length:g}s", **impair}
        for k, (link, _, impair) in enumerate(chosen)
    ]  # fmt: skip
    spec = LiveSpec(
        work=work,
        speed=1.0,
        sample_s=args.interval,
        hold_time_s=600.0,
        network_step_s=args.step,
        topology="bank-wan:4",
        scenario=write_scenario(work / "brownouts.yaml", events),
        intents=INTENTS,
        controller_args=("--tick", "60", "--drift-interval", "300"),
    )
    t0 = time.perf_counter()
    with LiveDemo(spec) as live:
        startup_s = time.perf_counter() - t0
        limit = args.first + len(chosen) * args.gap + 30
        wait_for(lambda: all_healthy(live), timeout_s=args.first)
        rows = [measure(live, link, intent, limit) for link, intent, _ in chosen]
        if args.back:
            for row, (link, intent, _) in zip(rows, chosen, strict=True):
                row.update(back(live, link, intent, args.length + 120))
        telemetry = live.get("/v1/telemetry")
    ok = [r for r in rows if "error" not in r]
    return {
        "machine": machine(),
        "interval_s": args.interval,
        "probe_s": PROBE_S,
        "network_step_s": args.step,
        "startup_s": startup_s,
        "brownouts": rows,
        "max_detect_probes": max((r["detect_probes"] for r in ok), default=None),
        "max_delivery_s": max((r["delivery_s"] for r in ok), default=None),
        "max_windows": max((r["windows"] for r in ok), default=None),
        "max_move_s": max((r["move_s"] or 0.0 for r in ok), default=None),
        "goal_met": bool(rows) and all(r.get("goal_met") for r in rows),
        "telemetry_rounds": telemetry.get("rounds"),
        "streamed_windows": telemetry.get("streamed_windows"),
    }


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def report(r: dict[str, Any]) -> None:
    print(machine_line(r["machine"]))
    print(
        f"bank-wan:4, probes every {r['probe_s']:g} s, telemetry every {r['interval_s']:g} s, "
        f"network step {r['network_step_s']:g} s; goals: detected by the 3rd window after the "
        f"onset (+ {DELIVERY_GOAL_S:g} s delivery), moved <= {MOVE_GOAL_S:g} s after"
    )
    print(
        f"{'uplink':<18} {'intent':<16} {'onset':>6} {'detect s':>8} {'probes':>6} "
        f"{'windows':>7} {'deliver':>7} {'move s':>7}  goal"
    )
    for b in r["brownouts"]:
        if "error" in b:
            print(f"{b['link']:<18} {b['intent']:<18} {b['error']}")
            continue
        met = "met" if b["goal_met"] else "NOT met"
        extra = ""
        if "back_after_s" in b:
            extra = f"  back after {_s(b['back_after_s'])} s, on it again: {b['back_on_link']}"
        print(
            f"{b['link']:<18} {b['intent']:<16} {b['onset_s']:>6g} {_s(b['detect_s']):>8} "
            f"{b['detect_probes']:>6.2f} {b['windows']:>7} {_s(b['delivery_s']):>7} "
            f"{_s(b['move_s']):>7}  {met}{extra}"
        )
        print(f"  cause: {b['cause']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--interval", type=float, default=1.0, help="telemetry interval, wall s")
    parser.add_argument("--step", type=float, default=1.0, help="network step, simulated s")
    parser.add_argument("--brownouts", type=int, default=len(BROWNOUTS))
    parser.add_argument(
        "--first", type=float, default=90.0, help="first onset, s of network time (after start-up)"
    )
    parser.add_argument("--gap", type=float, default=25.0, help="s between onsets")
    parser.add_argument("--length", type=float, default=20.0, help="s each brownout lasts")
    parser.add_argument("--back", action="store_true", help="also wait for the return")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="np-brownout-") as tmp:
        result = run(args, Path(tmp))
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        report(result)
    return 0 if result["goal_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
