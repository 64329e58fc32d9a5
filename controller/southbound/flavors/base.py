"""The `Flavor` protocol and what the flavours share: XML helpers and the keyed XML diff.

A flavour turns the desired config (`DeviceConfig`) into its modules' XML (`render`), reads a
running config back (`parse`), says what of a config its modules can carry (`carried`: the
canonical config a device of that flavour holds after a push) and which configs it cannot
express at all (`problems`), and renders and reads operational state.
"""

from __future__ import annotations

import functools
import threading
from typing import Any, Protocol, TypeAlias

from lxml import etree

from controller.desired import DeviceConfig
from controller.devicestate import DeviceState
from controller.southbound.yang import Schema

Element: TypeAlias = Any  # lxml ships no type stubs; an lxml etree._Element
NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
OPERATION = f"{{{NC}}}operation"
FLAVORS = ("netpilot", "iosxr", "openconfig")


def flavor_at(choice: str, index: int) -> str:
    """The flavour of the index-th device for a `--flavor` choice (mixed: round-robin)."""
    if choice == "mixed":
        return FLAVORS[index % len(FLAVORS)]
    if choice not in FLAVORS:
        raise ValueError(f"flavor {choice!r}: use one of {', '.join(FLAVORS)}, mixed")
    return choice


class Flavor(Protocol):
    name: str

    def schema(self) -> Schema:
        """The libyang schema of the flavour's modules (loaded once)."""
        ...

    def capabilities(self) -> list[str]:
        """The module capability URIs a device of this flavour announces in its hello."""
        ...

    def render(self, cfg: DeviceConfig) -> Element:
        """The full managed config as a `<config>` element (no operations)."""
        ...

    def parse(self, device: str, root: Element) -> DeviceConfig:
        """A `<data>` reply (or `<config>`) back into a canonical DeviceConfig."""
        ...

    def carried(self, cfg: DeviceConfig) -> DeviceConfig:
        """`cfg` as a device of this flavour holds it (canonical; what the modules cannot carry
        is dropped or rounded): what a read-back is compared with."""
        ...

    def problems(self, cfg: DeviceConfig) -> list[str]:
        """What of `cfg` this flavour cannot express (each a clear line); [] when fine."""
        ...

    def edit(self, previous: DeviceConfig, desired: DeviceConfig, *, full: bool) -> Element | None:
        """An edit-config `<config>` turning `previous` into `desired` (None: nothing to do);
        `full` replaces the managed top containers whole."""
        ...

    def config_filter(self) -> Element: ...

    def state_filter(self) -> Element: ...

    def render_state(self, state: DeviceState) -> list[Element]:
        """Operational state as the top-level elements a `<get>` returns (simulated routers)."""
        ...

    def parse_state(self, device: str, root: Element) -> DeviceState: ...


class LazySchema:
    """A Schema built on first use, once, from any thread."""

    def __init__(self, make: Any) -> None:
        self._make = make
        self._lock = threading.Lock()
        self._schema: Schema | None = None

    def get(self) -> Schema:
        with self._lock:
            if self._schema is None:
                self._schema = self._make()
            return self._schema


def schema_capabilities(schema: Schema) -> list[str]:
    """The hello capability URI (`ns?module=name&revision=date`) of every module whose nodes a
    device of the flavour holds (RFC 6020 section 5.6.4)."""
    out = []
    for ns, name in sorted(schema.namespaces.items(), key=lambda item: item[1]):
        module = schema.ctx.get_module(name)
        revision = next(iter(module.revisions()), None)
        out.append(f"{ns}?module={name}" + (f"&revision={revision.date()}" if revision else ""))
    return out


@functools.lru_cache(maxsize=4096)
def _qname(ns: str, tag: str) -> tuple[str, str]:
    return f"{{{ns}}}{tag}", f"{{{ns}}}"


def element(ns: str, tag: str, parent: Element | None = None, text: object = None) -> Element:
    """A new element `{ns}tag` (a SubElement of `parent` when given), with `text`; the default
    namespace is declared only where it changes."""
    qname, prefix = _qname(ns, tag)
    if parent is None:
        el = etree.Element(qname, nsmap={None: ns})
    elif parent.tag.startswith(prefix):
        el = etree.SubElement(parent, qname)
    else:
        el = etree.SubElement(parent, qname, nsmap={None: ns})
    if text is not None:
        el.text = str(text)
    return el


def config_root() -> Element:
    return etree.Element(f"{{{NC}}}config", nsmap={"nc": NC})


def subtree_filter(*tops: tuple[str, str]) -> Element:
    """A subtree `<filter>` selecting the top containers `(namespace, name)`."""
    flt = etree.Element(f"{{{NC}}}filter", nsmap={"nc": NC})
    flt.set("type", "subtree")
    for ns, tag in tops:
        element(ns, tag, flt)
    return flt


def prune(config: Element, depth: int = 3) -> Element:
    """Drop empty containers (deepest first) down to `depth` levels below `config` (where a
    flavour's rendering may leave them: deeper ones always have content)."""
    levels = [[config]]
    for _ in range(depth):
        levels.append([child for el in levels[-1] for child in el])
    for el in reversed([el for level in levels[1:] for el in level]):
        if el is not config and len(el) == 0 and el.text is None and el.get(OPERATION) is None:
            parent = el.getparent()
            if parent is not None:
                parent.remove(el)
    return config


def text_of(el: Element | None, *path: str, ns: str) -> str | None:
    """The stripped text of `el`/path... in namespace `ns`, None when absent."""
    node = el
    for tag in path:
        if node is None:
            return None
        node = node.find(f"{{{ns}}}{tag}")
    if node is None or node.text is None:
        return None
    return str(node.text).strip()
