"""A simulated router: a real NETCONF 1.0/1.1 server over SSH (asyncssh), datastores as lxml trees.

Many routers share one asyncio loop, each listening on its own loopback port. Supported:
hello with capabilities, get (subtree or xpath filter), get-config, edit-config (merge, replace,
create, delete, remove; default-operation, test-option, error-option), lock/unlock with
lock-denied, candidate, commit, confirmed-commit (timeout, persist, persist-id), cancel-commit,
discard-changes, validate (against the netpilot YANG module, with libyang), close-session,
rpc-error replies per RFC 6241. Operational state comes from a `StateProvider`.

Fault hooks (`router.faults`) for tests: refuse connections, delay every reply, and one-shot
actions on the next RPC of a given name: "fail" (rpc-error), "drop" (close the SSH connection
instead of running it), "drop-after" (run it, then close without replying), "die" / "die-after"
(the router stops: sessions cut, listener closed, an unconfirmed commit rolled back, as a reboot
does); `revive()` brings it back on the same port.
"""

from __future__ import annotations

import asyncio
import copy
import hmac
import itertools
from dataclasses import dataclass, field
from typing import Any

import asyncssh
from lxml import etree

from controller.desired import DeviceConfig
from controller.southbound.render import NC, parse_config
from controller.southbound.state_xml import render_state
from controller.southbound.yang import MODULE_CAPABILITY, Schema
from harness.datastore import (
    Element,
    RpcError,
    apply_edit,
    new_datastore,
)
from harness.framing import Decoder, FramingError, encode
from harness.ops import OPS
from harness.state import StateProvider, StaticStateProvider
from telemetry.state import PolicyState

BASE10 = "urn:ietf:params:netconf:base:1.0"
BASE11 = "urn:ietf:params:netconf:base:1.1"
CAP = "urn:ietf:params:netconf:capability:"
PARSER = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=True)
DEFAULT_CONFIRM_TIMEOUT = 600


@dataclass
class RouterOptions:
    candidate: bool = True
    writable_running: bool = True
    netconf11: bool = True

    def capabilities(self) -> list[str]:
        caps = [BASE10]
        if self.netconf11:
            caps.append(BASE11)
        caps += [f"{CAP}validate:1.1", f"{CAP}rollback-on-error:1.0", f"{CAP}xpath:1.0"]
        if self.candidate:
            caps += [f"{CAP}candidate:1.0", f"{CAP}confirmed-commit:1.1"]
        if self.writable_running:
            caps.append(f"{CAP}writable-running:1.0")
        caps.append(MODULE_CAPABILITY)
        return caps


@dataclass
class Faults:
    refuse_connections: bool = False
    delay_s: float = 0.0
    on_rpc: dict[str, str] = field(default_factory=dict)
    restart_after_s: float | None = None  # after "die": reboot this much later (None: stay down)


@dataclass
class Pending:
    """An unconfirmed confirmed-commit."""

    rollback: Element
    session_id: int
    persist: str | None
    timer: asyncio.TimerHandle | None = None


class SimRouter:
    def __init__(
        self,
        name: str,
        *,
        host_key: asyncssh.SSHKey,
        authorized_keys: list[asyncssh.SSHKey] | None = None,
        username: str = "netpilot",
        password: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        schema: Schema | None = None,
        provider: StateProvider | None = None,
        options: RouterOptions | None = None,
    ) -> None:
        self.name = name
        self.host_key = host_key
        self.authorized_keys = authorized_keys
        self.username = username
        self.password = password
        self.host = host
        self.port = port
        self.schema = schema or Schema()
        self.provider: StateProvider = provider or StaticStateProvider()
        self.options = options or RouterOptions()
        self.faults = Faults()
        self.running = new_datastore()
        self.candidate = new_datastore()
        self.locks: dict[str, int] = {}
        self.pending: Pending | None = None
        self.sessions: dict[int, NetconfSession] = {}
        self.commits = 0
        self.alive = False
        self._ids = itertools.count(1)
        self._server: asyncssh.SSHAcceptor | None = None
        self._connections: set[asyncssh.SSHServerConnection] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    # -- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        self._server = await asyncssh.create_server(
            lambda: _SSHServer(self),
            self.host,
            self.port,
            server_host_keys=[self.host_key],
            process_factory=self._process,
            encoding=None,
            allow_scp=False,
            agent_forwarding=False,
            x11_forwarding=False,
            reuse_address=True,
            kex_algs=["curve25519-sha256", "curve25519-sha256@libssh.org", "ecdh-sha2-nistp256"],
        )
        self.port = self._server.get_port()
        self.alive = True

    async def stop(self) -> None:
        self.alive = False
        for conn in list(self._connections):
            conn.abort()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def die(self) -> None:
        """Crash: cut sessions, stop listening, reboot semantics for the datastores."""
        if self.pending is not None:
            self._rollback()
        self.candidate = copy.deepcopy(self.running)
        self.locks.clear()
        await self.stop()

    async def revive(self) -> None:
        await self.start()

    def crash(self) -> None:
        """Die now (from inside a session), and reboot after `faults.restart_after_s` if set."""
        task = asyncio.get_running_loop().create_task(self._crash(self.faults.restart_after_s))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _crash(self, restart_after_s: float | None) -> None:
        await self.die()
        if restart_after_s is not None:
            await asyncio.sleep(restart_after_s)
            await self.revive()

    # -- views for tests and the CLI -------------------------------------------------------------
    def running_config(self) -> DeviceConfig:
        return parse_config(self.name, self.running)

    def set_running(self, cfg: Element) -> None:
        """Load a `<config>` into running and candidate (for fixtures: a router's boot config)."""
        self.running = new_datastore()
        apply_edit(self.schema, self.running, cfg, "merge")
        self.candidate = copy.deepcopy(self.running)

    # -- SSH glue -----------------------------------------------------------------------------
    def _process(self, process: asyncssh.SSHServerProcess[bytes]) -> Any:
        return NetconfSession(self, process, next(self._ids)).run()

    def _rollback(self) -> None:
        pending = self.pending
        if pending is None:
            return
        if pending.timer is not None:
            pending.timer.cancel()
        self.running = pending.rollback
        self.candidate = copy.deepcopy(self.running)
        self.pending = None

    def _expire(self) -> None:
        self._rollback()

    def state_element(self) -> Element:
        state = self.provider.device_state(self.name)
        if not state.sr_policies:
            cfg = self.running_config()
            policies = tuple(
                PolicyState(
                    p.color,
                    p.endpoint,
                    up=bool(p.candidate_paths),
                    active_candidate_path=max(p.candidate_paths, key=lambda c: c.preference).name
                    if p.candidate_paths
                    else None,
                )
                for p in cfg.sr_policies
            )
            state = type(state)(
                state.device, state.timestamp, state.boot_id, state.interfaces, policies
            )
        return render_state(state)


class _SSHServer(asyncssh.SSHServer):
    def __init__(self, router: SimRouter) -> None:
        self.router = router
        self.conn: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        if self.router.faults.refuse_connections or not self.router.alive:
            conn.abort()
            return
        self.conn = conn
        self.router._connections.add(conn)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.conn is not None:
            self.router._connections.discard(self.conn)

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return self.router.password is not None

    def validate_password(self, username: str, password: str) -> bool:
        expected = self.router.password or ""
        user_ok = hmac.compare_digest(username.encode(), self.router.username.encode())
        return (
            user_ok and bool(expected) and hmac.compare_digest(password.encode(), expected.encode())
        )

    def public_key_auth_supported(self) -> bool:
        return bool(self.router.authorized_keys)

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        if username != self.router.username:
            return False
        allowed = {k.public_data for k in self.router.authorized_keys or []}
        return key.public_data in allowed


def _nc(tag: str) -> str:
    return f"{{{NC}}}{tag}"


def _local(el: Element) -> str:
    return etree.QName(el).localname


def _error_element(err: RpcError) -> Element:
    el = etree.Element(_nc("rpc-error"))
    for tag, text in (
        ("error-type", err.type),
        ("error-tag", err.tag),
        ("error-severity", "error"),
    ):
        etree.SubElement(el, _nc(tag)).text = text
    if err.path:
        etree.SubElement(el, _nc("error-path")).text = err.path
    msg = etree.SubElement(el, _nc("error-message"))
    msg.set("{http://www.w3.org/XML/1998/namespace}lang", "en")
    msg.text = err.message
    if err.info:
        info = etree.SubElement(el, _nc("error-info"))
        for key, value in err.info.items():
            etree.SubElement(info, _nc(key)).text = value
    return el


class NetconfSession:
    """One NETCONF session on one SSH channel."""

    def __init__(self, router: SimRouter, process: asyncssh.SSHServerProcess[bytes], sid: int):
        self.router = router
        self.process = process
        self.id = sid
        self.decoder = Decoder()
        self.chunked = False
        self.hello_done = False
        self.closing = False

    # -- transport -----------------------------------------------------------------------------
    async def run(self) -> None:
        if self.process.subsystem != "netconf":
            self.process.stderr.write(b"only the netconf subsystem is served\n")
            self.process.exit(1)
            return
        self.router.sessions[self.id] = self
        try:
            self._send(self._hello())
            while not self.closing:
                data = await self.process.stdin.read(65536)
                if not data:
                    break
                self.decoder.feed(data)
                while not self.closing and (msg := self.decoder.next()) is not None:
                    await self._message(msg)
        except (FramingError, asyncssh.Error, ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._release()
            if not self.process.is_closing():
                self.process.exit(0)

    def _send(self, el: Element) -> None:
        data = etree.tostring(el, xml_declaration=True, encoding="UTF-8")
        self.process.stdout.write(encode(data, self.chunked))

    def _abort(self) -> None:
        self.closing = True
        conn = self.process.get_extra_info("connection")
        if conn is not None:
            conn.abort()

    def _release(self) -> None:
        router = self.router
        router.sessions.pop(self.id, None)
        for target, holder in list(router.locks.items()):
            if holder == self.id:
                del router.locks[target]
                if target == "candidate":
                    router.candidate = copy.deepcopy(router.running)
        pending = router.pending
        if pending is not None and pending.persist is None and pending.session_id == self.id:
            router._rollback()

    def _hello(self) -> Element:
        hello = etree.Element(_nc("hello"), nsmap={None: NC})
        caps = etree.SubElement(hello, _nc("capabilities"))
        for cap in self.router.options.capabilities():
            etree.SubElement(caps, _nc("capability")).text = cap
        etree.SubElement(hello, _nc("session-id")).text = str(self.id)
        return hello

    # -- messages -----------------------------------------------------------------------------
    async def _message(self, data: bytes) -> None:
        try:
            root = etree.fromstring(data, PARSER)
        except etree.XMLSyntaxError:
            if not self.hello_done:
                self._abort()
                return
            self._send(
                self._reply(
                    None, [RpcError("malformed-message", "not well-formed XML", type="rpc")]
                )
            )
            return
        if not self.hello_done:
            self._client_hello(root)
            return
        if _local(root) != "rpc":
            return
        await self._rpc(root)

    def _client_hello(self, root: Element) -> None:
        if _local(root) != "hello":
            self._abort()
            return
        caps = {(c.text or "").strip() for c in root.iter(_nc("capability"))}
        self.hello_done = True
        if BASE11 in caps and self.router.options.netconf11:
            self.chunked = True
            self.decoder.chunked = True
        elif BASE10 not in caps:
            self._abort()

    def _reply(
        self, rpc: Element | None, errors: list[RpcError], body: Element | None = None
    ) -> Element:
        reply = etree.Element(_nc("rpc-reply"), nsmap={None: NC})
        if rpc is not None:
            for key, value in rpc.attrib.items():
                reply.set(key, value)
        if errors:
            for err in errors:
                reply.append(_error_element(err))
        elif body is not None:
            reply.append(body)
        else:
            etree.SubElement(reply, _nc("ok"))
        return reply

    async def _rpc(self, rpc: Element) -> None:
        ops = [c for c in rpc if isinstance(c.tag, str)]
        if rpc.get("message-id") is None:
            err = RpcError(
                "missing-attribute",
                "<rpc> needs a message-id",
                type="rpc",
                info={"bad-attribute": "message-id", "bad-element": "rpc"},
            )
            self._send(self._reply(rpc, [err]))
            return
        if len(ops) != 1:
            self._send(
                self._reply(
                    rpc, [RpcError("malformed-message", "one operation per <rpc>", type="rpc")]
                )
            )
            return
        op = ops[0]
        name = _local(op)
        fault = self.router.faults.on_rpc.pop(name, None)
        if fault in ("drop", "die"):
            await self._fault(fault)
            return
        if self.router.faults.delay_s:
            await asyncio.sleep(self.router.faults.delay_s)
        body: Element | None = None
        errors: list[RpcError] = []
        try:
            if fault == "fail":
                raise RpcError("operation-failed", f"injected fault: {name} failed")
            body = self._dispatch(name, op)
        except RpcError as err:
            errors = [err]
        if fault in ("drop-after", "die-after"):
            await self._fault(fault.removesuffix("-after"))
            return
        self._send(self._reply(rpc, errors, body))
        if name == "close-session" and not errors:
            self.closing = True

    async def _fault(self, fault: str) -> None:
        if fault == "die":
            self.closing = True
            self.router.crash()
        else:
            self._abort()

    def _dispatch(self, name: str, op: Element) -> Element | None:
        handler = OPS.get(name)
        if handler is None or op.tag != _nc(name):
            raise RpcError(
                "operation-not-supported", f"operation <{name}> is not supported", type="protocol"
            )
        return handler(self, op)
