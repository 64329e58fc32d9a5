"""The cheaper push (issue 14's goal): RPCs pipelined on a session, the confirm pipelined with the
unlock (and a device put back after a refused confirm locked again first), and a simulated
router that validates a candidate once per change. Real routers over NETCONF/SSH."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from southbound_support import driver, running, same, start_fleet, wait_settled

from controller.errors import ValidationError
from controller.southbound.flavors import get as get_flavor
from controller.southbound.netconf import NetconfSouthbound
from controller.southbound.transaction import TransactionHooks
from controller.southbound.yang import Schema
from harness.fleet import FleetThread
from harness.nc_router import Validated
from harness.sample import ring, sample_network

TOPO = ring(3)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FleetThread]:
    runner = start_fleet(sorted(TOPO.nodes), tmp_path_factory.mktemp("push"))
    yield runner
    runner.stop()


@pytest.fixture
def sb(fleet: FleetThread, tmp_path: Path) -> Iterator[NetconfSouthbound]:
    southbound = driver(fleet, tmp_path, confirm_timeout_s=5)
    yield southbound
    southbound.close_sync()
    wait_settled(fleet)


def locks(fleet: FleetThread) -> dict[str, dict[str, int]]:
    return fleet.call(lambda: {n: dict(r.locks) for n, r in fleet.fleet.routers.items()})


def test_pipelined_rpcs_are_answered_in_order_each_with_its_own_outcome(
    fleet: FleetThread, sb: NetconfSouthbound
) -> None:
    session = sb.sessions[sorted(TOPO.nodes)[0]]
    lock, unlock = (lambda m: m.lock("candidate")), (lambda m: m.unlock("candidate"))
    first, again, last = session.pipelined(
        [("lock", lock), ("lock again", lock), ("unlock", unlock)]
    )
    assert first is None and last is None
    assert again is not None and again.doing == "lock again"
    assert again.reason.startswith("lock-denied")  # the device ran the three in order
    with pytest.raises(Exception, match="lock-denied"):
        session.pipeline([("lock", lock), ("lock again", lock)])
    session.rpc("unlock", unlock)
    assert all(not held for held in locks(fleet).values())


class _DeadChannel:
    def sendall(self, data: bytes) -> None:
        raise OSError("broken pipe")


def test_a_session_lost_as_the_pipeline_is_written_fails_every_step(
    fleet: FleetThread, sb: NetconfSouthbound
) -> None:
    """The corked RPCs are written when the cork ends: a transport that fails then fails every
    step as a lost session (regression: an IndexError naming no step), and the next RPC
    connects again."""
    session = sb.sessions[sorted(TOPO.nodes)[1]]
    session.manager()
    assert session._sender is not None
    session._sender.channel = _DeadChannel()
    lock, unlock = (lambda m: m.lock("candidate")), (lambda m: m.unlock("candidate"))
    errors = session.pipelined([("lock", lock), ("unlock", unlock)])
    assert [e.doing for e in errors if e is not None] == ["unlock", "unlock"]
    assert all(e is not None and "session lost" in e.reason for e in errors)
    session.rpc("lock", lock)  # a new session
    session.rpc("unlock", unlock)
    wait_settled(fleet)
    assert all(not held for held in locks(fleet).values())


def test_a_refused_confirm_puts_the_confirmed_devices_back_under_a_new_lock(
    fleet: FleetThread, sb: NetconfSouthbound
) -> None:
    names = sorted(TOPO.nodes)
    one, two = sample_network(TOPO, 1), sample_network(TOPO, 2)
    assert sb.apply_sync(1, one, {}).committed
    refuser = fleet.fleet.routers[names[-1]]

    def refuse_next_commit() -> None:  # every device has committed (confirmed commit)
        fleet.call(lambda: refuser.faults.on_rpc.update({"commit": "fail"}))

    sb.hooks = TransactionHooks(before_confirm=refuse_next_commit)
    sb.options = dataclasses.replace(sb.options, confirm_attempts=1)
    result = sb.apply_sync(2, two, one)
    assert not result.committed
    assert result.devices[names[-1]].phase == "confirm commit"
    assert "injected fault" in (result.devices[names[-1]].error or "")
    wait_settled(fleet)
    assert same(running(fleet), one)  # the others were confirmed, then put back
    assert all(not held for held in locks(fleet).values())  # and unlocked again
    assert all(r.restored is not False for r in result.devices.values())


class CountingSchema(Schema):
    """The netpilot schema, counting the documents it parses."""

    def __init__(self) -> None:
        super().__init__()
        self.parsed = 0

    def validate(self, xml: str | bytes, what: str, **kwargs: Any) -> None:
        self.parsed += 1
        super().validate(xml, what, **kwargs)


def test_a_document_is_validated_once_and_a_bad_one_every_time() -> None:
    schema, cache = CountingSchema(), Validated(size=2)
    doc, newer, newest = (_doc(revision) for revision in (1, 2, 3))
    cache.validate(schema, doc, "candidate", full=False)
    cache.validate(schema, doc, "candidate", full=True)  # a partial check does not answer this
    for full in (True, False):
        cache.validate(schema, doc, "candidate", full=full)
    assert schema.parsed == 2
    bad = doc.replace(b"<dscp>", b"<dscp>9", 1)  # out of range
    assert bad != doc
    for _ in range(2):
        with pytest.raises(ValidationError):
            cache.validate(schema, bad, "candidate", full=True)
    assert schema.parsed == 4
    for other in (newer, newest):  # two newer documents push the first one out
        cache.validate(schema, other, "candidate", full=True)
    cache.validate(schema, doc, "candidate", full=True)
    assert schema.parsed == 7


def _doc(revision: int) -> bytes:
    cfg = sample_network(TOPO, revision)[sorted(TOPO.nodes)[0]]
    return b"".join(etree.tostring(el) for el in get_flavor("netpilot").render(cfg))
