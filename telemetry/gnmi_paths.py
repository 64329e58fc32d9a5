"""gNMI paths and values: text <-> `gnmi_pb2.Path`, wildcard matching, `TypedValue` conversion.

A path is held as `Elems`, a tuple of `(name, ((key, value), ...))`, hashable and cheap to
compare. Text form is the usual `interfaces/interface[name=BR1-P-SH]/state/oper-status` (a
leading `/` is optional; key values may not contain `]` or `/`). A pattern key `*`, or a key
left out, matches any value (gNMI wildcards); `matches` is a prefix match, so a subscription
to `interfaces` covers every leaf below it.

Both sides use this module: the simulated routers (harness/gnmi_*.py) to encode, the
controller's streaming collector to decode, so they cannot drift apart.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pygnmi.spec.v080 import gnmi_pb2

Keys = tuple[tuple[str, str], ...]
Elems = tuple[tuple[str, Keys], ...]
Scalar = int | float | str | bool

_ELEM = re.compile(r"([^/\[\]]+)((?:\[[^=\]]+=[^\]]*\])*)")
_KEY = re.compile(r"\[([^=\]]+)=([^\]]*)\]")


class PathError(ValueError):
    """A path or value the model cannot take (the message names it)."""


def parse(text: str) -> Elems:
    """`a/b[k=v]/c` -> Elems; raises PathError naming the bad part."""
    out = []
    stripped = text.strip().strip("/")
    if not stripped:
        return ()
    for part in _split(stripped):
        m = _ELEM.fullmatch(part)
        if m is None:
            raise PathError(f"path {text!r}: cannot read element {part!r}; write name[key=value]")
        keys = tuple(sorted((k, v) for k, v in _KEY.findall(m.group(2))))
        out.append((m.group(1), keys))
    return tuple(out)


def _split(text: str) -> list[str]:
    """Split on `/` outside `[...]`."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        elif ch == "/" and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def text(elems: Elems) -> str:
    return "/" + "/".join(name + "".join(f"[{k}={v}]" for k, v in keys) for name, keys in elems)


def to_proto(elems: Elems, target: str = "") -> Any:
    return gnmi_pb2.Path(
        elem=[gnmi_pb2.PathElem(name=name, key=dict(keys)) for name, keys in elems],
        target=target,
    )


def from_proto(path: Any) -> Elems:
    """A `gnmi_pb2.Path` (elem form; the deprecated `element` strings are read too)."""
    if path.elem:
        return tuple((e.name, tuple(sorted(e.key.items()))) for e in path.elem)
    if path.element:
        return parse("/".join(path.element))
    return ()


def join(prefix: Elems, rest: Elems) -> Elems:
    return prefix + rest


def matches(pattern: Elems, elems: Elems) -> bool:
    """True when `pattern` is a prefix of `elems`, keys equal or wildcarded (`*` or absent)."""
    if len(pattern) > len(elems):
        return False
    for (pname, pkeys), (name, keys) in zip(pattern, elems, strict=False):
        if pname not in ("*", name):
            return False
        if pkeys:
            have = dict(keys)
            for k, v in pkeys:
                if v != "*" and have.get(k) != v:
                    return False
    return True


def typed(value: Scalar | dict[str, Any]) -> Any:
    """A Python scalar as a `gnmi_pb2.TypedValue` (int -> uint, float -> double); a dict as
    JSON_IETF (a container)."""
    if isinstance(value, dict):
        return gnmi_pb2.TypedValue(json_ietf_val=json.dumps(value, separators=(",", ":")).encode())
    if isinstance(value, bool):
        return gnmi_pb2.TypedValue(bool_val=value)
    if isinstance(value, int):
        return (
            gnmi_pb2.TypedValue(uint_val=value)
            if value >= 0
            else gnmi_pb2.TypedValue(int_val=value)
        )
    if isinstance(value, float):
        return gnmi_pb2.TypedValue(double_val=value)
    return gnmi_pb2.TypedValue(string_val=str(value))


def untyped(value: Any) -> Any:
    """A `TypedValue` as a Python scalar, or a container (JSON, JSON_IETF) as a dict; other
    encodings are refused (PathError)."""
    kind = value.WhichOneof("value")
    if kind in ("json_ietf_val", "json_val"):
        try:
            return json.loads(getattr(value, kind))
        except ValueError as error:
            raise PathError(f"{kind}: not JSON ({error})") from None
    if kind in ("uint_val", "int_val", "double_val", "string_val", "bool_val"):
        out: Scalar = getattr(value, kind)
        return out
    if kind == "float_val":
        return float(value.float_val)
    raise PathError(f"value of type {kind or 'nothing'}: this model takes scalar values only")
