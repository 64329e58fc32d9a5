"""Reading YAML safely: syntax errors and duplicate keys become one line with file:line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from controller.errors import NotFoundError, ValidationError
from controller.textfile import TOPOLOGY_LIMIT, StrictLoader, read_text, yaml_problem


def read_yaml(path: Path) -> Any:
    """Parse a YAML file; a syntax error names the file, line and column."""
    if not path.is_file():
        raise NotFoundError(f"file not found: {path}")
    text = read_text(path, "topology", TOPOLOGY_LIMIT)  # size-checked, UTF-8
    return parse_yaml(text, str(path))


def parse_yaml(text: str, where: str) -> Any:
    try:
        return yaml.load(text, Loader=StrictLoader)  # a SafeLoader subclass
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        pos = f"{where}:{mark.line + 1}:{mark.column + 1}" if mark else where
        problem = error.problem or error.context or "invalid YAML"
        raise ValidationError(pos, [f"YAML syntax error: {problem}"]) from None
    except yaml.YAMLError as error:
        raise ValidationError(where, [f"YAML syntax error: {yaml_problem(error, text)}"]) from None
