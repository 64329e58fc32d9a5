"""netpilot's documented mapping between SRv6 SIDs and SR-MPLS labels, for IOS-XR 6.6.3.

IOS-XR 6.6.3's public models cannot carry an explicit SRv6 segment list (an explicit segment
is an IPv4 address or an MPLS label), so the iosxr flavour renders segment lists as SR-MPLS
labels and reads them back as the SRv6 SIDs they stand for:

- node SID `fcbb:bb00:<i>::1` (node index `i`, hex) <-> label `SRGB_BASE + i`
  (SRGB 16000-23999, the IOS-XR default: prefix-SID index `i`);
- adjacency SID `fcbb:bb00:<i>:e<k>::` <-> label `ADJ_BASE + 64 * i + k` (k < 64), a static
  convention (IOS-XR allocates adjacency labels dynamically unless told otherwise);
- binding SID `fcbb:bb00:<i>:b<k>::` <-> the policy's binding label `BSID_BASE + 64 * i + k`.
Node indexes below 6,000 (labels stay under 2^20).

Any other SID cannot be expressed on an iosxr device and is refused before anything is sent.
"""

from __future__ import annotations

import functools
import ipaddress
import re

SRGB_BASE = 16000
SRGB_SIZE = 8000
ADJ_BASE = 100000
ADJ_PER_NODE = 64
BSID_BASE = 620000
MAX_INDEX = 6000
MAX_LABEL = 2**20 - 1
NODE = re.compile(r"^fcbb:bb00:(?P<i>[0-9a-f]{1,4})::1$")
ADJ = re.compile(r"^fcbb:bb00:(?P<i>[0-9a-f]{1,4}):e(?P<k>[0-9a-f]{1,3})::$")
BSID = re.compile(r"^fcbb:bb00:(?P<i>[0-9a-f]{1,4}):b(?P<k>[0-9a-f]{1,3})::$")


def _compressed(sid: str) -> str:
    """The SID in compressed form (netpilot writes SIDs compressed: then no parsing)."""
    if NODE.match(sid) or ADJ.match(sid) or BSID.match(sid):
        return sid
    try:
        return ipaddress.IPv6Address(sid).compressed
    except ValueError:
        return sid


@functools.lru_cache(maxsize=65536)
def sid_to_label(sid: str) -> int | None:
    """The label a SID stands for on an iosxr device; None when the mapping has none."""
    text = _compressed(sid)
    node = NODE.match(text)
    if node:
        i = int(node["i"], 16)
        return SRGB_BASE + i if i < SRGB_SIZE else None
    return _indexed(ADJ.match(text), ADJ_BASE)


def _indexed(match: re.Match[str] | None, base: int) -> int | None:
    if match is None:
        return None
    i, k = int(match["i"], 16), int(match["k"], 16)
    return base + ADJ_PER_NODE * i + k if k < ADJ_PER_NODE and i < MAX_INDEX else None


@functools.lru_cache(maxsize=65536)
def binding_to_label(sid: str) -> int | None:
    """The binding label of a binding SID `fcbb:bb00:<i>:b<k>::`; None when none."""
    return _indexed(BSID.match(_compressed(sid)), BSID_BASE)


def label_to_binding(label: int) -> str | None:
    if BSID_BASE <= label < BSID_BASE + ADJ_PER_NODE * MAX_INDEX:
        i, k = divmod(label - BSID_BASE, ADJ_PER_NODE)
        return f"fcbb:bb00:{i:x}:b{k:x}::"
    return None


def label_to_sid(label: int) -> str | None:
    """The SRv6 SID a label stands for (the reverse of `sid_to_label`); None when none."""
    if SRGB_BASE <= label < SRGB_BASE + SRGB_SIZE:
        return f"fcbb:bb00:{label - SRGB_BASE:x}::1"
    if ADJ_BASE <= label < ADJ_BASE + ADJ_PER_NODE * MAX_INDEX:
        i, k = divmod(label - ADJ_BASE, ADJ_PER_NODE)
        return f"fcbb:bb00:{i:x}:e{k:x}::"
    return None
