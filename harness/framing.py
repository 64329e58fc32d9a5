"""NETCONF message framing over SSH (RFC 6242): end-of-message for 1.0, chunks for 1.1."""

from __future__ import annotations

import re

EOM = b"]]>]]>"
CHUNK_HEADER = re.compile(rb"\n#([1-9][0-9]{0,9})\n")
END_OF_CHUNKS = b"\n##\n"
MAX_MESSAGE = 16 * 1024 * 1024


class FramingError(Exception):
    """The peer broke the framing; the session must be closed (RFC 6242 section 4.2)."""


class Decoder:
    """Feed bytes, take whole messages one by one; set `chunked` after the hello exchange."""

    def __init__(self) -> None:
        self.chunked = False
        self._buf = bytearray()
        self._scanned = 0  # bytes of _buf already searched for the end-of-message marker
        self._parts: list[bytes] = []  # chunks of the message being read
        self._pos = 0  # where the next chunk header starts in _buf

    def feed(self, data: bytes) -> None:
        self._buf += data
        if len(self._buf) > MAX_MESSAGE:
            raise FramingError("message too large")

    def next(self) -> bytes | None:
        """The next whole message, or None until more bytes arrive."""
        return self._chunked() if self.chunked else self._eom()

    def _eom(self) -> bytes | None:
        # search only the new bytes (and a marker's length before them): linear, not quadratic,
        # in a big message that arrives in many reads
        end = self._buf.find(EOM, max(0, self._scanned - len(EOM) + 1))
        if end < 0:
            self._scanned = len(self._buf)
            return None
        msg = bytes(self._buf[:end])
        del self._buf[: end + len(EOM)]
        self._scanned = 0
        return msg

    def _chunked(self) -> bytes | None:
        # chunks already read are kept (_parts, _pos): a message in many chunks is read once
        while True:
            pos = self._pos
            if self._buf[pos : pos + 4] == END_OF_CHUNKS:
                msg = b"".join(self._parts)
                del self._buf[: pos + 4]
                self._parts, self._pos = [], 0
                return msg
            if len(self._buf) - pos < 4:
                return None
            match = CHUNK_HEADER.match(self._buf, pos)
            if match is None:
                if len(self._buf) - pos >= 13 or not self._buf[pos:].startswith(b"\n"):
                    raise FramingError("bad chunk header")
                return None
            size = int(match.group(1))
            start = match.end()
            if len(self._buf) < start + size:
                return None
            self._parts.append(bytes(self._buf[start : start + size]))
            self._pos = start + size


def encode(message: bytes, chunked: bool) -> bytes:
    if chunked:
        return b"\n#%d\n%s\n##\n" % (len(message), message)
    return message + EOM
