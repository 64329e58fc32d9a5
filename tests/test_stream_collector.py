"""The streaming collector against real gNMI servers on 127.0.0.1: samples become device states,
oper-status changes arrive at once, and misbehaving devices (malformed updates, paths not in
the model, a stalled stream, a certificate from another CA, an unknown target) are each marked
stale with a one-line cause and restarted with back-off, while a healthy device streams on."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from controller.devicestate import DeviceState, InterfaceState
from harness.gnmi_server import GnmiServer
from harness.gnmi_tls import make_pki
from telemetry.gnmi_inventory import GnmiAccess, GnmiDevice
from telemetry.gnmi_model import encode_leaves
from telemetry.stream_collector import StreamCollector, StreamOptions
from telemetry.stream_metrics import register_stream_metrics

BAD = {"GARBAGE": "garbage", "BADVALUE": "badvalue", "STALL": "stall"}


def leaves(name: str, t: float, up: bool = True) -> tuple[float, list]:  # type: ignore[type-arg]
    iface = InterfaceState(f"{name}-x", up, 1e9, in_octets=int(t) * 100, out_octets=int(t))
    return t, encode_leaves(DeviceState(name, t, 1, (iface,)))


def wait(ready: Callable[[], bool], what: str, deadline_s: float = 20.0) -> None:
    end = time.monotonic() + deadline_s
    while not ready():
        assert time.monotonic() < end, f"no {what} within {deadline_s}s"
        time.sleep(0.05)


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[tuple[GnmiServer, GnmiServer]]:
    good = GnmiServer(make_pki(tmp_path / "a"))
    other = GnmiServer(make_pki(tmp_path / "b"))  # signed by a CA the collector does not trust
    good.publish({n: leaves(n, 1000.0) for n in ["GOOD", "AWAY", *BAD]})
    other.publish({"TLS": leaves("TLS", 1000.0)})
    good.start()
    other.start()
    yield good, other
    good.stop()
    other.stop()


def test_bad_devices_are_stale_alone_and_recover(servers: tuple[GnmiServer, GnmiServer]) -> None:
    good, other = servers
    devices = {n: GnmiDevice(n, "127.0.0.1", good.port, n) for n in ["GOOD", "AWAY", *BAD]}
    devices["TLS"] = GnmiDevice("TLS", "127.0.0.1", other.port, "TLS")
    devices["NOWHERE"] = GnmiDevice("NOWHERE", "127.0.0.1", good.port, "no-such-router")
    access = GnmiAccess(good.pki.ca_file, "netpilot", good.pki.password, devices)
    for name, fault in BAD.items():
        good.inject(name, fault)
    options = StreamOptions(sample_s=0.2, stall_s=1.0, backoff_s=0.1, max_backoff_s=0.4)
    links: list[tuple[str, str, bool, float]] = []
    collector = StreamCollector(access, options)
    collector.start(on_link=lambda *a: links.append(a))
    causes: dict[str, str] = {}
    good_states: list[DeviceState] = []
    try:

        def all_stale() -> bool:
            result = collector.collect()
            causes.update(result.errors)
            good_states.extend(s for s in result.states if s.device == "GOOD")
            assert "GOOD" not in result.errors, result.errors
            return {*BAD, "TLS", "NOWHERE"} <= set(causes)

        wait(all_stale, "stale cause for every bad device")
        assert "not a path of the model" in causes["GARBAGE"]
        assert "is not a number" in causes["BADVALUE"]
        assert "stream stalled" in causes["STALL"]
        assert "UNAVAILABLE" in causes["TLS"]
        assert "unknown target 'no-such-router'" in causes["NOWHERE"]
        assert all("\n" not in c and c.startswith(f"device {n!r}: ") for n, c in causes.items())
        wait(lambda: collector.health()["STALL"]["restarts"] >= 1, "a restart of the stall")
        health = collector.health()
        assert all(health[n]["restarts"] >= 1 for n in causes), health
        assert health["GOOD"]["restarts"] == 0 and health["GOOD"]["samples"] >= 2

        good.publish({"GOOD": leaves("GOOD", 1010.0, up=False)})  # a cut: at once, once
        wait(lambda: bool(links), "the oper-status change")
        assert [(d, i, up) for d, i, up, _ in links] == [("GOOD", "GOOD-x", False)]
        assert links[0][3] == pytest.approx(1010.0)
        wait(lambda: any(s.timestamp == 1010.0 for s in collector.collect().states), "sample")

        _check_metrics(collector)
        good.set_reachable("AWAY", False)  # a device_unreachable window: its stream ends
        wait(lambda: "unreachable" in collector.collect().errors.get("AWAY", ""), "AWAY stale")
        good.set_reachable("AWAY", True)
        for name in BAD:
            good.inject(name, None)
        back = {*BAD, "AWAY"}
        wait(lambda: not back & set(collector.collect().errors), "recovery", 30)
    finally:
        collector.close()
    states = {s.timestamp: s for s in good_states}
    first = states[1000.0].interfaces[0]
    assert (first.name, first.oper_up, first.in_octets, first.speed_bps) == (
        "GOOD-x",
        True,
        1e5,
        1e9,
    )


def _check_metrics(collector: StreamCollector) -> None:
    registry = CollectorRegistry()
    assert register_stream_metrics(registry, collector)
    text = generate_latest(registry).decode()
    assert 'netpilot_gnmi_stream_up{device="GOOD"} 1.0' in text
    assert 'netpilot_gnmi_stream_up{device="TLS"} 0.0' in text
    restarts = registry.get_sample_value("netpilot_gnmi_stream_restarts_total", {"device": "TLS"})
    assert restarts is not None and restarts >= 1
    age = registry.get_sample_value("netpilot_gnmi_sample_age_seconds", {"device": "GOOD"})
    assert age is not None and age >= 0
