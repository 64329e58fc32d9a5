"""The netpilot YANG module: where it lives, its schema shape, and instance validation (libyang).

The module `netpilot-srv6-te` sits in `controller/southbound/yang/`; it imports ietf-inet-types
and ietf-yang-types, taken from the IETF modules that pyang ships (`<prefix>/share/yang/modules`).
`Schema` loads it once into a libyang context, validates config (and state) documents, and tells
the simulated routers which nodes are lists (and their keys) and leaf-lists, for edit-config.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import libyang

from controller.errors import NotFoundError, ValidationError

MODULE = "netpilot-srv6-te"
REVISION = "2026-11-21"
NS = "urn:netpilot:yang:srv6-te"
YANG_DIR = Path(__file__).resolve().parent / "yang"
MODULE_CAPABILITY = f"{NS}?module={MODULE}&revision={REVISION}"


def ietf_modules_dir() -> Path:
    """Directory with pyang's bundled IETF modules (ietf-inet-types, ietf-yang-types, ...)."""
    candidates = [Path(sys.prefix) / "share" / "yang" / "modules" / "ietf"]
    try:
        import pyang

        pkg = Path(pyang.__file__).resolve().parent
        candidates += [p / "share" / "yang" / "modules" / "ietf" for p in pkg.parents]
    except ImportError:  # pragma: no cover - pyang is a dependency
        pass
    for path in candidates:
        if (path / "ietf-inet-types.yang").is_file():
            return path
    raise NotFoundError(
        "IETF YANG modules not found; install pyang (it ships ietf-inet-types) in this environment"
    )


def module_path() -> Path:
    return YANG_DIR / f"{MODULE}@{REVISION}.yang"


@dataclass(frozen=True)
class NodeKind:
    """Shape of one schema node, by its path of local names from the top."""

    kind: str  # container | list | leaf | leaf-list
    keys: tuple[str, ...] = ()


class Schema:
    """A loaded libyang context for the netpilot module; not thread-safe (one per thread/loop)."""

    def __init__(self) -> None:
        search = f"{YANG_DIR}:{ietf_modules_dir()}"
        self.ctx = libyang.Context(search)
        self.module = self.ctx.load_module(MODULE)
        self.kinds: dict[tuple[str, ...], NodeKind] = {}
        for top in self.module.children():
            self._walk(top, ())

    def _walk(self, node: Any, parent: tuple[str, ...]) -> None:
        path = (*parent, node.name())
        keyword = node.keyword()
        if keyword == "list":
            keys = tuple(k.name() for k in node.keys())  # noqa: SIM118 (libyang API)
            self.kinds[path] = NodeKind("list", keys)
        elif keyword == "leaf-list":
            self.kinds[path] = NodeKind("leaf-list")
        elif keyword == "leaf":
            self.kinds[path] = NodeKind("leaf")
        else:
            self.kinds[path] = NodeKind("container")
        if keyword in ("list", "container"):
            for child in node.children():
                self._walk(child, path)

    def kind(self, path: tuple[str, ...]) -> NodeKind | None:
        return self.kinds.get(path)

    def validate(
        self, xml: str | bytes, what: str, *, state: bool = False, full: bool = True
    ) -> None:
        """Validate a document of top-level netpilot elements; raise ValidationError naming it.

        `state=False` rejects config-false nodes; `full=False` checks types and structure only
        (for a candidate being edited in steps), not must/mandatory/unique.
        """
        text = xml.decode() if isinstance(xml, bytes) else xml
        if not text.strip():
            return
        try:
            tree = self.ctx.parse_data_mem(
                text,
                "xml",
                no_state=not state,
                strict=True,
                parse_only=not full,
                validate_present=True,
            )
        except libyang.LibyangError as error:
            message = str(error).replace("failed to parse data tree: ", "")
            raise ValidationError(what, [f"{message} (module {MODULE})"]) from None
        if tree is not None:
            tree.free()
