"""Minimal edits between two rendered configs, for any flavour: a keyed diff driven by the schema.

Both trees are what a flavour renders (`<config>` with its modules' containers). List entries
are matched by their keys (from the YANG module), leaf-lists by value: a new or changed entry
goes in the edit with `operation="replace"`, a gone one as its keys with `operation="remove"`
(delete that tolerates absence), a changed leaf of a container with `replace`; unchanged parts
are left out. `full_edit` replaces whole subtrees instead (repairs, and the undo of a
running-only device, which must not rely on the device honouring `remove` entry by entry).
"""

from __future__ import annotations

import copy

from lxml import etree

from controller.southbound.flavors.base import OPERATION, Element, config_root, element
from controller.southbound.yang import NodeKind, Schema


def _ident(el: Element, kind: NodeKind) -> tuple[str, ...]:
    if kind.kind == "list":
        ns = etree.QName(el).namespace
        return (el.tag, *((el.findtext(f"{{{ns}}}{k}") or "").strip() for k in kind.keys))
    if kind.kind == "leaf-list":
        return (el.tag, (el.text or "").strip())
    return (el.tag,)


def _kind(schema: Schema, path: tuple[str, ...], el: Element) -> tuple[NodeKind, tuple[str, ...]]:
    cpath = (*path, etree.QName(el).localname)
    kind = schema.kind(cpath)
    if kind is None:
        raise ValueError(f"rendered node /{'/'.join(cpath)} is not in the flavour's schema")
    return kind, cpath


def _index(
    schema: Schema, parent: Element, path: tuple[str, ...]
) -> dict[tuple[str, ...], tuple[Element, NodeKind, tuple[str, ...]]]:
    out = {}
    for child in parent:
        kind, cpath = _kind(schema, path, child)
        out[_ident(child, kind)] = (child, kind, cpath)
    return out


def _removal(el: Element, kind: NodeKind) -> Element:
    gone = copy.deepcopy(el)
    if kind.kind == "list":
        ns = etree.QName(el).namespace
        for child in list(gone):
            if child.tag not in {f"{{{ns}}}{k}" for k in kind.keys}:
                gone.remove(child)
    gone.set(OPERATION, "remove")
    return gone


def _diff(schema: Schema, old: Element, new: Element, out: Element, path: tuple[str, ...]) -> int:
    before, after = _index(schema, old, path), _index(schema, new, path)
    changes = 0
    for ident, (el, kind, cpath) in after.items():
        found = before.get(ident)
        if kind.kind == "container":  # containers are entered, never replaced whole: the
            # device may hold entries of its own there, which netpilot does not manage
            changes += _enter(schema, found[0] if found else _empty(el), el, out, cpath)
            continue
        if found is not None and etree.tostring(found[0]) == etree.tostring(el):
            continue
        changed = copy.deepcopy(el)
        changed.set(OPERATION, "replace")
        out.append(changed)
        changes += 1
    for ident, (el, kind, cpath) in before.items():
        if ident in after:
            continue
        if kind.kind == "container":
            changes += _enter(schema, el, _empty(el), out, cpath)
        else:
            out.append(_removal(el, kind))
            changes += 1
    return changes


def _empty(el: Element) -> Element:
    return etree.Element(el.tag)


def _enter(schema: Schema, old: Element, new: Element, out: Element, path: tuple[str, ...]) -> int:
    q = etree.QName(new)
    shell = element(str(q.namespace), q.localname, out)
    inner = _diff(schema, old, new, shell, path)
    if inner == 0:
        out.remove(shell)
    return inner


def keyed_edit(schema: Schema, old: Element, new: Element) -> Element | None:
    """The edit turning rendered config `old` into rendered config `new`; None when equal."""
    out = config_root()
    return out if _diff(schema, old, new, out, ()) else None


def full_edit(config: Element, points: tuple[tuple[tuple[str, str], ...], ...]) -> Element:
    """`config` with each replace point (a path of (namespace, name) from the top) present and
    marked `operation="replace"`: those subtrees become exactly what `config` holds."""
    for point in points:
        node = config
        for ns, tag in point:
            child = node.find(f"{{{ns}}}{tag}")
            node = child if child is not None else element(ns, tag, node)
        node.set(OPERATION, "replace")
    return config
