"""One NETCONF device over ncclient: a session kept open, reconnect with backoff, capabilities.

ncclient's transport thread polls its send queue only when `select()` times out, every
`ncclient.transport.session.TICK` (0.1 s), so each RPC waits about 100 ms before it is sent.
Lowering the module-global TICK would change every ncclient session in the process and make each
idle session thread wake 200 times a second (500 sessions: 100,000 wake-ups/s). Instead
`_fast_send` gives each session of ours a `send` that frames the message and writes it to the
SSH channel at once (under a per-session lock); the transport thread still reads replies, which
wake its `select()` immediately. Measured figures are in docs/southbound.md.

Pipelining (`DeviceSession.pipelined`): several RPCs written in one SSH packet before their
replies (RFC 6241 4.1; the device runs them in order), sent through a second ncclient Manager on
the same session in async mode. Each RPC costs a packet each way and three thread wake-ups on
this side (paramiko's transport thread, ncclient's reader, the caller): two RPCs in one packet
cost about 40 % less CPU on both sides than two round trips.

Idle cost: each session also holds two threads that wake on a timer only to look for shutdown:
ncclient's reader (`select()` every `TICK`) and paramiko's transport (socket timeout
`_active_check_timeout`), both 0.1 s, so 120 idle sessions are 2,400 wake-ups a second fighting
for the GIL (9-10 % of a core; 32 % at 500). Since our sessions send at once and replies wake the
reader, the timers only delay noticing a close. `SessionOptions.idle_tick_s` sets paramiko's per
session (the transport's socket timeout once connected), and `set_reader_tick` sets ncclient's,
which is one module constant for the whole process: the controller's runtime calls it at start.
Figures: docs/BENCHMARKS.md, "Telemetry rounds".

Host keys (`hostkeys.py`): ncclient's own host-key pinning narrows the algorithms to the key's
name, which for RSA is `ssh-rsa` (SHA-1), gone from paramiko 5: every RSA device failed with
`KeyError: 'ssh-rsa'`. We pass ncclient no key and no known_hosts, so paramiko offers all its
algorithms (`rsa-sha2-512`/`-256` among them); ncclient then asks our `unknown_host_cb`, before
any credential is sent, and that checks the key the device presented against the pinned key or
the inventory's known_hosts file.

The fast send and the idle tick reach into ncclient's private attributes (`_q`, `_channel`,
`_base`, `_transport`, `Manager._session`): ncclient is pinned to exactly NCCLIENT_VERSION in
pyproject.toml, and tests/test_southbound_hostkeys.py checks the pin and those attributes.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from ncclient import manager as nc_manager
from ncclient import transport
from ncclient.operations import RPCError, TimeoutExpiredError
from ncclient.transport.errors import SSHUnknownHostError, TransportError
from ncclient.transport.session import NetconfBase

from controller.desired import DeviceConfig
from controller.devicestate import DeviceState
from controller.southbound.errors import ConnectError, DeviceError
from controller.southbound.flavors import Flavor
from controller.southbound.flavors import get as get_flavor
from controller.southbound.hostkeys import NO_KNOWN_HOSTS_CONFIG, HostKeyCheck, HostKeyError
from controller.southbound.inventory import DeviceEntry

T = TypeVar("T")
IDLE_TICK_S = 1.0
"""How often an idle session's threads wake in the controller (ncclient and paramiko: 0.1 s)."""
CAP = "urn:ietf:params:netconf:capability:"
NCCLIENT_VERSION = "0.7.1"
"""The ncclient release whose private attributes the fast send and the idle tick use."""


@dataclass(frozen=True)
class Capabilities:
    candidate: bool = False
    confirmed_commit: bool = False
    validate: bool = False
    rollback_on_error: bool = False
    writable_running: bool = False
    base11: bool = False
    uris: frozenset[str] = field(default=frozenset(), repr=False)

    @classmethod
    def from_uris(cls, uris: list[str]) -> Capabilities:
        names = {u.split("?")[0] for u in uris}

        def has(prefix: str) -> bool:
            return any(n.startswith(prefix) for n in names)

        return cls(
            candidate=has(f"{CAP}candidate:"),
            confirmed_commit=has(f"{CAP}confirmed-commit:"),
            validate=has(f"{CAP}validate:"),
            rollback_on_error=has(f"{CAP}rollback-on-error:"),
            writable_running=has(f"{CAP}writable-running:"),
            base11="urn:ietf:params:netconf:base:1.1" in names,
            uris=frozenset(uris),
        )


@dataclass(frozen=True)
class SessionOptions:
    rpc_timeout_s: float = 30.0
    connect_timeout_s: float = 10.0
    connect_attempts: int = 3
    backoff_s: float = 0.2
    backoff_max_s: float = 5.0
    fast_send: bool = True
    idle_tick_s: float | None = IDLE_TICK_S
    """paramiko's transport thread wakes this often when idle (None: paramiko's 0.1 s)."""


def set_reader_tick(seconds: float) -> None:
    """Set how often ncclient's reader threads wake when idle, for every session in this process
    (a module constant of ncclient; 0.1 s as shipped). Only worth it with fast send, where the
    reader never has to notice a queued message."""
    import ncclient.transport.session as nc_session

    nc_session.TICK = seconds


def _wait_hello_sent(session: Any, timeout_s: float = 2.0) -> None:
    """ncclient queues our <hello> for its reader thread to send; our fast send must not overtake
    it, so wait until that queue is empty before writing RPCs ourselves."""
    deadline = time.monotonic() + timeout_s
    while not session._q.empty() and time.monotonic() < deadline:
        time.sleep(0.005)


class _FastSend:
    """Per-session fix for ncclient's polling tick: write RPCs to the channel immediately.

    `corked()` holds the messages sent meanwhile and writes them in one go when it ends: the
    RPCs of a pipeline (`DeviceSession.pipeline`) then travel in one SSH packet."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.channel = session._channel
        self.lock = threading.Lock()
        self.base11 = session._base == NetconfBase.BASE_11
        self.held: list[bytes] | None = None

    def __call__(self, message: str) -> None:
        if not self.session.connected:
            raise TransportError("Not connected to NETCONF server")
        data = message.encode()
        framed = b"\n#%d\n%s\n##\n" % (len(data), data) if self.base11 else data + b"]]>]]>"
        with self.lock:
            if self.held is not None:
                self.held.append(framed)
            else:
                self.channel.sendall(framed)

    @contextlib.contextmanager
    def corked(self) -> Iterator[None]:
        with self.lock:
            self.held = []
        try:
            yield
        finally:
            with self.lock:
                held, self.held = self.held or [], None
                if held:
                    if not self.session.connected:
                        raise TransportError("Not connected to NETCONF server")
                    self.channel.sendall(b"".join(held))


def _fast_send(session: Any) -> _FastSend:
    sender = _FastSend(session)

    def send(message: str) -> None:
        sender(message)

    session.send = send
    return sender


def _reply_of(rpc: Any, timeout_s: float) -> Any:
    """The reply of an RPC sent in async mode, raised as the synchronous call would: the
    transport's error, TimeoutExpiredError, or the device's <rpc-error> (RPCError)."""
    if not rpc.event.wait(timeout_s):
        raise TimeoutExpiredError("ncclient timed out while waiting for an rpc reply.")
    if rpc.error is not None:
        raise rpc.error
    reply = rpc.reply
    reply.parse()
    if reply.error is not None:
        raise reply.error
    return reply


def _shutdown(mgr: Any) -> None:
    """Shut the TCP socket down before closing the session: paramiko's thread may sit in a
    `recv` for up to its idle tick, and on Linux a `close` from another thread sends nothing
    until that `recv` returns, so the router would keep our session (and its lock) meanwhile."""
    transport: Any = getattr(mgr._session, "_transport", None)
    with contextlib.suppress(Exception):  # already closed
        transport.sock.shutdown(socket.SHUT_RDWR)


def _rpc_error_text(error: RPCError) -> str:
    """The device's own rpc-error: tag, message and, when given, its error-path."""
    text = f"{error.tag}: {error.message}"
    path = (getattr(error, "path", None) or "").strip()
    return f"{text} (error-path {path})" if path and path not in text else text


class DeviceSession:
    """A device's ncclient Manager, opened on first use and reopened after a failure."""

    def __init__(
        self,
        entry: DeviceEntry,
        *,
        options: SessionOptions | None = None,
        known_hosts: Path | None = None,
        logger: logging.Logger | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.entry = entry
        self.name = entry.name
        self.flavor: Flavor = get_flavor(entry.flavor, entry.facts)
        self.options = options or SessionOptions()
        self.known_hosts = known_hosts
        self.log = logger or logging.getLogger("netpilot.southbound")
        self.sleep = sleep
        self._mgr: Any = None
        self._pipe: Any = None  # a Manager on the same session in async mode (pipeline)
        self._sender: _FastSend | None = None  # its fast send (pipelined RPCs corked in it)
        self._lock = threading.RLock()
        self.capabilities = Capabilities()
        self.connects = 0

    # -- connection ---------------------------------------------------------------------------
    def _open(self) -> Any:
        entry = self.entry
        handler = nc_manager.make_device_handler({"name": "default"})
        session = transport.SSHSession(handler)
        check = HostKeyCheck.for_device(
            entry.name, entry.host, entry.port, entry.host_key, self.known_hosts
        )
        try:
            self._connect(session, check)
        except Exception as error:
            if session.transport is not None:  # do not leak paramiko's transport thread
                with contextlib.suppress(Exception):
                    session.close()
            if isinstance(error, SSHUnknownHostError):
                reason = check.refusal or str(error)
                raise HostKeyError(self.name, "host key check", reason) from None
            raise
        if self.options.idle_tick_s is not None and session._transport is not None:
            session._transport.sock.settimeout(self.options.idle_tick_s)
        if self.options.fast_send:
            _wait_hello_sent(session)
            self._sender = _fast_send(session)
        return nc_manager.Manager(session, handler, timeout=self.options.rpc_timeout_s)

    def _connect(self, session: Any, check: HostKeyCheck) -> None:
        entry, creds = self.entry, self.entry.credentials
        session.connect(
            entry.host,
            entry.port,
            timeout=self.options.connect_timeout_s,
            unknown_host_cb=lambda host, fingerprint: check(session.transport),
            username=creds.username,
            password=creds.password,
            key_filename=str(creds.key_file) if creds.key_file else None,
            allow_agent=False,
            look_for_keys=False,
            hostkey_verify=True,  # ncclient knows no key: every key goes to unknown_host_cb
            ssh_config=str(NO_KNOWN_HOSTS_CONFIG),  # ... not even ~/.ssh/known_hosts
        )

    def connect(self) -> Any:
        """Open the session, retrying with exponential backoff; raise ConnectError."""
        delay = self.options.backoff_s
        last = ""
        for attempt in range(1, self.options.connect_attempts + 1):
            try:
                mgr = self._open()
            except HostKeyError:
                raise  # the wrong key will not become right on a retry
            except Exception as error:  # ncclient/paramiko raise many types
                last = f"{type(error).__name__}: {error}"
                self.log.info("connect %s attempt %d failed: %s", self.name, attempt, last)
                if attempt < self.options.connect_attempts:
                    self.sleep(delay)
                    delay = min(delay * 2, self.options.backoff_max_s)
                continue
            self._mgr = mgr
            self._pipe = None
            if self.options.fast_send:
                self._pipe = nc_manager.Manager(
                    mgr._session, mgr._device_handler, timeout=self.options.rpc_timeout_s
                )
                self._pipe.async_mode = True
            self.connects += 1
            self.capabilities = Capabilities.from_uris(list(mgr.server_capabilities))
            return mgr
        raise ConnectError(self.name, f"connect to {self.entry.host}:{self.entry.port}", last)

    def manager(self) -> Any:
        with self._lock:
            if self._mgr is None or not self._mgr.connected:
                self._mgr = None
                return self.connect()
            return self._mgr

    def drop(self) -> None:
        """Forget the session (closing its transport quietly)."""
        with self._lock:
            mgr, self._mgr = self._mgr, None
        if mgr is not None:
            _shutdown(mgr)
            with contextlib.suppress(Exception):  # already broken
                mgr._session.close()

    def close(self) -> None:
        with self._lock:
            mgr, self._mgr = self._mgr, None
        if mgr is not None:
            try:
                if mgr.connected:
                    mgr.close_session()
            except Exception:
                pass
            _shutdown(mgr)
            with contextlib.suppress(Exception):
                mgr._session.close()

    @property
    def connected(self) -> bool:
        return self._mgr is not None and bool(self._mgr.connected)

    @property
    def host_key_algorithm(self) -> str | None:
        """The host key algorithm the open session agreed on (e.g. rsa-sha2-512), or None."""
        mgr = self._mgr
        ssh = getattr(getattr(mgr, "_session", None), "transport", None)
        return None if ssh is None else getattr(ssh, "host_key_type", None)

    # -- RPCs ---------------------------------------------------------------------------------
    def rpc(self, doing: str, call: Callable[[Any], T]) -> T:
        """Run one RPC; rpc-errors and lost sessions become DeviceError (session dropped)."""
        mgr = self.manager()
        return self._translated(doing, lambda: call(mgr))

    def _translated(self, doing: str, call: Callable[[], T]) -> T:
        try:
            return call()
        except RPCError as error:
            raise DeviceError(self.name, doing, _rpc_error_text(error)) from None
        except (TransportError, TimeoutExpiredError, OSError, EOFError) as error:
            self.drop()
            reason = f"session lost ({type(error).__name__}: {error})"
            raise DeviceError(self.name, doing, reason) from None

    def pipeline(self, steps: list[tuple[str, Callable[[Any], Any]]]) -> None:
        """`pipelined`, raising the first refusal (in order) as `rpc` raises it."""
        failure = next((error for error in self.pipelined(steps) if error is not None), None)
        if failure is not None:
            raise failure

    def pipelined(self, steps: list[tuple[str, Callable[[Any], Any]]]) -> list[DeviceError | None]:
        """Send several RPCs back to back, in one SSH packet, then wait for their replies: RFC
        6241 (section 4.1) lets a client send <rpc>s before the replies of the earlier ones,
        and the device runs them in order (a refused one does not stop the next). A round trip
        and a packet each way are saved per RPC after the first. Returns each step's error
        (None: done), as `rpc` would raise it; after a lost session the steps not answered get
        that error too. Without fast send (ncclient as shipped) the steps run one by one."""
        mgr = self.manager()
        pipe, sender = self._pipe, self._sender
        if pipe is None or sender is None or not (pipe._session is sender.session is mgr._session):
            return [self._caught(functools.partial(self.rpc, doing, call)) for doing, call in steps]
        sent: list[tuple[str, Any]] = []
        try:
            with sender.corked():
                for doing, call in steps:
                    sent.append((doing, call(pipe)))
        except (TransportError, OSError, EOFError) as error:
            self.drop()
            # lost while writing a step, or while flushing them all when the cork ended
            doing = steps[min(len(sent), len(steps) - 1)][0]
            lost = DeviceError(self.name, doing, f"session lost ({error})")
            return [lost for _ in steps]
        timeout = self.options.rpc_timeout_s
        errors: list[DeviceError | None] = []
        for doing, rpc in sent:
            wait = self._caught(functools.partial(self._reply, doing, rpc, timeout))
            errors.append(wait)
            if wait is not None and "session lost" in wait.reason:
                errors += [wait] * (len(sent) - len(errors))
                break
        return errors

    def _reply(self, doing: str, rpc: Any, timeout_s: float) -> Any:
        return self._translated(doing, lambda: _reply_of(rpc, timeout_s))

    @staticmethod
    def _caught(call: Callable[[], object]) -> DeviceError | None:
        try:
            call()
        except DeviceError as error:
            return error
        return None

    def get_config(self, source: str = "running") -> DeviceConfig:
        """The managed config of `source`, read in the device's flavour."""
        flt = self.flavor.config_filter()
        reply = self._retry_once(f"get-config {source}", lambda m: m.get_config(source, filter=flt))
        return self.flavor.parse(self.name, reply.data_ele)

    def get_state(self) -> DeviceState:
        flt = self.flavor.state_filter()
        reply = self._retry_once("get state", lambda m: m.get(filter=flt))
        return self.flavor.parse_state(self.name, reply.data_ele)

    def expected(self, cfg: DeviceConfig) -> DeviceConfig:
        """`cfg` as this device holds it after a push (its flavour's canonical form)."""
        return self.flavor.carried(cfg)

    def _retry_once(self, doing: str, call: Callable[[Any], T]) -> T:
        """Read-only RPCs are retried once on a fresh session."""
        try:
            return self.rpc(doing, call)
        except DeviceError as error:
            if "session lost" not in error.reason:
                raise
            return self.rpc(doing, call)
