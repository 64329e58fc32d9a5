"""Every `netpilot` command in a code block of the README or docs/ parses against the CLI as
written: the command exists, every option exists and its value has the right type, nothing is
left over. (Parsing only: the README's tour is also run for real by tests/test_readme_tour.py,
and each doc's commands by the tests of its feature.)"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import typer

import cli

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def documented_commands() -> list[tuple[str, str]]:
    found = []
    for doc in DOCS:
        for block in re.findall(r"```[a-z]*\n(.*?)```", doc.read_text(), flags=re.S):
            for raw in re.sub(r"\\\n\s*", "", block).splitlines():
                line = re.sub(r"\s{2,}#.*$", "", raw).strip().removesuffix("&").strip()
                line = re.sub(r"^(\.venv/bin/)?netpilot ", "netpilot ", line)
                if line.startswith("netpilot "):
                    found.append((doc.name, line))
    return found


def parse(argv: list[str]) -> None:
    """Parse as `netpilot ARGV` would, down to the leaf command, without running it."""
    command = typer.main.get_command(cli.build_app(cli._command_named(argv)))
    context = command.make_context("netpilot", list(argv))
    args = [*getattr(context, "_protected_args", []), *context.args]
    while isinstance(command, typer.core.TyperGroup) and args:
        name, sub, rest = command.resolve_command(context, args)
        assert sub is not None and name is not None
        context = sub.make_context(name, rest, parent=context)
        command, args = sub, [*getattr(context, "_protected_args", []), *context.args]


def test_the_docs_show_commands() -> None:
    docs = {doc for doc, _ in documented_commands()}
    assert {"README.md", "intents.md", "southbound.md", "ML.md"} <= docs


@pytest.mark.parametrize(("doc", "line"), documented_commands())
def test_documented_command_parses(doc: str, line: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # the docs' relative paths (topologies/, ../shared/data) start here
    try:
        parse(shlex.split(line)[1:])
    except Exception as error:  # click's UsageError, BadParameter, NoSuchOption, ...
        pytest.fail(f"{doc}: `{line}` does not parse: {type(error).__name__}: {error}")
