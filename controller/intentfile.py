"""Read a declarative intents file (YAML or JSON) and a prefix map; errors name the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError as PydanticValidationError

from controller.errors import NotFoundError, UsageError, ValidationError
from controller.intents import Intent, IntentFile


def pydantic_problems(error: PydanticValidationError, prefix: str = "") -> list[str]:
    """One line per problem: `intents[2].bandwidth: <message>`."""
    problems = []
    for item in error.errors():
        where = prefix
        for part in item.get("loc", ()):
            where += f"[{part}]" if isinstance(part, int) else (f".{part}" if where else str(part))
        message = item.get("msg", "invalid").removeprefix("Value error, ")
        problems.append(f"{where or 'file'}: {message}")
    return problems


def _read(path: Path, flag: str) -> Any:
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise NotFoundError(f"{flag} {path}: no such file") from None
    except OSError as error:
        raise UsageError(f"{flag} {path}: cannot read it ({error.strerror})") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise UsageError(f"{flag} {path}: not valid YAML ({error})") from None


def load_intents(path: Path) -> list[Intent]:
    """The intents of a file shaped `intents: [...]` (a bare list is accepted too)."""
    data = _read(path, "-f")
    if data is None:
        data = {"intents": []}
    if isinstance(data, list):
        data = {"intents": data}
    if not isinstance(data, dict):
        raise UsageError(f"-f {path}: expected a mapping with an `intents:` list")
    try:
        return list(IntentFile.model_validate(data).intents)
    except PydanticValidationError as error:
        raise ValidationError(f"{path}", pydantic_problems(error)) from None


def load_prefixes(path: Path) -> dict[str, str]:
    """A prefix map file: `NODE: [prefix, ...]` -> {prefix: node}."""
    data = _read(path, "--prefixes")
    if not isinstance(data, dict):
        raise UsageError(f"--prefixes {path}: expected `NODE: [10.1.0.0/16, ...]` entries")
    out: dict[str, str] = {}
    for node, prefixes in data.items():
        if not isinstance(prefixes, list) or not all(isinstance(p, str) for p in prefixes):
            raise UsageError(f"--prefixes {path}: {node}: expected a list of prefixes")
        out.update({p: str(node) for p in prefixes})
    return out
