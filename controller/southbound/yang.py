"""The netpilot YANG module: where it lives, its schema shape, and instance validation (libyang).

The module `netpilot-srv6-te` sits in `controller/southbound/yang/`; it imports ietf-inet-types
and ietf-yang-types, taken from the IETF modules that pyang ships (`<prefix>/share/yang/modules`).
`Schema` loads it once into a libyang context, validates config (and state) documents, and tells
the simulated routers which nodes are lists (and their keys) and leaf-lists, for edit-config.
"""

from __future__ import annotations

import re
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import libyang
from _libyang import ffi, lib

from controller.errors import NotFoundError, ValidationError

MODULE = "netpilot-srv6-te"
REVISION = "2026-12-02"
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


LOCATION = re.compile(r':? ?Data location "(?P<path>[^"]*)"(?:, line number \d+)?\.?$')
"""How libyang appends the data path of an error to its message (with path logging on)."""
STEP = re.compile(r"(?<=/)(?:[\w.-]+:)?(?=[\w.-]+)")
KEY = re.compile(r"\[([\w.-]+)=")
QUOTED = re.compile(r"('[^']*'|\"[^\"]*\")")


class SchemaError(ValidationError):
    """A document failed validation; `path` is the data node at fault as an XPath with the
    `np:` prefix for the netpilot namespace (NETCONF's error-path), when libyang gave one."""

    def __init__(self, what: str, problems: list[str], path: str | None = None) -> None:
        super().__init__(what, problems)
        self.path = path


def error_path(location: str) -> str:
    """libyang's data location (`/netpilot-srv6-te:qos/class[name='v']/queue`) as an XPath
    with the `np:` prefix (`/np:qos/np:class[np:name='v']/np:queue`)."""
    parts = QUOTED.split(location)  # odd items are quoted key values: left as they are
    for i in range(0, len(parts), 2):
        parts[i] = KEY.sub(r"[np:\1=", STEP.sub("np:", parts[i]))
    return "".join(parts)


def _split_location(message: str, *, netpilot: bool = True) -> tuple[str, str | None]:
    """(message, error-path): the netpilot module's paths get the `np:` prefix; other modules'
    keep libyang's module-name prefixes (`/Cisco-IOS-XR-infra-policymgr-cfg:policy-manager/...`),
    which name the module unambiguously."""
    match = LOCATION.search(message)
    if match is None:
        return message, None
    where = match.group("path")
    ours = netpilot and where.startswith(f"/{MODULE}:")
    return message[: match.start()].rstrip(": ."), error_path(where) if ours else where


def module_namespace(module: Any) -> str:
    """A libyang module's XML namespace (the bindings do not expose it)."""
    return str(ffi.string(module.cdata.ns).decode())


def module_path() -> Path:
    return YANG_DIR / f"{MODULE}@{REVISION}.yang"


@dataclass(frozen=True)
class NodeKind:
    """Shape of one schema node, by its path of local names from the top."""

    kind: str  # container | list | leaf | leaf-list
    keys: tuple[str, ...] = ()


class Schema:
    """A loaded libyang context: the netpilot module by default, or a flavour's modules
    (`search` path and `modules` to load; controller/southbound/flavors/). `validate` may be
    called from several threads (the simulated routers validate edits in worker threads): calls
    are serialized. `kinds` maps each config node's path of local names to its shape; local
    names are unique enough across one flavour's modules (a clash raises at load)."""

    def __init__(
        self,
        search: str | None = None,
        modules: tuple[str, ...] = (MODULE,),
        label: str = f"module {MODULE}",
    ) -> None:
        search = search or f"{YANG_DIR}:{ietf_modules_dir()}"
        self._lock = threading.Lock()
        self.label = label
        self.ctx = libyang.Context(search)
        loaded = [self.ctx.load_module(name) for name in modules]
        self.module = loaded[0]
        self.netpilot = MODULE in modules
        self.kinds: dict[tuple[str, ...], NodeKind] = {}
        self.namespaces: dict[str, str] = {}
        """namespace -> module name of every module whose nodes the datastores may hold"""
        for module in loaded:
            self.namespaces[module_namespace(module)] = module.name()
            for top in module.children():
                if not top.config_false():
                    self._walk(top, ())

    def _walk(self, node: Any, parent: tuple[str, ...]) -> None:
        path = (*parent, node.name())
        keyword = node.keyword()
        self.namespaces.setdefault(module_namespace(node.module()), node.module().name())
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
                if not child.config_false():
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
            with self._lock:
                self._parse(text, state=state, full=full)
        except libyang.LibyangError:
            with self._lock:
                error = self._located_error(text, state=state, full=full)
            message, path = _split_location(
                str(error).replace("failed to parse data tree: ", ""), netpilot=self.netpilot
            )
            at = f" at {path}" if path else ""
            raise SchemaError(what, [f"{message}{at} ({self.label})"], path) from None

    def _located_error(self, text: str, *, state: bool, full: bool) -> libyang.LibyangError:
        """The error of a document that failed, parsed again with libyang's path logging on, so
        the message ends with the data location. Only after a failure: the flag is
        process-wide, and left on it made the live demo miss a fibre's degradation (the live
        demo test failed with it on and passed with it off; why was not found)."""
        lib.ly_set_log_clb(ffi.NULL, True)
        try:
            self._parse(text, state=state, full=full)
        except libyang.LibyangError as error:
            return error
        finally:
            lib.ly_set_log_clb(ffi.NULL, False)  # libyang's default, as the bindings set it
        return libyang.LibyangError("invalid, then valid when parsed again")

    def _parse(self, text: str, *, state: bool, full: bool) -> None:
        tree = self.ctx.parse_data_mem(
            text,
            "xml",
            no_state=not state,
            strict=True,
            parse_only=not full,
            validate_present=True,
        )
        if tree is not None:
            tree.free()
