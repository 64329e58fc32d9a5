"""End to end: `netpilot network run` and `netpilot controller run` as two OS processes that
share only NETCONF; the controller judged from outside (its REST API, the network's ground truth
and the routers' running configs read over NETCONF)."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from commands.livedemo import LiveDemo, LiveSpec
from controller.southbound.netconf import NetconfSouthbound

pytestmark = pytest.mark.serial  # judged in real time: run alone, not beside other tests

HEALTHY = ("installed", "verified")


def wait_for(check: Callable[[], Any], timeout_s: float = 60.0, every_s: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(every_s)
    raise AssertionError(f"not true within {timeout_s}s: {check}")


def scenario(path: Path, events: list[dict[str, Any]]) -> Path:
    path.write_text(yaml.safe_dump({"name": path.stem, "events": events}))
    return path


def all_healthy(live: LiveDemo) -> bool:
    """Every intent installed or verified (a time-windowed one may wait for its window)."""
    records = live.get("/v1/intents")
    return bool(records) and all(
        r["state"] in HEALTHY or (r["state"] == "accepted" and "time window" in r["reason"])
        for r in records
    )


def links_of(live: LiveDemo, name: str) -> list[str]:
    primary = live.get(f"/v1/intents/{name}/status")["primary"]
    return list(primary["links"]) if primary else []


def event(live: LiveDemo, kind: str, text: str, after: float = 0.0) -> dict[str, Any] | None:
    """The first controller event of `kind` whose cause has `text`, at or after `after`."""
    return next(
        (
            e
            for e in live.controller_events()
            if e["kind"] == kind and text in e["cause"] and e["at"] >= after
        ),
        None,
    )


def truth(live: LiveDemo, kind: str, node: str) -> dict[str, Any] | None:
    """The network's first ground-truth event of `kind` for router `node`."""
    return next((e for e in live.truth() if e["kind"] == kind and e.get("node") == node), None)


def test_uplink_cut_rerouted_and_unreachable_router_marked_stale(tmp_path: Path) -> None:
    plan = scenario(tmp_path / "cut.yaml", [
        {"kind": "link_down", "link": "BR1-P-SH", "at": "150s", "until": "60m"},
        {"kind": "device_unreachable", "node": "BR3", "at": "5m", "until": "6m"},
    ])  # fmt: skip
    spec = LiveSpec(work=tmp_path, speed=10, sample_s=10, scenario=plan)
    with LiveDemo(spec) as live:
        wait_for(lambda: all_healthy(live))
        names = [r["name"] for r in live.get("/v1/intents")]
        on_link = [n for n in names if "BR1-P-SH" in links_of(live, n)]
        assert on_link, "no intent uses the branch's primary uplink before the cut"
        # the cut: seen by telemetry, those intents rerouted and committed, healthy again
        wait_for(lambda: event(live, "topology", "reports BR1-P-SH down"))
        wait_for(lambda: not any("BR1-P-SH" in links_of(live, n) for n in on_link))
        wait_for(lambda: all(live.get(f"/v1/intents/{n}")["state"] in HEALTHY for n in on_link))
        for name in on_link:
            history = live.get(f"/v1/intents/{name}/status")["history"]
            assert any("reports BR1-P-SH down" in h["reason"] for h in history), name
        # BR3 stops answering: stale with a cause, the API and readiness unaffected, recovered
        gone = wait_for(lambda: truth(live, "unreachable", "BR3"), timeout_s=90)
        stale = wait_for(lambda: event(live, "device-stale", "BR3", after=gone["wall"]))
        assert stale["detail"]
        assert httpx.get(f"{live.base}/readyz", timeout=2).status_code == 200
        assert live.get("/v1/intents")  # the API answers while a router is away
        back = wait_for(lambda: truth(live, "reachable", "BR3"), timeout_s=90)
        wait_for(lambda: event(live, "device-recovered", "BR3", after=back["wall"]))
        assert "BR3" not in live.get("/v1/telemetry")["stale"]


def test_restart_repairs_a_device_changed_behind_the_controllers_back(tmp_path: Path) -> None:
    plan = scenario(tmp_path / "calm.yaml", [])
    spec = LiveSpec(work=tmp_path, speed=10, sample_s=10, scenario=plan)
    with LiveDemo(spec) as live:
        wait_for(lambda: all_healthy(live))
        # uvicorn shuts down cleanly, then re-raises the SIGTERM it caught
        assert live.stop("controller") in (0, -signal.SIGTERM)
        south = NetconfSouthbound.from_inventory(live.inventory)
        try:
            before = south.running_all(["BR3"])["BR3"]
            assert not isinstance(before, str) and before.qos and before.sr_policies
            drifted = replace(before, qos=before.qos[1:])  # a QoS class deleted on BR3
            assert south.apply_sync(10_000, {"BR3": drifted}, {"BR3": before}).committed
            assert south.running_all(["BR3"])["BR3"] == drifted
            live.start_controller()  # same database: it must not trust it alone
            wait_for(lambda: south.running_all(["BR3"])["BR3"] == before)
        finally:
            south.close_sync()
        assert event(live, "drift", "") is not None
        wait_for(lambda: all_healthy(live))


def test_engine_rounds_that_raise_are_survived_and_shown(tmp_path: Path) -> None:
    """Three reconcile rounds raise (a failpoint armed from the environment, as etcd's gofail):
    each is logged, counted and shown as an event, /readyz answers 503 with the cause after the
    third, and the loop goes on: the intents are installed and /readyz is 200 again."""
    plan = scenario(tmp_path / "calm.yaml", [])
    spec = LiveSpec(
        work=tmp_path, speed=10, sample_s=10, scenario=plan,
        controller_env=(("NETPILOT_FAILPOINTS", "engine-round=3"),),
    )  # fmt: skip
    with LiveDemo(spec) as live:
        not_ready = wait_for(lambda: _not_ready(live.base), timeout_s=60, every_s=0.1)
        assert "3 consecutive failed rounds" in not_ready["cause"]
        assert "failpoint engine-round" in not_ready["cause"]
        wait_for(lambda: httpx.get(f"{live.base}/readyz", timeout=2).status_code == 200)
        wait_for(lambda: all_healthy(live))
        errors = [e for e in live.controller_events() if e["kind"] == "round-error"]
        assert len(errors) == 3 and all("failpoint" in e["detail"] for e in errors)
        metrics = httpx.get(f"{live.base}/metrics", timeout=5).text
        assert "netpilot_engine_round_errors_total 3.0" in metrics
        assert "Traceback" in (tmp_path / "controller.log").read_text()  # logged with its trace


def _not_ready(base: str) -> dict[str, Any] | None:
    response = httpx.get(f"{base}/readyz", timeout=2)
    return dict(response.json()) if response.status_code == 503 else None
