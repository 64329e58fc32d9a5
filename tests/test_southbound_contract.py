"""Contract suite for the NETCONF driver: the same tests against every backend.

Backends: a simulated router of each flavour started here (`netpilot`, `iosxr`, `openconfig`:
controller/southbound/flavors/), and `env`, a server named by NETPILOT_NETCONF_HOST / _PORT /
_USER / _KEY (optional _PASSWORD, _HOST_KEY or _KNOWN_HOSTS for host-key checking, and _FLAVOR,
default netpilot). Without NETPILOT_NETCONF_HOST the `env` parameter is not generated. The
server must implement its flavour's modules with :candidate and :confirmed-commit (NAPALM runs
its getter tests against a mock and real devices the same way).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from southbound_support import start_fleet

from controller.desired import DeviceConfig
from controller.southbound.errors import DeviceError
from controller.southbound.flavors import FLAVORS, Flavor
from controller.southbound.flavors import get as get_flavor
from controller.southbound.inventory import Credentials, DeviceEntry, Inventory
from controller.southbound.netconf import NetconfSouthbound
from controller.southbound.session import DeviceSession, SessionOptions
from controller.southbound.transaction import TransactionOptions
from harness.sample import ring, sample_config, sample_network

TOPO = ring(4)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        names = [*FLAVORS] + (["env"] if os.environ.get("NETPILOT_NETCONF_HOST") else [])
        metafunc.parametrize("backend", names, indirect=True, scope="module")


@dataclass
class Backend:
    entry: DeviceEntry
    known_hosts: Path | None = None

    @property
    def flavor(self) -> Flavor:
        return get_flavor(self.entry.flavor)

    def held(self, cfg: DeviceConfig) -> DeviceConfig:
        """`cfg` as the device holds it (its flavour's canonical form)."""
        return self.flavor.carried(cfg)

    def session(self) -> DeviceSession:
        return DeviceSession(
            self.entry, options=SessionOptions(rpc_timeout_s=10), known_hosts=self.known_hosts
        )

    def southbound(self) -> NetconfSouthbound:
        inventory = Inventory((self.entry,), self.known_hosts)
        return NetconfSouthbound(
            inventory, transaction_options=TransactionOptions(confirm_timeout_s=30)
        )


def _env_backend() -> Backend:
    env = os.environ
    key = env.get("NETPILOT_NETCONF_KEY")
    creds = Credentials(
        env.get("NETPILOT_NETCONF_USER", "netpilot"),
        env.get("NETPILOT_NETCONF_PASSWORD"),
        Path(key) if key else None,
    )
    entry = DeviceEntry(
        "r1",  # the device name only labels the config; any server works
        env["NETPILOT_NETCONF_HOST"],
        int(env.get("NETPILOT_NETCONF_PORT", "830")),
        creds,
        env.get("NETPILOT_NETCONF_HOST_KEY"),
        env.get("NETPILOT_NETCONF_FLAVOR", "netpilot"),
    )
    known = env.get("NETPILOT_NETCONF_KNOWN_HOSTS", "~/.ssh/known_hosts")
    return Backend(entry, Path(known).expanduser())


@pytest.fixture(scope="module")
def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Backend]:
    if request.param == "env":
        yield _env_backend()
        return
    directory = tmp_path_factory.mktemp("contract")
    runner = start_fleet(["r1"], directory, flavors=request.param)
    entry = runner.fleet.inventory()["devices"][0]
    yield Backend(
        DeviceEntry(
            "r1",
            entry["host"],
            entry["port"],
            Credentials(entry["username"], None, Path(entry["key_file"])),
            entry["host_key"],
            entry["flavor"],
        )
    )
    runner.stop()


@pytest.fixture
def sb(backend: Backend) -> Iterator[NetconfSouthbound]:
    southbound = backend.southbound()
    # start every test from an empty managed config
    result = southbound.apply_sync(0, {"r1": DeviceConfig("r1")}, {}, full_replace=True)
    assert result.committed, result
    yield southbound
    southbound.close_sync()


def test_hello_advertises_what_the_driver_needs(backend: Backend) -> None:
    session = backend.session()
    try:
        session.manager()
        caps = session.capabilities
        assert caps.candidate and caps.confirmed_commit and caps.validate
        assert set(backend.flavor.capabilities()) <= set(caps.uris)
    finally:
        session.close()


def test_transaction_installs_exactly_the_desired_config(
    backend: Backend, sb: NetconfSouthbound
) -> None:
    want = sample_config(TOPO, "r1", 1)
    result = sb.apply_sync(1, {"r1": want}, {"r1": DeviceConfig("r1")})
    assert result.committed and not result.failed_devices
    assert sb.running_all(["r1"])["r1"] == backend.held(want)


def test_minimal_edit_touches_only_what_changed(backend: Backend, sb: NetconfSouthbound) -> None:
    first = sample_config(TOPO, "r1", 1)
    assert sb.apply_sync(1, {"r1": first}, {"r1": DeviceConfig("r1")}).committed
    # change one policy's bandwidth and drop one QoS class
    changed = first.sr_policies[0].__class__(
        **{**first.sr_policies[0].__dict__, "bandwidth_bps": 7e9}
    )
    second = DeviceConfig("r1", (changed, *first.sr_policies[1:]), first.steering, first.qos[:-1])
    edit = backend.flavor.edit(first, second, full=False)
    assert edit is not None
    touched = [
        el for el in edit.iter() if el.get("{urn:ietf:params:xml:ns:netconf:base:1.0}operation")
    ]
    # one replace (the policy), one remove (the class; on iosxr its two class maps, ingress
    # and egress, and its rule in each of the two policy maps)
    assert len(touched) == (5 if backend.entry.flavor == "iosxr" else 2)
    assert sb.apply_sync(2, {"r1": second}, {"r1": first}).committed
    assert sb.running_all(["r1"])["r1"] == backend.held(second)


def test_second_session_gets_lock_denied(backend: Backend, sb: NetconfSouthbound) -> None:
    a, b = backend.session(), backend.session()
    try:
        a.rpc("lock", lambda m: m.lock("candidate"))
        with pytest.raises(DeviceError, match="lock-denied"):
            b.rpc("lock", lambda m: m.lock("candidate"))
        a.rpc("unlock", lambda m: m.unlock("candidate"))
        b.rpc("lock", lambda m: m.lock("candidate"))
        b.rpc("unlock", lambda m: m.unlock("candidate"))
    finally:
        a.close()
        b.close()


def test_device_validates_against_the_yang(backend: Backend, sb: NetconfSouthbound) -> None:
    cfg = backend.flavor.render(sample_config(TOPO, "r1", 1))
    cfg.find(".//{*}dscp").text = "99"  # out of range 0..63
    s = backend.session()
    try:
        s.rpc("lock", lambda m: m.lock("candidate"))
        with pytest.raises(DeviceError, match=r"invalid-value|bad-element|range|operation-failed"):
            s.rpc("edit", lambda m: m.edit_config(cfg, target="candidate"))
            s.rpc("validate", lambda m: m.validate("candidate"))
        s.rpc("discard", lambda m: m.discard_changes())
        s.rpc("unlock", lambda m: m.unlock("candidate"))
        assert s.get_config("running") == DeviceConfig("r1")
    finally:
        s.close()


def test_local_validation_refuses_before_sending(sb: NetconfSouthbound) -> None:
    want = sample_config(TOPO, "r1", 1)
    bad = DeviceConfig(
        "r1", want.sr_policies[:1], want.steering[1:2], want.qos
    )  # rule -> no policy
    result = sb.apply_sync(1, {"r1": bad}, {})
    assert not result.committed
    assert result.devices["r1"].phase == "validate"
    assert re.search(
        "steering rule .*refers to an SR policy that is not configured",
        result.devices["r1"].error or "",
    )
    assert sb.running_all(["r1"])["r1"] == DeviceConfig("r1")


def test_confirmed_commit_rolls_back_when_not_confirmed(
    backend: Backend, sb: NetconfSouthbound
) -> None:
    s = backend.session()
    try:
        cfg = backend.flavor.render(sample_config(TOPO, "r1", 3))
        s.rpc("lock", lambda m: m.lock("candidate"))
        s.rpc("edit", lambda m: m.edit_config(cfg, target="candidate"))
        s.rpc("commit", lambda m: m.commit(confirmed=True, timeout="1"))
        assert s.get_config("running") == backend.held(sample_config(TOPO, "r1", 3))
        deadline = time.monotonic() + 10
        while s.get_config("running") != DeviceConfig("r1"):
            assert time.monotonic() < deadline, "no rollback after the confirm timeout"
            time.sleep(0.1)
        s.rpc("unlock", lambda m: m.unlock("candidate"))
    finally:
        s.close()


def test_cancel_commit_with_persist_id_from_another_session(
    backend: Backend, sb: NetconfSouthbound
) -> None:
    a, b = backend.session(), backend.session()
    try:
        cfg = backend.flavor.render(sample_config(TOPO, "r1", 4))
        a.rpc("edit", lambda m: m.edit_config(cfg, target="candidate"))
        a.rpc("commit", lambda m: m.commit(confirmed=True, timeout="60", persist="tok-1"))
        a.close()  # persist: the commit survives the session
        assert b.get_config("running") == backend.held(sample_config(TOPO, "r1", 4))
        b.rpc("cancel", lambda m: m.cancel_commit(persist_id="tok-1"))
        assert b.get_config("running") == DeviceConfig("r1")
    finally:
        b.close()


def test_discard_changes_drops_the_candidate(backend: Backend, sb: NetconfSouthbound) -> None:
    s = backend.session()
    try:
        cfg = backend.flavor.render(sample_config(TOPO, "r1", 5))
        s.rpc("lock", lambda m: m.lock("candidate"))
        s.rpc("edit", lambda m: m.edit_config(cfg, target="candidate"))
        assert s.get_config("candidate") == backend.held(sample_config(TOPO, "r1", 5))
        s.rpc("discard", lambda m: m.discard_changes())
        assert s.get_config("candidate") == DeviceConfig("r1")
        s.rpc("unlock", lambda m: m.unlock("candidate"))
    finally:
        s.close()


def test_operational_state_parses(backend: Backend, sb: NetconfSouthbound) -> None:
    want = sample_config(TOPO, "r1", 1)
    assert sb.apply_sync(1, {"r1": want}, {}).committed
    state = sb.state_all(["r1"])["r1"]
    assert not isinstance(state, str), state
    assert state.device == "r1" and state.timestamp > 0
    if backend.entry.flavor != "iosxr":  # the iosxr flavour does not read SR policy state
        assert {(p.color, p.endpoint) for p in state.sr_policies} >= {
            p.key for p in want.sr_policies
        }


def test_drift_is_seen_and_repaired(backend: Backend, sb: NetconfSouthbound) -> None:
    want = sample_network(TOPO, 1)["r1"]
    assert sb.apply_sync(1, {"r1": want}, {}).committed
    assert not sb.drift({"r1": want})[0].drifted
    # someone edits the device behind netpilot's back
    s = backend.session()
    try:
        rogue = backend.flavor.edit(
            want, DeviceConfig("r1", want.sr_policies[:1], (), want.qos), full=False
        )
        s.rpc("edit", lambda m: m.edit_config(rogue, target="candidate"))
        s.rpc("commit", lambda m: m.commit())
    finally:
        s.close()
    drift = sb.drift({"r1": want})[0]
    assert drift.drifted and drift.edit() is not None
    actual = drift.actual
    assert actual is not None
    assert sb.apply_sync(2, {"r1": want}, {"r1": actual}).committed
    assert not sb.drift({"r1": want})[0].drifted


def test_periodic_drift_watch_reports_only_drifted_devices(
    backend: Backend, sb: NetconfSouthbound
) -> None:
    import asyncio

    from controller.southbound.drift import watch_drift

    want = sample_network(TOPO, 1)["r1"]
    assert sb.apply_sync(1, {"r1": want}, {}).committed
    seen: list[list[str]] = []

    async def scenario() -> int:
        stop = asyncio.Event()

        async def report(drifts: list) -> None:  # type: ignore[type-arg]
            seen.append([d.device for d in drifts])

        async def tick(_: float) -> None:
            if len(seen) == 0 and not hasattr(tick, "done"):
                tick.done = True  # type: ignore[attr-defined]
                s = backend.session()
                try:  # drift appears between the first and second pass
                    rogue = backend.flavor.edit(
                        want, DeviceConfig("r1", want.sr_policies, (), want.qos), full=False
                    )
                    s.rpc("edit", lambda m: m.edit_config(rogue, target="candidate"))
                    s.rpc("commit", lambda m: m.commit())
                finally:
                    s.close()
            else:
                stop.set()

        return await watch_drift(
            sb, lambda: {"r1": want}, report, interval_s=0.0, stop=stop, sleep=tick
        )

    passes = asyncio.run(scenario())
    assert passes == 2 and seen == [["r1"]]


def test_unknown_device_fails_the_transaction_before_any_rpc(sb: NetconfSouthbound) -> None:
    want = {"r1": sample_config(TOPO, "r1", 1), "ghost": DeviceConfig("ghost")}
    result = sb.apply_sync(1, want, {})
    assert not result.committed and result.failed_devices == ["ghost"]
    assert result.devices["ghost"].phase == "inventory"
    assert sb.running_all(["r1"])["r1"] == DeviceConfig("r1")


def test_async_southbound_protocol(backend: Backend, sb: NetconfSouthbound) -> None:
    """The engine's view: `Southbound` methods are coroutines (ncclient runs in threads)."""
    import asyncio

    from controller.southbound.base import Southbound

    async def engine(southbound: Southbound) -> tuple[bool, DeviceConfig]:
        want = {"r1": sample_config(TOPO, "r1", 6)}
        result = await southbound.apply(6, want, {"r1": DeviceConfig("r1")})
        return result.committed, await southbound.running("r1")

    committed, running = asyncio.run(engine(sb))
    assert committed and running == backend.held(sample_config(TOPO, "r1", 6))
    other = backend.southbound()
    asyncio.run(other.close())
    assert all(not s.connected for s in other.sessions.values())
