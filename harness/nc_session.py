"""One NETCONF session of a simulated router: framing, hello, RPC dispatch, faults, rpc-errors."""

from __future__ import annotations

import asyncio
import copy

import asyncssh
from lxml import etree

from controller.southbound.render import NC
from harness.datastore import Element, RpcError
from harness.framing import Decoder, FramingError, encode
from harness.nc_router import NetconfRouter
from harness.ops import OPS

BASE10 = "urn:ietf:params:netconf:base:1.0"
BASE11 = "urn:ietf:params:netconf:base:1.1"
PARSER = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=True)


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

    def __init__(self, router: NetconfRouter, process: asyncssh.SSHServerProcess[bytes], sid: int):
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
