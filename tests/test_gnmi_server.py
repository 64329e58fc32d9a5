"""The simulated routers' gNMI server, driven by an independent client (pygnmi) over TLS on
127.0.0.1: Capabilities, Get, Subscribe STREAM (ON_CHANGE and SAMPLE), authentication."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from pygnmi.client import gNMIclient
from pygnmi.spec.v080 import gnmi_pb2_grpc

from controller.devicestate import DeviceState, InterfaceState, QueueStats
from harness.gnmi_server import GnmiServer
from harness.gnmi_tls import GnmiPki, make_pki
from telemetry.gnmi_model import DeviceAssembler, encode_leaves, neighbors_of
from telemetry.gnmi_paths import PathError, matches, parse, text
from telemetry.gnmi_stream import subscribe_request


def state(t: float, up: bool = True, octets: int = 0) -> DeviceState:
    iface = InterfaceState(
        "R1-R2", up, 10e9, in_octets=octets, out_octets=2 * octets, rx_power_dbm=-3.1,
        tx_bias_ma=35.2, delay_s=0.002,
        queues=(QueueStats("voice", 0, tx_octets=octets), QueueStats("test", 5, 7, 1, 2)),
    )  # fmt: skip
    return DeviceState("R1", t, 3, (iface,))


def leaves(t: float, up: bool = True, octets: int = 0) -> tuple[float, list[Any]]:
    lldp = neighbors_of({"R1-R2": ("R2", "R1-R2")} if up else {})
    return t, encode_leaves(state(t, up, octets)) + lldp


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> GnmiPki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def server(pki: GnmiPki) -> Iterator[GnmiServer]:
    srv = GnmiServer(pki)
    srv.publish({"R1": leaves(1000.0)})
    srv.start()
    yield srv
    srv.stop()


def client(srv: GnmiServer, password: str | None = None, **kw: Any) -> gNMIclient:
    return gNMIclient(
        target=("127.0.0.1", srv.port), username="netpilot",
        password=srv.pki.password if password is None else password,
        path_cert=str(srv.pki.ca_file), **kw,
    )  # fmt: skip


def test_model_round_trip_and_paths() -> None:
    asm = DeviceAssembler("R1")
    for elems, value in leaves(5.0, octets=1234)[1]:
        asm.apply(elems, value)
    asm.timestamp = 5.0
    assert asm.state() == state(5.0, octets=1234)
    assert asm.neighbors == {"R1-R2": {"R2": "R1-R2"}}
    assert matches(parse("interfaces/interface[name=*]/state"), parse(text(leaves(0)[1][1][0])))
    assert not matches(parse("interfaces/interface[name=X]"), parse("interfaces/interface[name=Y]"))
    with pytest.raises(PathError, match="not a path of the model"):
        asm.apply(parse("interfaces/interface[name=a]/state/bogus"), 1)
    with pytest.raises(PathError, match="is not a number"):
        asm.apply(parse("interfaces/interface[name=a]/state/counters/in-octets"), "x")


def test_pygnmi_capabilities_and_get(server: GnmiServer) -> None:
    with client(server) as gc:
        caps = gc.capabilities()
        assert caps["gnmi_version"] == "0.8.0"
        assert "openconfig-interfaces" in {m["name"] for m in caps["supported_models"]}
        got = gc.get(path=["interfaces/interface[name=R1-R2]/state/counters"], target="R1")
    updates = got["notification"][0]["update"]
    assert {u["path"].rsplit("/", 1)[-1] for u in updates} >= {"in-octets", "in-fcs-errors"}
    assert all(u["val"] == 0 for u in updates if u["path"].endswith("in-octets"))


def test_subscribe_without_credentials_is_refused(server: GnmiServer) -> None:
    with pytest.raises(Exception, match="username/password"), client(server, "wrong") as gc:
        gc.capabilities()
    creds = grpc.ssl_channel_credentials(server.pki.ca_file.read_bytes())
    with grpc.secure_channel(f"127.0.0.1:{server.port}", creds) as channel:
        stub = gnmi_pb2_grpc.gNMIStub(channel)
        calls = stub.Subscribe(iter([subscribe_request("R1", 1.0)]))  # no metadata at all
        with pytest.raises(grpc.RpcError) as refused:
            next(calls)
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with client(server) as gc, pytest.raises(Exception, match="unknown target"):
        gc.get(path=["interfaces"], target="nobody")
    assert server.stats.refused >= 1


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_pygnmi_subscribe_stream_on_change_and_sample(server: GnmiServer) -> None:
    request = {
        "subscription": [
            {"path": "interfaces/interface/state/oper-status", "mode": "on_change"},
            {"path": "interfaces/interface/state/counters", "mode": "sample",
             "sample_interval": 200_000_000},
        ],
        "mode": "stream",
        "encoding": "proto",
    }  # fmt: skip
    seen: list[dict[str, Any]] = []  # pygnmi's reader thread ends CANCELLED when closed: ignored
    with client(server) as gc:
        stream = gc.subscribe2(subscribe=request, target="R1")
        reader = threading.Thread(target=lambda: _read(stream, seen), daemon=True)
        reader.start()
        _wait(lambda: any(m.get("sync_response") for m in seen), "sync_response")
        server.publish({"R1": leaves(1010.0, up=False, octets=5000)})
        _wait(lambda: _value(seen, "oper-status") == "DOWN", "the ON_CHANGE update")
        _wait(lambda: _value(seen, "in-octets") == 5000, "a SAMPLE with the new counters")
        stream.close()
    kinds = [_leaf(u) for m in seen for u in m.get("update", {}).get("update", [])]
    assert "oper-status" in kinds and "out-octets" in kinds
    assert "input-power" not in kinds  # not subscribed


def _read(stream: Any, out: list[dict[str, Any]]) -> None:
    try:
        for message in stream:
            out.append(message)
    except Exception:  # the client closing the stream
        return


def _leaf(update: dict[str, Any]) -> str:
    return str(update["path"]).rsplit("/", 1)[-1]


def _value(seen: list[dict[str, Any]], leaf: str) -> Any:
    value = None
    for message in seen:
        for u in message.get("update", {}).get("update", []):
            if _leaf(u) == leaf:
                value = u["val"]
    return value


def _wait(ready: Any, what: str, deadline_s: float = 20.0) -> None:
    end = time.monotonic() + deadline_s
    while not ready():
        assert time.monotonic() < end, f"no {what} within {deadline_s}s"
        time.sleep(0.02)


def test_pki_files(pki: GnmiPki) -> None:
    assert pki.ca_file.read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert Path(pki.key_file).stat().st_mode & 0o077 == 0
    assert len(pki.password) >= 16
