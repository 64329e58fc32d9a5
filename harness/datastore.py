"""NETCONF datastore operations on lxml trees: edit-config (RFC 6241 section 7.2), filters.

A datastore is a `<data>` element (base namespace) holding the netpilot top-level containers.
The schema (`controller.southbound.yang.Schema`) says which nodes are lists (and their keys) and
leaf-lists, so that edits find the entry they address.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from lxml import etree

from controller.southbound.render import NC, OPERATION
from controller.southbound.yang import NS, NodeKind, Schema

Element: TypeAlias = Any  # lxml ships no type stubs; an lxml etree._Element
OPERATIONS = ("merge", "replace", "create", "delete", "remove", "none")


@dataclass
class RpcError(Exception):
    """An `<rpc-error>` as RFC 6241 Appendix A defines it."""

    tag: str
    message: str
    type: str = "application"
    path: str | None = None
    info: dict[str, str] = field(default_factory=dict)
    prefixes: dict[str, str] = field(default_factory=dict)
    """Namespace prefixes the error-path uses beyond `np:` (vendor module names)."""

    def __str__(self) -> str:
        return f"{self.tag}: {self.message}"


def new_datastore() -> Element:
    return etree.Element(f"{{{NC}}}data", nsmap={None: NC})


def content(root: Element) -> bytes:
    """The top-level config elements, serialized (for validation and comparison)."""
    return b"".join(etree.tostring(child) for child in root)


def _path_text(path: tuple[str, ...], ns: str | None = NS) -> str:
    """An error-path: `np:` prefixes for the netpilot module, bare names for other modules."""
    prefix = "np:" if ns == NS else ""
    return "/" + "/".join(f"{prefix}{p}" for p in path)


def _ns(el: Element) -> str | None:
    return etree.QName(el).namespace


def _clean_copy(el: Element) -> Element:
    """A copy without `operation` attributes; subtrees marked delete/remove are dropped."""
    new = copy.deepcopy(el)
    for node in list(new.iter()):
        op = node.attrib.pop(OPERATION, None)
        if op in ("delete", "remove") and node is not new:
            parent = node.getparent()
            if parent is not None:
                parent.remove(node)
    return new


def _key_values(el: Element, keys: tuple[str, ...], path: tuple[str, ...]) -> tuple[str, ...]:
    values = []
    ns = _ns(el)
    for key in keys:
        child = el.find(f"{{{ns}}}{key}")
        if child is None or not (child.text or "").strip():
            raise RpcError(
                "missing-element",
                f"list entry {_path_text(path, ns)} needs its key <{key}>",
                path=_path_text(path, ns),
                info={"bad-element": key},
            )
        values.append((child.text or "").strip())
    return tuple(values)


class Entries:
    """The children of one target element, indexed by list key or leaf-list value on first
    use, so that finding the entry an edit addresses costs O(1) instead of a scan of the list
    (an edit of n entries into a list of n was O(n^2): 4,000 policies took minutes)."""

    def __init__(self, target: Element) -> None:
        self.target = target
        self._by_tag: dict[str, dict[tuple[str, ...], Element]] = {}

    def _table(self, tag: str, kind: NodeKind) -> dict[tuple[str, ...], Element]:
        table = self._by_tag.get(tag)
        if table is None:
            table = {}
            for cand in self.target.iterfind(tag):
                key = _existing_key(cand, kind)
                if key is not None:
                    table.setdefault(key, cand)  # the first entry wins, as a scan would find
            self._by_tag[tag] = table
        return table

    def key(self, child: Element, kind: NodeKind, path: tuple[str, ...]) -> tuple[str, ...]:
        if kind.kind == "list":
            return _key_values(child, kind.keys, path)
        return ((child.text or "").strip(),)

    def find(self, child: Element, kind: NodeKind, path: tuple[str, ...]) -> Element | None:
        if kind.kind not in ("list", "leaf-list"):
            return self.target.find(child.tag)
        return self._table(child.tag, kind).get(self.key(child, kind, path))

    def put(self, new: Element, kind: NodeKind, path: tuple[str, ...]) -> None:
        """Record `new` (just added or put in place of the old entry) under its key."""
        if kind.kind in ("list", "leaf-list"):
            self._table(new.tag, kind)[self.key(new, kind, path)] = new

    def drop(self, old: Element, kind: NodeKind, path: tuple[str, ...]) -> None:
        if kind.kind in ("list", "leaf-list"):
            self._table(old.tag, kind).pop(self.key(old, kind, path), None)


def _existing_key(el: Element, kind: NodeKind) -> tuple[str, ...] | None:
    if kind.kind == "leaf-list":
        return ((el.text or "").strip(),)
    values = []
    ns = _ns(el)
    for key in kind.keys:
        child = el.find(f"{{{ns}}}{key}")
        if child is None or not (child.text or "").strip():
            return None
        values.append((child.text or "").strip())
    return tuple(values)


def _kind_of(
    schema: Schema, child: Element, path: tuple[str, ...]
) -> tuple[NodeKind, tuple[str, ...]]:
    qname = etree.QName(child)
    cpath = (*path, qname.localname)
    kind = schema.kind(cpath) if qname.namespace in schema.namespaces else None
    if kind is None:
        raise RpcError(
            "unknown-element",
            f"no element <{qname.localname}> in namespace {qname.namespace} at "
            f"{_path_text(path, qname.namespace)}",
            type="application",
            path=_path_text(path, qname.namespace),
            info={"bad-element": qname.localname},
        )
    return kind, cpath


def apply_edit(
    schema: Schema,
    target: Element,
    edit: Element,
    inherited: str,
    where: tuple[str, ...] | None = None,
) -> None:
    """Apply the children of `edit` (a `<config>` or a container in it) to `target`, whose
    schema path is `where` (found from its ancestors when not given)."""
    entries = Entries(target)
    where = _path_of(target) if where is None else where
    for child in edit:
        if not isinstance(child.tag, str):
            continue
        kind, cpath = _kind_of(schema, child, where)
        op = child.get(OPERATION, inherited)
        if op not in OPERATIONS:
            raise RpcError(
                "bad-attribute",
                f"operation {op!r} is not one of {OPERATIONS}",
                type="rpc",
                path=_path_text(cpath, _ns(child)),
                info={"bad-attribute": "operation"},
            )
        _apply_one(schema, entries, child, (kind, cpath), op)


def _path_of(el: Element) -> tuple[str, ...]:
    names: list[str] = []
    node: Element | None = el
    while node is not None and etree.QName(node).namespace != NC:
        names.append(etree.QName(node).localname)
        node = node.getparent()
    return tuple(reversed(names))


def _apply_one(
    schema: Schema,
    entries: Entries,
    child: Element,
    where: tuple[NodeKind, tuple[str, ...]],
    op: str,
) -> None:
    kind, cpath = where
    target = entries.target
    match = entries.find(child, kind, cpath)
    if op in ("delete", "remove"):
        _delete(entries, match, where, op)
        return
    if op == "create" and match is not None:
        raise RpcError(
            "data-exists", f"{_path_text(cpath, _ns(child))} already exists; cannot create",
            path=_path_text(cpath, _ns(child)),
        )  # fmt: skip
    leaf = kind.kind in ("leaf", "leaf-list")
    if op in ("create", "replace") or (leaf and op == "merge" and match is None):
        new = _clean_copy(child)
        if match is not None:
            target.replace(match, new)
        else:
            target.append(new)
        entries.put(new, kind, cpath)
        return
    if leaf:
        if op == "merge" and match is not None:
            match.text = child.text
        return
    _descend(schema, entries, child, where, op, match=match)


def _delete(
    entries: Entries, match: Element | None, where: tuple[NodeKind, tuple[str, ...]], op: str
) -> None:
    kind, cpath = where
    if match is not None:
        entries.target.remove(match)
        entries.drop(match, kind, cpath)
    elif op == "delete":
        raise RpcError(
            "data-missing", f"{_path_text(cpath)} does not exist; cannot delete",
            path=_path_text(cpath),
        )  # fmt: skip


def _descend(
    schema: Schema,
    entries: Entries,
    child: Element,
    where: tuple[NodeKind, tuple[str, ...]],
    op: str,
    *,
    match: Element | None,
) -> None:
    kind, cpath = where
    target = entries.target
    created = match is None
    if match is None:
        match = etree.SubElement(target, child.tag)
        for key in kind.keys:
            key_el = child.find(f"{{{_ns(child)}}}{key}")
            if key_el is not None:
                match.append(_clean_copy(key_el))
        entries.put(match, kind, cpath)
    apply_edit(schema, match, child, op, cpath)
    if created and op == "none" and len(match) <= len(kind.keys):
        target.remove(match)
        entries.drop(match, kind, cpath)


# -- filters ------------------------------------------------------------------------------------
def _matches(data: Element, flt: Element) -> bool:
    fq, dq = etree.QName(flt), etree.QName(data)
    return fq.localname == dq.localname and (fq.namespace in (None, dq.namespace))


def _is_content_match(flt: Element) -> bool:
    return len(flt) == 0 and bool((flt.text or "").strip())


def _filter_node(data: Element, flt: Element) -> Element | None:
    if len(flt) == 0 and not _is_content_match(flt):
        return copy.deepcopy(data)
    contents = [c for c in flt if isinstance(c.tag, str) and _is_content_match(c)]
    others = [c for c in flt if isinstance(c.tag, str) and not _is_content_match(c)]
    for c in contents:
        found = [d for d in data if _matches(d, c)]
        if not any((d.text or "").strip() == (c.text or "").strip() for d in found):
            return None
    if not others:
        return copy.deepcopy(data)
    out = etree.Element(data.tag, nsmap=data.nsmap)
    for d in data:
        if any(_matches(d, c) for c in contents):
            out.append(copy.deepcopy(d))
    found_any = False
    for d in data:
        for c in others:
            if _matches(d, c):
                sub = _filter_node(d, c)
                if sub is not None:
                    out.append(sub)
                    found_any = True
                break
    return out if found_any else None


def subtree_filter(root: Element, flt: Element) -> Element:
    """RFC 6241 section 6 subtree filtering of `root`'s children; returns a new `<data>`."""
    out = new_datastore()
    for f in flt:
        if not isinstance(f.tag, str):
            continue
        for d in root:
            if _matches(d, f):
                sub = _filter_node(d, f)
                if sub is not None:
                    out.append(sub)
    return out


def xpath_filter(root: Element, select: str, namespaces: dict[str, str]) -> Element:
    """`:xpath` filtering: each top-level subtree is its own document; selected nodes are
    returned with their ancestors (and the key leaves of ancestor list entries)."""
    out = new_datastore()
    for top in root:
        doc = etree.ElementTree(copy.deepcopy(top))
        try:
            hits = doc.xpath(select, namespaces=namespaces)
        except etree.XPathError as error:
            raise RpcError(
                "invalid-value",
                f"bad xpath {select!r}: {error}",
                type="protocol",
                info={"bad-element": "filter"},
            ) from None
        made: dict[str, Element] = {}
        for hit in hits if isinstance(hits, list) else []:
            if isinstance(hit, etree._Element):
                _graft(out, doc, hit, made)
    return out


KEY_LEAVES = ("name", "color", "endpoint", "index", "queue")


def _graft(out: Element, doc: etree._ElementTree, hit: Element, made: dict[str, Element]) -> None:
    chain = list(reversed([hit, *hit.iterancestors()]))
    parent = out
    for node in chain[:-1]:
        where = doc.getpath(node)
        if where not in made:
            shell = etree.SubElement(parent, node.tag, nsmap={None: etree.QName(node).namespace})
            for leaf in node:
                if len(leaf) == 0 and etree.QName(leaf).localname in KEY_LEAVES and leaf is not hit:
                    shell.append(copy.deepcopy(leaf))
            made[where] = shell
        parent = made[where]
    if doc.getpath(hit) not in made:
        made[doc.getpath(hit)] = hit
        parent.append(copy.deepcopy(hit))
