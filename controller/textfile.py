"""Read the files people hand the CLI (intents, topologies, scenarios, inventories, secrets).

A file is refused before it is read when it is larger than its limit (a 50 MB YAML file costs about
a gigabyte of memory to parse), decoded as UTF-8 (a bad byte is reported by offset, never shown),
and parsed by PyYAML with duplicate keys refused. Every problem is one line naming the file, the
line and column, and what is wrong. With `redact=True` (secrets, inventories) the line is never
quoted and quoted fragments of PyYAML's message (an alias or a character taken from a value) are
dropped, so a password cannot leak through an error.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from controller.errors import NotFoundError, UsageError

MiB = 1024 * 1024
INTENTS_LIMIT = 16 * MiB
"""Intents files: 100,000 intents (the most one file or request may hold) take about 12 MiB."""
INTENTS_FIX = (
    "100,000 intents fit in it; apply a large set as several files (without --prune, which "
    "would delete what the other files hold)"
)
TOPOLOGY_LIMIT = 64 * MiB
CONFIG_LIMIT = 16 * MiB
"""Scenarios, prefix maps, inventories and secrets files."""

_Base: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: 10x faster
_QUOTED = re.compile(r"(\w+ )?('[^']*'|\"[^\"]*\")")
_STRUCTURE = {"','", "':'", "'-'", "'?'", "'['", "']'", "'{'", "'}'"}


class StrictLoader(_Base):  # type: ignore[valid-type,misc]
    """A SafeLoader that refuses duplicate keys (PyYAML silently keeps the last one)."""


def _mapping(loader: StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    result: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in result:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}: keep one of them", key_node.start_mark
            )
        result[key] = loader.construct_object(value_node, deep=True)
    return result


StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def read_text(path: Path, what: str, limit: int, *, fix: str = "is it the right file?") -> str:
    """The file's text; its size is checked before it is read. `what` names it in errors
    (a flag such as `-f`, or a kind such as `secrets file`); `fix` says what to do about a file
    over the limit."""
    try:
        size = path.stat().st_size
        if path.is_dir():
            raise UsageError(f"{what} {path}: is a directory; give a file")
        if size > limit:
            raise UsageError(f"{what} {path}: {_mib(size)} is over the {_mib(limit)} limit; {fix}")
        with path.open("rb") as handle:
            data = handle.read(limit + 1)  # a pipe or device has no size to check beforehand
    except FileNotFoundError:
        raise NotFoundError(f"{what} {path}: no such file") from None
    except OSError as error:
        raise UsageError(f"{what} {path}: cannot read it ({error.strerror})") from None
    if len(data) > limit:
        raise UsageError(f"{what} {path}: over the {_mib(limit)} limit; {fix}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise UsageError(
            f"{what} {path}: not UTF-8 text at byte {error.start} (line {line}); "
            "save the file as UTF-8"
        ) from None


def _mib(size: int) -> str:
    if size < MiB:
        return f"{size} bytes"
    return f"{size / MiB:.1f} MiB" if size % MiB else f"{size // MiB} MiB"


def parse_yaml(text: str, where: str, *, redact: bool = False) -> Any:
    """Parse YAML (or JSON); a syntax error is one `UsageError` line naming `where`."""
    try:
        return yaml.load(text, Loader=StrictLoader)  # a SafeLoader subclass
    except yaml.YAMLError as error:
        problem = yaml_problem(error, text, redact=redact)
        raise UsageError(f"{where}: not valid YAML: {problem}") from None


def load_yaml(
    path: Path, what: str, limit: int, *, redact: bool = False, fix: str = "is it the right file?"
) -> Any:
    """`read_text` then `parse_yaml`."""
    return parse_yaml(read_text(path, what, limit, fix=fix), f"{what} {path}", redact=redact)


def yaml_problem(error: yaml.YAMLError, text: str = "", *, redact: bool = False) -> str:
    """PyYAML's error as one line: where (line, column), what, and while doing what; never
    the quoted source line PyYAML's own message carries."""
    if isinstance(error, yaml.MarkedYAMLError):
        mark = error.problem_mark or error.context_mark
        problem = _clean(error.problem or "invalid YAML", redact)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        context = error.context if error.problem else None
        started = error.context_mark
        if context and started is not None and mark is not None:
            same = (started.line, started.column) == (mark.line, mark.column)
            at = "" if same else f" at line {started.line + 1}, column {started.column + 1}"
            problem += f" ({_clean(context, redact)}{at})"
        return where + problem
    if isinstance(error, yaml.reader.ReaderError):
        line = text.count("\n", 0, error.position) + 1 if text else None
        where = f"line {line}: " if line else ""
        return f"{where}special character #x{_code(error.character)} is not allowed in YAML"
    return _clean(str(error).splitlines()[0] if str(error) else "invalid YAML", redact)


def _code(character: object) -> str:
    if isinstance(character, str) and len(character) == 1:
        return f"{ord(character):04x}"
    return f"{character:04x}" if isinstance(character, int) else "?"


def _clean(message: str, redact: bool) -> str:
    """One line; with `redact`, quoted fragments that may come from a value are dropped (kept:
    YAML's own tokens and punctuation that the parser expected or got, and key names)."""
    one = " ".join(message.split())
    if not redact:
        return one
    return _QUOTED.sub(_keep_or_drop, one)


def _keep_or_drop(match: re.Match[str]) -> str:
    word, fragment = match.group(1) or "", match.group(2)
    token = fragment in _STRUCTURE or re.fullmatch(r"'<[a-z ]+>'", fragment) is not None
    if word in ("key ", "expected ", "or ", "got ", "found ") and (token or word == "key "):
        return match.group(0)
    return f"{word}(a value)"
