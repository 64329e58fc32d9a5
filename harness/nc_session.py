"""One NETCONF session of a simulated router: framing, hello, RPC dispatch, faults, rpc-errors.

The RPCs of one router run one at a time (`router.busy`), as on a device's config daemon. The
ones whose work grows with the config (edit-config, get-config, validate, commit, ...), when the
message or the config is big, and the parsing and serializing of big messages, run in a worker
thread: routers share one event loop, a 5,000-policy edit on one must not stall the others (or
the loop's signal handling). Small ones stay on the loop, where they take a millisecond.
"""

from __future__ import annotations

import asyncio
import copy
import re

import asyncssh
from lxml import etree

from controller.southbound.render import NC
from controller.southbound.yang import NS
from harness.datastore import Element, RpcError
from harness.framing import Decoder, FramingError, encode
from harness.nc_router import NetconfRouter
from harness.ops import OPS

BASE10 = "urn:ietf:params:netconf:base:1.0"
BASE11 = "urn:ietf:params:netconf:base:1.1"
PARSER = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=True)
OFF_LOOP = frozenset(
    {"edit-config", "get-config", "validate", "commit", "cancel-commit", "discard-changes", "lock"}
)
"""RPCs whose work grows with the config (copies, comparisons, validation): run in a worker
thread when the message or the config is big. `get` stays on the loop: it asks the state
provider (the simulator) for state."""
BIG_MESSAGE = 64 * 1024
"""Messages at least this long are parsed in a worker thread (with a parser of their own), and
so is the operation they carry."""
BIG_CONFIG = 5000
_COUNT = etree.XPath("count(//*)")  # compiled once: this runs before every config operation
"""Elements in a datastore from which the `OFF_LOOP` operations run in a worker thread (about
400 SR policies); below it they run on the loop, where they take a millisecond or two."""
MAX_TEXT = 1024
MAX_QUOTED = 64
LONG = MAX_QUOTED + 1
QUOTED = re.compile(rf"(\"[^\"]{{{LONG},}}\"|'[^']{{{LONG},}}')")


def _clip(text: str) -> str:
    """An error text with long quoted values cut (a 5 MB bad value is not echoed back in full),
    and at most MAX_TEXT characters."""

    def cut(match: re.Match[str]) -> str:
        value = match.group(0)
        quote = value[0]
        return f"{value[: MAX_QUOTED // 2 + 1]}...({len(value) - 2} characters){quote}"

    text = QUOTED.sub(cut, text)
    if len(text) > MAX_TEXT:
        text = f"{text[: MAX_TEXT - 40]}... ({len(text)} characters in all)"
    return text


def _parse(data: bytes) -> Element:
    """Parse one message with a parser of its own (lxml parsers must not be shared by threads)."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=True)
    return etree.fromstring(data, parser)


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
        path = etree.SubElement(el, _nc("error-path"), nsmap={"np": NS, **err.prefixes})
        path.text = _clip(err.path)
    msg = etree.SubElement(el, _nc("error-message"))
    msg.set("{http://www.w3.org/XML/1998/namespace}lang", "en")
    msg.text = _clip(err.message)
    if err.info:
        info = etree.SubElement(el, _nc("error-info"))
        for key, value in err.info.items():
            etree.SubElement(info, _nc(key)).text = _clip(value)
    return el


def _drop_operations(op: Element, ignored: frozenset[str]) -> None:
    """Remove the edit's elements whose `operation` is in `ignored` (fault injection)."""
    for el in list(op.iter()):
        if el.get(f"{{{NC}}}operation") in ignored and el.getparent() is not None:
            el.getparent().remove(el)


def _serialize(el: Element) -> bytes:
    return bytes(etree.tostring(el, xml_declaration=True, encoding="UTF-8"))


class NetconfSession:
    """One NETCONF session on one SSH channel."""

    def __init__(self, router: NetconfRouter, process: asyncssh.SSHServerProcess[bytes], sid: int):
        self.router = router
        self.process = process
        self.id = sid
        self.decoder = Decoder()
        self.chunked = False
        self.hello_done = False
        self.closing = False
        self._held: list[bytes] | None = None  # replies to the messages of one read

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
                self._held = []  # a pipelined batch of RPCs gets its replies in one packet
                try:
                    while not self.closing and (msg := self.decoder.next()) is not None:
                        await self._message(msg)
                finally:
                    self._flush()
        except (FramingError, asyncssh.Error, ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            try:
                async with self.router.busy:  # not while one of our RPCs runs in its thread
                    self._release()
            except asyncio.CancelledError:  # the loop is shutting down: release anyway
                self._release()
                raise
            if not self.process.is_closing():
                self.process.exit(0)

    def _send(self, el: Element) -> None:
        self._write(encode(_serialize(el), self.chunked))

    async def _send_off_loop(self, el: Element) -> None:
        data = await asyncio.to_thread(_serialize, el)
        self._write(encode(data, self.chunked))

    def _write(self, data: bytes) -> None:
        if self._held is not None:
            self._held.append(data)
        else:
            self.process.stdout.write(data)

    def _flush(self) -> None:
        """Write the replies held since the last read, in one SSH packet (while the channel
        is open: a dropped session sends nothing)."""
        held, self._held = self._held, None
        if held and not self.process.is_closing():
            self.process.stdout.write(b"".join(held))

    @property
    def base11(self) -> bool:
        """Is this a NETCONF 1.1 session (chunked framing agreed in the hello exchange)?"""
        return self.chunked

    def _malformed(self, message: str) -> RpcError:
        """`malformed-message` is new in base:1.1 and must not be sent to a 1.0 client (RFC
        6241 section 3 and Appendix A): a 1.0 session gets `operation-failed`."""
        tag = "malformed-message" if self.base11 else "operation-failed"
        return RpcError(tag, message, type="rpc")

    def _abort(self) -> None:
        self._flush()  # the replies to the earlier RPCs of a pipelined batch go first
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
            if len(data) >= BIG_MESSAGE:
                root = await asyncio.to_thread(_parse, data)
            else:
                root = etree.fromstring(data, PARSER)
        except etree.XMLSyntaxError:
            if not self.hello_done:
                self._abort()
                return
            self._send(self._reply(None, [self._malformed("not well-formed XML")]))
            return
        if not self.hello_done:
            self._client_hello(root)
            return
        if _local(root) != "rpc":
            return
        await self._rpc(root, big=len(data) >= BIG_MESSAGE)

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

    async def _rpc(self, rpc: Element, big: bool = False) -> None:
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
            self._send(self._reply(rpc, [self._malformed("one operation per <rpc>")]))
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
        off_loop = name in OFF_LOOP and (big or self._big_config())
        if name == "edit-config" and self.router.faults.ignore_operations:
            _drop_operations(op, self.router.faults.ignore_operations)
        try:
            if fault == "fail":
                raise RpcError("operation-failed", f"injected fault: {name} failed")
            async with self.router.busy:
                body = await self._run(name, op) if off_loop else self._dispatch(name, op)
        except RpcError as err:
            errors = [err]
        if fault in ("drop-after", "die-after"):
            await self._fault(fault.removesuffix("-after"))
            return
        if off_loop and body is not None:
            await self._send_off_loop(self._reply(rpc, errors, body))
        else:
            self._send(self._reply(rpc, errors, body))
        if name == "close-session" and not errors:
            self.closing = True

    def _big_config(self) -> bool:
        """Does this router hold enough config that copying or checking it takes a while? (A
        thread hop costs more than the work on a small config, and a live network of small
        configs polled many times a second must keep its old latency.)"""
        if self.router.faults.hold is not None:
            return True  # tests hold operations in their thread
        sizes = (self.router.running, self.router.candidate)
        return any(float(_COUNT(tree)) >= BIG_CONFIG for tree in sizes)

    async def _run(self, name: str, op: Element) -> Element | None:
        """Run an operation in a worker thread (after the router's `faults.hold`, if set)."""
        hold = self.router.faults.hold

        def work() -> Element | None:
            if hold is not None:
                hold.wait(timeout=60)
            return self._dispatch(name, op)

        return await asyncio.to_thread(work)

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
