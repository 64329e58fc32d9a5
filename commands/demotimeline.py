"""The live demo's timeline, judged from outside: the network's ground truth against the
controller's own events.

Inputs are plain records: the network's JSON event lines (`netpilot network run --events`,
`wall` in unix seconds, `sim_s` in network time) and the controller's events (`GET /v1/events`,
`at` in unix seconds; same machine, same clock). Per fault:

- detect: the first controller event after the fault's onset that names the faulty link with
  the right signal (a link reported down, a fault risk, a forecast, a measured SLA break),
  in wall seconds after the failure (negative: ahead of it);
- locate: the same event names the link, so locate = detect;
- rectify: the reconcile the detection caused, finished and committed;
- SLA violations: probe samples with an SLA missed from the onset to the next fault's onset.

Every figure is wall-clock; network-time equivalents are wall x speed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Fault:
    name: str
    kind: str  # cut, degradation, latency, surge
    link: str | None
    onset_wall: float
    fail_wall: float
    onset_sim: float


def faults_from(truth: list[dict[str, Any]], speed: float) -> list[Fault]:
    """Faults from the network's events: degradations (failing at their link's next link_down),
    cuts (a link_down without a degradation before it), latency rises, surges (whose "failure"
    is the end of their ramp: the peak)."""
    out: list[Fault] = []
    degrading: dict[str, dict[str, Any]] = {}
    for ev in truth:
        kind, link = ev.get("kind"), ev.get("link")
        if kind == "degrade" and link:
            if ev.get("signal") == "latency":
                out.append(Fault(f"latency {link}", "latency", link, ev["wall"], ev["wall"],
                                 ev["sim_s"]))  # fmt: skip
            else:
                degrading[link] = ev
        elif kind == "link_down" and link:
            start = degrading.pop(link, None)
            if start is not None:
                name = f"degradation {link} ({start.get('signal', 'optics')})"
                out.append(Fault(name, "degradation", link, start["wall"], ev["wall"],
                                 start["sim_s"]))  # fmt: skip
            else:
                out.append(Fault(f"cut {link}", "cut", link, ev["wall"], ev["wall"], ev["sim_s"]))
        elif kind == "surge":
            key = f"{ev.get('src')}->{ev.get('dst')}"
            peak = ev["wall"] + float(ev.get("ramp_s") or 0.0) / speed
            out.append(Fault(f"traffic surge {key}", "surge", None, ev["wall"], peak, ev["sim_s"]))
    return sorted(out, key=lambda f: f.onset_wall)


def _detects(fault: Fault, event: Mapping[str, Any]) -> bool:
    kind, cause = event.get("kind"), str(event.get("cause", ""))
    link = fault.link or ""
    if fault.kind == "cut":
        return kind == "topology" and f"reports {link} down" in cause
    if fault.kind == "degradation":
        risk = kind == "avoid" and cause.startswith("fault risk") and f" on {link} " in cause
        return risk or (kind == "topology" and f"reports {link} down" in cause)
    if fault.kind == "latency":
        return kind == "telemetry" and cause.startswith(f"telemetry: {link} ")
    return kind == "avoid" and cause.startswith("utilisation forecast")


def _signal(event: Mapping[str, Any]) -> str:
    cause = str(event.get("cause", ""))
    if event.get("kind") == "topology":
        return "link_down" if cause.endswith(" down") else "link_up"
    if event.get("kind") == "telemetry":
        return "sla"
    return "risk" if cause.startswith("fault risk") else "forecast"


def _link_of(event: Mapping[str, Any], fault: Fault) -> str | None:
    if fault.link:
        return fault.link
    cause = str(event.get("cause", ""))
    words = cause.split(" on ", 1)
    return words[1].split()[0] if len(words) == 2 else None


def timeline(
    faults: list[Fault],
    controller: list[dict[str, Any]],
    probes: list[dict[str, Any]],
    moved_by_cause: Mapping[str, list[str]],
    speed: float,
) -> list[dict[str, Any]]:
    rows = []
    for k, fault in enumerate(faults):
        until = faults[k + 1].onset_sim if k + 1 < len(faults) else float("inf")
        row: dict[str, Any] = {
            "event": fault.name,
            "onset_sim_s": fault.onset_sim,
            "sla_violations": violations(probes, fault.onset_sim, until),
        }
        if fault.kind == "surge":
            row["peak_utilisation"] = peak_utilisation(probes, fault.onset_sim, until)
        hit = next(
            (e for e in controller if e["at"] >= fault.onset_wall and _detects(fault, e)), None
        )
        if hit is None:
            row.update(link=None, signal=None, detect_s=None, locate_s=None, rectify_s=None,
                       rectify_wall_s=None, moved=[], committed=False)  # fmt: skip
            rows.append(row)
            continue
        done = next(
            (e for e in controller if e["kind"] == "reconcile" and e["cause"] == hit["cause"]
             and e["at"] >= hit["at"]),
            None,
        )  # fmt: skip
        detect = hit["at"] - fault.fail_wall
        rectify = None if done is None else done["at"] - fault.fail_wall
        row.update(
            link=_link_of(hit, fault),
            signal=_signal(hit),
            detect_s=detect,
            locate_s=detect,
            rectify_s=rectify,
            rectify_wall_s=None if done is None else done["at"] - hit["at"],
            detect_network_s=detect * speed,
            rectify_network_s=None if rectify is None else rectify * speed,
            moved=sorted(moved_by_cause.get(hit["cause"], [])),
            committed=done is not None and "committed=True" in str(done.get("detail", "")),
        )
        if fault.kind == "surge" and done is not None:
            before = peak_utilisation(probes, fault.onset_sim, until, until_wall=done["at"])
            row["utilisation_at_rectify"] = before
        rows.append(row)
    return rows


def violations(probes: Iterable[Mapping[str, Any]], start_sim: float, end_sim: float) -> int:
    """Probe samples with an SLA missed, for samples in [start_sim, end_sim)."""
    return sum(
        sum(not v.get("met", True) for v in p.get("intents", {}).values())
        for p in probes
        if start_sim <= p.get("sim_s", -1.0) < end_sim
    )


def peak_utilisation(
    probes: Iterable[Mapping[str, Any]],
    start_sim: float,
    end_sim: float,
    until_wall: float = float("inf"),
) -> dict[str, Any]:
    """The busiest link the network measured in [start_sim, end_sim) and up to `until_wall`
    (its `hot_links`)."""
    link, peak = None, 0.0
    for p in probes:
        if not start_sim <= p.get("sim_s", -1.0) < end_sim or p.get("wall", 0.0) > until_wall:
            continue
        for name, util in p.get("hot_links", {}).items():
            if util > peak:
                link, peak = name, float(util)
    return {"link": link, "utilisation": peak}


def compliance_by_class(
    probes: Iterable[Mapping[str, Any]], classes: Mapping[str, str], after_wall: float
) -> dict[str, float]:
    met: dict[str, list[bool]] = {}
    for p in probes:
        if p.get("wall", 0.0) < after_wall:
            continue
        for name, v in p.get("intents", {}).items():
            met.setdefault(classes.get(name, "?"), []).append(bool(v.get("met")))
    return {c: sum(v) / len(v) for c, v in sorted(met.items()) if v}


def moved_by_cause(histories: Mapping[str, list[dict[str, Any]]]) -> dict[str, list[str]]:
    """Which intents each cause moved, from their state histories ("moving to a new path:
    <cause>" while installing)."""
    out: dict[str, list[str]] = {}
    prefix = "moving to a new path: "
    for name, history in histories.items():
        for h in history:
            reason = str(h.get("reason", ""))
            if reason.startswith(prefix):
                out.setdefault(reason[len(prefix) :], []).append(name)
    return {cause: sorted(set(names)) for cause, names in out.items()}
