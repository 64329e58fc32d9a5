"""Leader election on etcd: one replica runs the engine, the telemetry loop and the pushes.

Each replica holds an etcd lease (TTL `--lease-ttl`, default 3 s) and campaigns by creating the
leader key with that lease in one transaction that succeeds only while the key is absent. The
winner refreshes its lease every TTL/6; the others poll the key (every `poll_s`) and campaign again
once it is gone, i.e. once the leader's lease expired (it died, or lost etcd) or it resigned.

Fencing. Every store write of the leader carries the guard "the leader key is still held by my
lease" in the same etcd transaction (`guards()`, set as the store's fence), and `check_fence()`
runs that guard alone before the confirming commit of each network transaction: a deposed leader
neither records a revision nor confirms one on the devices (it cancels its pending commits;
those of a leader that died are cancelled by the next one, `controller.ha_takeover`). Locally,
a leader whose last successful refresh was sent more than TTL - `margin_s` ago confirms nothing
more, before etcd can elect anybody else, and asks etcd once: a lease found alive (the process
was only starved of CPU) lets it lead on, anything else deposes it. The refreshes run on the
election's own thread. Losing the leadership ends the replica's leader work through
`on_deposed` (the runtime stops the engine and exits, like kube-controller-manager; a
supervisor starts it again as a follower).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from controller.errors import NetpilotError
from controller.store_api import StoreUnavailable
from controller.store_etcd_client import JSON, EtcdClient, if_lease, if_mod, op_put

log = logging.getLogger("netpilot.ha")
T = TypeVar("T")


class Deposed(StoreUnavailable):
    """This replica is no longer the leader (its lease expired or was taken over)."""


@dataclass
class Role:
    """What /readyz says about the cluster."""

    identity: str
    role: str = "follower"  # leader | follower
    leader: str | None = None
    leader_url: str | None = None
    cause: str = ""
    """Why this replica cannot work right now (etcd unreachable); empty when it can."""

    def view(self) -> dict[str, Any]:
        out: dict[str, Any] = {"role": self.role, "leader": self.leader, "id": self.identity}
        if self.leader_url:
            out["leader_url"] = self.leader_url
        return out


def election_client(endpoints: list[str], ttl_s: int) -> EtcdClient:
    """A client for the election: each request gives up after TTL/6 and moves on to the next
    member rather than wait for a cluster without a raft leader (the lease loop retries)."""
    client = EtcdClient(endpoints, timeout_s=max(0.3, ttl_s / 6))
    client.settle_s = 0.0
    return client


class Election:
    """Campaign for the leader key; see the module docstring."""

    def __init__(
        self,
        client: EtcdClient,
        key: str,
        identity: str,
        url: str,
        ttl_s: int = 3,
        *,
        poll_s: float = 0.25,
        margin_s: float = 0.5,
    ) -> None:
        self.client = client
        """Best its own (`election_client`): short timeouts, no waiting out etcd elections."""
        self.key = key
        self.ttl_s = ttl_s
        self.poll_s = poll_s
        self.margin_s = margin_s
        self.url = url
        self.state = Role(identity)
        self.lease = 0
        self._renewed_at = 0.0  # time.monotonic() when the last good refresh was sent
        self._lost = False
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lease")
        """The election's own thread: a lease refresh never queues behind the engine's and the
        telemetry's blocking calls in asyncio's default pool (5 threads on 2 cores), which on a
        loaded machine deposed healthy leaders."""

    @property
    def leading(self) -> bool:
        return self.state.role == "leader" and not self._lost

    def guards(self) -> list[JSON]:
        """The store's fence: empty for a follower (its writes are the API's, always allowed)."""
        if self.state.role != "leader":
            return []
        return [if_lease(self.key, self.lease)]

    def check_fence(self) -> None:
        """Raise `Deposed` unless the leader key is still held by this replica's lease (one etcd
        transaction; runs before each confirming commit). An etcd that does not answer (e.g.
        electing its own leader) is asked again until the local lease deadline."""
        while True:
            if self.state.role != "leader" or self._lost:
                raise Deposed(f"{self.state.identity} is not the leader: not confirming")
            if time.monotonic() >= self._deadline():
                raise Deposed(f"{self.state.identity}: lease not refreshed in time: not confirming")
            try:
                held = self.client.txn([if_lease(self.key, self.lease)], []).succeeded
            except StoreUnavailable:
                time.sleep(0.1)
                continue
            if not held:
                raise Deposed(f"{self.state.identity}: the leader key is no longer ours")
            return

    async def campaign(
        self,
        on_elected: Callable[[], Awaitable[None]],
        on_deposed: Callable[[str], None],
    ) -> None:
        """Run until deposed (then call `on_deposed(why)` and return) or cancelled."""
        while True:
            try:
                if await self._in_thread(self._try_to_lead):
                    log.warning("%s elected leader (lease %x)", self.state.identity, self.lease)
                    why = await self._lead_and_hold(on_elected)
                    self._lost = True
                    log.error("%s deposed: %s", self.state.identity, why)
                    on_deposed(why)
                    return
                self.state.cause = ""
            except StoreUnavailable as error:
                self.state.cause = str(error)
            except NetpilotError as error:  # e.g. our lease expired under us: a new one next
                log.warning("%s: campaign: %s", self.state.identity, error)
                self.lease = 0
            await asyncio.sleep(self.poll_s)

    async def _lead_and_hold(self, on_elected: Callable[[], Awaitable[None]]) -> str:
        """Refresh the lease from the moment of the election on, also while `on_elected` loads
        the store and checks the devices (which may take longer than the TTL); return why the
        leadership ended. Deposed meanwhile: `on_elected` is cancelled; if it fails, the error
        goes on (the campaign records it and tries again)."""
        hold = asyncio.ensure_future(self._hold())
        lead = asyncio.ensure_future(on_elected())
        try:
            both: set[asyncio.Future[Any]] = {hold, lead}
            await asyncio.wait(both, return_when=asyncio.FIRST_COMPLETED)
            if not hold.done():
                lead.result()  # raises what `on_elected` raised
                return await hold
            return hold.result()
        finally:
            for task in (hold, lead):
                if not task.done():
                    task.cancel()

    def _try_to_lead(self) -> bool:
        sent = time.monotonic()  # the lease runs at least TTL from here, whatever happens next
        if self.lease == 0 or self._left(self.lease) == 0:
            sent = time.monotonic()
            self.lease = self.client.lease_grant(self.ttl_s)
        value = json.dumps({"id": self.state.identity, "url": self.url})
        won = self.client.txn([if_mod(self.key, 0)], [op_put(self.key, value, self.lease)])
        if won.succeeded:
            self._renewed_at = sent
            self.state.role = "leader"
            self.state.leader, self.state.leader_url = self.state.identity, self.url
            return True
        current = self.client.get(self.key)
        holder = json.loads(current.value) if current is not None else {}
        self.state.leader, self.state.leader_url = holder.get("id"), holder.get("url")
        return False

    def _left(self, lease: int) -> int:
        """The lease's TTL after a refresh; 0 when it expired (etcd may say "not found")."""
        try:
            return self.client.lease_keepalive(lease)
        except StoreUnavailable:
            raise
        except NetpilotError as error:
            if "lease not found" in str(error):
                return 0
            raise

    async def _hold(self) -> str:
        """Refresh the lease every TTL/6 while it holds (a refresh that fails or hangs, e.g.
        while etcd elects its own leader, is simply tried again on the next member); return why
        the leadership ended. The leader key lives exactly as long as the lease, so a refresh
        that finds the lease alive is proof enough; commits check the key itself."""
        while True:
            wait = max(0.05, min(self.ttl_s / 6, self._deadline() - time.monotonic()))
            await asyncio.sleep(wait)
            if time.monotonic() >= self._deadline() and not await self._late_refresh():
                late = self.ttl_s - self.margin_s
                return f"lease not refreshed for {late:g}s ({self.state.cause})"
            sent = time.monotonic()
            try:
                left = await self._in_thread(self.client.lease_keepalive, self.lease)
            except NetpilotError as error:
                self.state.cause = str(error)
                continue
            if left == 0:
                return "the lease expired"
            self._renewed_at, self.state.cause = sent, ""

    async def _late_refresh(self) -> bool:
        """Past the local deadline (e.g. this process got no CPU for seconds on a loaded
        machine): confirms are refused meanwhile (`check_fence`); one refresh decides. etcd
        finding the lease alive proves nobody else can lead: go on; anything else: step down."""
        sent = time.monotonic()
        try:
            left = await self._in_thread(self.client.lease_keepalive, self.lease)
        except NetpilotError as error:
            self.state.cause = str(error)
            return False
        if left == 0:
            return False
        log.warning("%s: lease refreshed late, still alive: leading on", self.state.identity)
        self._renewed_at, self.state.cause = sent, ""
        return True

    async def _in_thread(self, call: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, call, *args)

    def _deadline(self) -> float:
        return self._renewed_at + self.ttl_s - self.margin_s

    def resign(self) -> None:
        """Give the leadership up at once (a clean stop): the others need not wait for the TTL."""
        if self.lease:
            self.client.lease_revoke(self.lease)
            self.lease = 0
