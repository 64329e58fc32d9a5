"""The NETCONF operations of a simulated router (RFC 6241 sections 7 and 8)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Protocol

from lxml import etree

from controller.errors import ValidationError
from harness.datastore import (
    Element,
    RpcError,
    apply_edit,
    content,
    new_datastore,
    subtree_filter,
    xpath_filter,
)
from harness.nc_router import NetconfRouter, Pending

NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
DEFAULT_CONFIRM_TIMEOUT = 600


class OpSession(Protocol):
    """The session an operation runs in (a `harness.nc_session.NetconfSession`)."""

    @property
    def id(self) -> int: ...

    @property
    def router(self) -> NetconfRouter: ...


def _nc(tag: str) -> str:
    return f"{{{NC}}}{tag}"


def _child(op: Element, tag: str) -> Element | None:
    return op.find(_nc(tag))


def _target(op: Element, param: str) -> str:
    holder = _child(op, param)
    names = [etree.QName(c).localname for c in holder] if holder is not None else []
    if len(names) != 1:
        raise RpcError(
            "missing-element",
            f"<{param}> must name one datastore",
            type="protocol",
            info={"bad-element": param},
        )
    return names[0]


def _datastore(session: OpSession, name: str, writing: bool = False) -> Element:
    router = session.router
    if name == "candidate" and router.options.candidate:
        return router.candidate
    if name == "running" and (not writing or router.options.writable_running):
        return router.running
    raise RpcError(
        "operation-not-supported",
        f"datastore <{name}> is not supported here",
        type="protocol",
        info={"bad-element": name},
    )


def _check_lock(session: OpSession, name: str) -> None:
    holder = session.router.locks.get(name)
    if holder is not None and holder != session.id:
        raise RpcError(
            "in-use",
            f"the {name} datastore is locked by session {holder}",
            type="protocol",
            info={"session-id": str(holder)},
        )


def _validate(session: OpSession, root: Element, name: str, full: bool = True) -> None:
    try:
        router = session.router  # validated once per change of the document (nc_router.py)
        router.validated.validate(
            router.schema, content(root), f"{name} of {router.name}", full=full
        )
    except ValidationError as err:
        path = getattr(err, "path", None)  # the node at fault (yang.SchemaError), if known
        prefixes = {
            module: ns
            for ns, module in session.router.schema.namespaces.items()
            if path and f"{module}:" in path
        }
        raise RpcError(
            "invalid-value", str(err), path=path, info={"bad-element": name}, prefixes=prefixes
        ) from None


def _filtered(root: Element, op: Element) -> Element:
    flt = _child(op, "filter")
    if flt is None:
        return copy.deepcopy(root)
    if flt.get("type", "subtree") == "xpath":
        select = flt.get("select") or ""
        namespaces = {k: v for k, v in flt.nsmap.items() if k is not None}
        return xpath_filter(root, select, namespaces)
    return subtree_filter(root, flt)


def op_get_config(session: OpSession, op: Element) -> Element:
    source = _datastore(session, _target(op, "source"))
    return _filtered(source, op)


def op_get(session: OpSession, op: Element) -> Element:
    root = copy.deepcopy(session.router.running)
    root.extend(session.router.state_elements())
    return _filtered(root, op)


def op_edit_config(session: OpSession, op: Element) -> None:
    router = session.router
    name = _target(op, "target")
    store = _datastore(session, name, writing=True)
    _check_lock(session, name)
    config = _child(op, "config")
    if config is None:
        raise RpcError(
            "operation-not-supported",
            "only inline <config> is supported (no <url>)",
            type="protocol",
            info={"bad-element": "url"},
        )
    default = _text(op, "default-operation") or "merge"
    test = _text(op, "test-option") or "test-then-set"
    on_error = _text(op, "error-option") or "stop-on-error"
    if default not in ("merge", "replace", "none"):
        raise RpcError(
            "invalid-value",
            f"default-operation {default!r} is not merge|replace|none",
            type="protocol",
            info={"bad-element": "default-operation"},
        )
    work = new_datastore() if default == "replace" else copy.deepcopy(store)
    errors: list[RpcError] = []
    parts = list(config) if on_error == "continue-on-error" else [config]
    for part in parts:
        holder = config if part is config else _wrap(part)
        try:
            apply_edit(router.schema, work, holder, "replace" if default == "replace" else default)
        except RpcError as err:
            errors.append(err)
            if on_error != "continue-on-error":
                raise
    if test != "set":
        _validate(session, work, name, full=(name == "running"))
    if test == "test-only":
        return
    if name == "candidate":
        router.candidate = work
    else:
        router.running = work
        router.candidate = copy.deepcopy(work) if router.options.candidate else router.candidate
    if errors:
        raise errors[0]


def _wrap(part: Element) -> Element:
    holder = etree.Element(_nc("config"))
    holder.append(copy.deepcopy(part))
    return holder


def op_lock(session: OpSession, op: Element) -> None:
    router = session.router
    name = _target(op, "target")
    _datastore(session, name)
    holder = router.locks.get(name)
    if holder is not None:
        raise RpcError(
            "lock-denied",
            f"lock failed, lock is already held by session {holder}",
            type="protocol",
            info={"session-id": str(holder)},
        )
    if name == "candidate" and content(router.candidate) != content(router.running):
        raise RpcError(
            "lock-denied",
            "the candidate has uncommitted changes; discard them first",
            type="protocol",
            info={"session-id": "0"},
        )
    router.locks[name] = session.id


def op_unlock(session: OpSession, op: Element) -> None:
    router = session.router
    name = _target(op, "target")
    if router.locks.get(name) != session.id:
        raise RpcError(
            "operation-failed",
            f"the {name} datastore is not locked by this session",
            type="protocol",
        )
    del router.locks[name]


def op_discard_changes(session: OpSession, op: Element) -> None:
    _datastore(session, "candidate")
    _check_lock(session, "candidate")
    session.router.candidate = copy.deepcopy(session.router.running)


def op_validate(session: OpSession, op: Element) -> None:
    source = _child(op, "source")
    if source is not None and source.find(_nc("config")) is not None:
        root = new_datastore()
        apply_edit(session.router.schema, root, source.find(_nc("config")), "merge")
        _validate(session, root, "config")
        return
    name = _target(op, "source")
    _validate(session, _datastore(session, name), name)


def _text(op: Element, tag: str) -> str | None:
    el = _child(op, tag)
    return None if el is None else (el.text or "").strip()


def _check_owner(session: OpSession, pending: Pending, persist_id: str | None) -> None:
    if pending.persist is not None:
        if persist_id != pending.persist:
            raise RpcError(
                "invalid-value",
                "a persistent confirmed commit is pending; give its <persist-id>",
                info={"bad-element": "persist-id"},
            )
    elif pending.session_id != session.id:
        raise RpcError(
            "in-use",
            "a confirmed commit of another session is pending",
            info={"session-id": str(pending.session_id)},
        )


def op_commit(session: OpSession, op: Element) -> None:
    router = session.router
    _datastore(session, "candidate")
    _check_lock(session, "candidate")
    confirmed = _child(op, "confirmed") is not None
    persist_id = _text(op, "persist-id")
    pending = router.pending
    if pending is not None:
        _check_owner(session, pending, persist_id)
    elif persist_id is not None and not confirmed:
        raise RpcError(
            "invalid-value",
            "no confirmed commit is pending for this <persist-id>",
            info={"bad-element": "persist-id"},
        )
    _validate(session, router.candidate, "candidate")
    if not confirmed:
        if pending is not None and pending.timer is not None:
            pending.timer.cancel()
        router.pending = None
        router.running = copy.deepcopy(router.candidate)
        router.commits += 1
        return
    timeout = _timeout(op)
    if pending is None:
        pending = Pending(copy.deepcopy(router.running), session.id, _text(op, "persist"))
        router.pending = pending
    else:
        pending.persist = _text(op, "persist") or pending.persist
        if pending.timer is not None:
            pending.timer.cancel()
    pending.timer = router.call_later(timeout, router._expire)  # thread-safe
    router.running = copy.deepcopy(router.candidate)
    router.commits += 1


def _timeout(op: Element) -> int:
    raw = _text(op, "confirm-timeout")
    if raw is None:
        return DEFAULT_CONFIRM_TIMEOUT
    if not raw.isdigit() or int(raw) < 1:
        raise RpcError(
            "invalid-value",
            f"confirm-timeout {raw!r} must be a positive integer",
            info={"bad-element": "confirm-timeout"},
        )
    return int(raw)


def op_cancel_commit(session: OpSession, op: Element) -> None:
    router = session.router
    if router.pending is None:
        raise RpcError("operation-failed", "no confirmed commit is pending")
    _check_owner(session, router.pending, _text(op, "persist-id"))
    router._rollback()


def op_close_session(session: OpSession, op: Element) -> None:
    return None


OPS: dict[str, Callable[[OpSession, Element], Element | None]] = {
    "get": op_get,
    "get-config": op_get_config,
    "edit-config": op_edit_config,
    "lock": op_lock,
    "unlock": op_unlock,
    "discard-changes": op_discard_changes,
    "validate": op_validate,
    "commit": op_commit,
    "cancel-commit": op_cancel_commit,
    "close-session": op_close_session,
}


def rollback_pending(router: NetconfRouter) -> None:  # pragma: no cover - alias for readability
    router._rollback()
