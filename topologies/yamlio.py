"""Reading YAML safely: syntax errors and duplicate keys become one line with file:line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from controller.errors import NotFoundError, ValidationError

_Base: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: 10x faster


class _StrictLoader(_Base):  # type: ignore[valid-type,misc]
    """SafeLoader that refuses duplicate keys (PyYAML silently keeps the last one)."""


def _mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    result: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in result:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"duplicate key {key!r}: keep one of them",
                key_node.start_mark,
            )
        result[key] = loader.construct_object(value_node, deep=True)
    return result


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def read_yaml(path: Path) -> Any:
    """Parse a YAML file; a syntax error names the file, line and column."""
    if not path.is_file():
        raise NotFoundError(f"file not found: {path}")
    text = path.read_text(encoding="utf-8")
    return parse_yaml(text, str(path))


def parse_yaml(text: str, where: str) -> Any:
    try:
        return yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        pos = f"{where}:{mark.line + 1}:{mark.column + 1}" if mark else where
        problem = error.problem or error.context or "invalid YAML"
        raise ValidationError(pos, [f"YAML syntax error: {problem}"]) from None
    except yaml.YAMLError as error:
        raise ValidationError(where, [f"YAML syntax error: {error}"]) from None
