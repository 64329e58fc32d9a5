"""Read a declarative intents file (YAML or JSON) and a prefix map; errors name the field.

Files are size-checked before they are read (`controller.textfile`: 16 MiB for intents, enough for
the 100,000 intents one file may hold), must be UTF-8, and a YAML error is one line with its place.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

from pydantic import ValidationError as PydanticValidationError

from controller.errors import UsageError, ValidationError, pydantic_message
from controller.intents import Intent, IntentFile
from controller.textfile import CONFIG_LIMIT, INTENTS_FIX, INTENTS_LIMIT, load_yaml


def pydantic_problems(error: PydanticValidationError, prefix: str = "") -> list[str]:
    """One line per problem: `intents[2].bandwidth: <message>`."""
    problems = []
    for item in error.errors():
        where = prefix
        for part in item.get("loc", ()):
            where += f"[{part}]" if isinstance(part, int) else (f".{part}" if where else str(part))
        message = pydantic_message(item)
        problems.append(f"{where or 'file'}: {message}")
    return problems


def load_intents(path: Path) -> list[Intent]:
    """The intents of a file shaped `intents: [...]` (a bare list is accepted too)."""
    data = load_yaml(path, "-f", INTENTS_LIMIT, fix=INTENTS_FIX)
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
    data: Any = load_yaml(path, "--prefixes", CONFIG_LIMIT)
    if not isinstance(data, dict):
        raise UsageError(f"--prefixes {path}: expected `NODE: [10.1.0.0/16, ...]` entries")
    out: dict[str, str] = {}
    for node, prefixes in data.items():
        if not isinstance(prefixes, list) or not all(isinstance(p, str) for p in prefixes):
            raise UsageError(f"--prefixes {path}: {node}: expected a list of prefixes")
        for prefix in prefixes:
            try:
                ipaddress.ip_network(prefix, strict=False)
            except ValueError:
                raise UsageError(
                    f"--prefixes {path}: {node}: {prefix!r} is not an IP prefix; "
                    "write e.g. 10.1.0.0/16"
                ) from None
            out[prefix] = str(node)
    return out
