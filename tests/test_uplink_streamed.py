"""Probe windows streamed as they close (issue 20, item 4 goal): a branch router publishes each
uplink's newest window ON_CHANGE, the collector hands it on at once (not as a sample, and
without waiting for the next SAMPLE or telemetry round), and the planner judges the uplink's SLA
on arrival, so the third bad window moves the class."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from controller.avoid import AvoidConfig
from controller.devicestate import DeviceState, InterfaceState, UplinkProbe
from controller.runtime.signals import SignalPlanner
from harness.gnmi_server import GnmiServer, Snapshot
from harness.gnmi_tls import make_pki
from harness.routing import LinkIndex
from harness.scenario import FaultPlan, parse_scenario
from harness.uplink_probes import UplinkProber
from telemetry.gnmi_inventory import GnmiAccess, GnmiDevice
from telemetry.gnmi_model import encode_containers, probe_leaves
from telemetry.stream_collector import StreamCollector, StreamOptions
from topologies.loader import load

INDEX = LinkIndex(load("bank-wan:4"))


def prober(at: str) -> UplinkProber:
    event = {"kind": "brownout", "link": "BR1-internet", "loss": 0.08, "at": at, "until": "40s"}
    return UplinkProber(INDEX, FaultPlan(parse_scenario({"events": [event]}), INDEX))


def wait(ready: Callable[[], bool], what: str, deadline_s: float = 20.0) -> None:
    end = time.monotonic() + deadline_s
    while not ready():
        assert time.monotonic() < end, f"no {what} within {deadline_s}s"
        time.sleep(0.02)


def test_a_mid_window_onset_impairs_that_windows_later_probes_only() -> None:
    def loss(p: UplinkProber, t: float) -> float:
        return next(w.loss for w in p.at("BR1", t) if w.link == "BR1-internet" and w.at == t)

    aligned, mid = prober("10s"), prober("11s")
    assert loss(aligned, 10.0) == 0.0 and 0.03 <= loss(aligned, 12.0) <= 0.15
    assert 0.01 < loss(mid, 12.0) < loss(aligned, 14.0)  # half of [10, 12] s saw it
    assert loss(mid, 14.0) == loss(aligned, 14.0)  # whole windows alike


def test_each_closed_window_reaches_the_planner_at_once_and_the_third_bad_one_moves(
    tmp_path: Path,
) -> None:
    p = prober("10s")
    iface = tuple(InterfaceState(link) for link in ("BR1-internet", "BR1-5g"))

    def snapshot(t: float) -> Snapshot:
        state = DeviceState("BR1", t, 1, iface, probes=p.at("BR1", t))
        return Snapshot(t, probe_leaves(state.probes), tuple(encode_containers(state)))

    server = GnmiServer(make_pki(tmp_path))
    server.publish({"BR1": snapshot(2.0)})
    server.start()
    access = GnmiAccess(
        server.pki.ca_file,
        "netpilot",
        server.pki.password,
        {"BR1": GnmiDevice("BR1", "127.0.0.1", server.port, "BR1")},
    )
    collector = StreamCollector(access, StreamOptions(sample_s=600.0))  # no SAMPLE meanwhile
    arrived: list[tuple[str, tuple[UplinkProbe, ...]]] = []
    lock = threading.Lock()

    def on_probe(device: str, windows: tuple[UplinkProbe, ...]) -> None:
        with lock:
            arrived.append((device, windows))

    collector.start(on_probe=on_probe)
    planner = SignalPlanner(AvoidConfig())
    try:
        wait(lambda: collector.streams["BR1"].health.synced, "sync")
        synced_samples = collector.streams["BR1"].health.samples
        moved_at = None
        for t in range(4, 20, 2):
            # what GnmiNetwork.publish does each step: the router's events first
            server.publish_events({"BR1": (float(t), snapshot(float(t)).leaves)})
            wait(lambda t=t: any(w.at == t for _, ws in arrived for w in ws), f"window to {t}s")
            with lock:
                _, windows = arrived[-1]
            assert {w.link for w in windows} == {"BR1-private-line", "BR1-mpls-vpn",
                                                 "BR1-internet", "BR1-5g"}  # fmt: skip
            signals = planner.window_signals(windows)
            if signals and moved_at is None:
                moved_at = t
                (signal,) = signals
                assert signal.kind == "uplink"
                assert signal.cause.startswith("SLA: BR1-internet: voice, production, video")
                assert "for 3 probes in a row" in signal.cause
        assert moved_at == 16  # windows [10, 12], [12, 14], [14, 16] s bad: moved at the third
        health = collector.streams["BR1"].health
        assert health.samples == synced_samples  # windows are events, not samples (rates)
        # the round sees the sync's dump alone (stamped 2 s): no state per window
        assert [s.timestamp for s in collector.collect().states] == [2.0]
    finally:
        collector.close()
        server.stop()


def test_streamed_and_round_windows_are_taken_once() -> None:
    p, planner = prober("10s"), SignalPlanner(AvoidConfig())
    moves = 0
    for t in range(2, 20, 2):
        windows = p.at("BR1", float(t))
        newest = tuple(w for w in windows if w.at == t)
        moves += len(planner.window_signals(newest))  # streamed as it closed
        state = DeviceState("BR1", float(t), probes=windows)
        assert planner.probe_signals([state]) == []  # the round's copy: seen already
    assert moves == 1 and planner.probes.probes == 4 * 9
