"""Packet capture inside a namespace with a TPACKET_V2 ring (AF_PACKET, mmap).

A plain AF_PACKET socket queues clones that share the packet's data, so by the time it is read
a later hop's SRv6 End has rewritten the header in place (veth hands the same buffer to the next
namespace): every capture would show the last hop's destination and Segments Left. A ring copies
each frame when the kernel taps it, so each hop's copy is the packet as it was there.

    ring = Ring.open("np-1a2b3c-5")     # every interface of that namespace, both directions
    ring.drain()                          # forget what came before
    ... send ...
    for frame in ring.frames(): ...       # Frame(ifname, outgoing, time_ns, data)
"""

from __future__ import annotations

import contextlib
import mmap
import socket
import struct
from dataclasses import dataclass

from harness.linuxnet import in_namespace

SOL_PACKET = 263
PACKET_RX_RING = 5
PACKET_VERSION = 10
TPACKET_V2 = 1
TP_STATUS_USER = 1
PACKET_OUTGOING = 4
ETH_P_ALL = 0x0003
FRAME_SIZE = 2048
FRAMES = 128
HEADER = struct.Struct("IIIHHII")  # status, len, snaplen, mac, net, sec, nsec
SLL = struct.Struct("HHiHBB")  # family, protocol, ifindex, hatype, pkttype, halen
SLL_OFFSET = 32  # TPACKET_ALIGN(sizeof(struct tpacket2_hdr))


@dataclass(frozen=True)
class Frame:
    ifname: str
    outgoing: bool
    time_ns: int
    data: bytes


class Ring:
    def __init__(self, sock: socket.socket, names: dict[int, str]) -> None:
        self.sock = sock
        self.names = names
        self.map = mmap.mmap(sock.fileno(), FRAME_SIZE * FRAMES)

    @classmethod
    def open(cls, namespace: str) -> Ring:
        def make() -> tuple[socket.socket, dict[int, str]]:
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
            sock.setsockopt(SOL_PACKET, PACKET_VERSION, TPACKET_V2)
            req = struct.pack("IIII", FRAME_SIZE * FRAMES, 1, FRAME_SIZE, FRAMES)
            sock.setsockopt(SOL_PACKET, PACKET_RX_RING, req)
            return sock, dict(socket.if_nameindex())

        sock, names = in_namespace(namespace, make)
        return cls(sock, names)

    def _take(self) -> list[Frame]:
        out = []
        for i in range(FRAMES):
            off = i * FRAME_SIZE
            status, _len, snap, mac, _net, sec, nsec = HEADER.unpack_from(self.map, off)
            if not status & TP_STATUS_USER:
                continue
            _fam, _proto, ifindex, _ha, pkttype, _hl = SLL.unpack_from(self.map, off + SLL_OFFSET)
            data = bytes(self.map[off + mac : off + mac + snap])
            out.append(Frame(self.names.get(ifindex, str(ifindex)), pkttype == PACKET_OUTGOING,
                             sec * 1_000_000_000 + nsec, data))  # fmt: skip
            struct.pack_into("I", self.map, off, 0)
        return out

    def drain(self) -> None:
        self._take()

    def frames(self) -> list[Frame]:
        return sorted(self._take(), key=lambda f: f.time_ns)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.map.close()
        self.sock.close()
