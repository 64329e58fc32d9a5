"""Every benchmark command the docs show starts as written (its `--help`, so it is cheap), and no
bench script hides a package of the repo from the others (regression: `python
bench/southbound.py` failed with ModuleNotFoundError because bench/telemetry.py shadowed the
`telemetry` package for every script run from bench/)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
COMMAND = re.compile(r"`((?:\.venv/bin/)?python3? bench/[\w.]+\.py[^`]*)`")

# Runs each command's --help as the interpreter would run the script (its directory first on
# sys.path, __main__), all in one process so the suite pays the imports once; between commands
# the modules a file in bench/ could shadow (same top-level name) are forgotten, so each command
# imports them afresh with bench/ first on sys.path, as it would when run.
DRIVER = r"""
import json, runpy, shlex, sys
from pathlib import Path
root = Path.cwd()
results = {}
shadowable = {p.stem for p in (root / "bench").glob("*.py")}  # what bench/ could hide
sys.path.insert(0, str(root / "bench"))  # what a script in bench/ sees, before any import
try:
    import telemetry.netconf_collector
    results["shadow"] = telemetry.__file__
except Exception as error:
    results["shadow"] = f"{type(error).__name__}: {error}"
del sys.path[0]
for line in sys.stdin.read().splitlines():
    argv = shlex.split(line)
    script = argv[1]
    for name, module in list(sys.modules.items()):
        where = getattr(module, "__file__", None) or ""
        if name.split(".")[0] in shadowable or where.startswith(str(root / "bench")):
            del sys.modules[name]
    sys.path[0] = str((root / script).parent)
    sys.argv = [script, *argv[2:], "--help"]
    try:
        runpy.run_path(script, run_name="__main__")
        results[line] = "no SystemExit"
    except SystemExit as done:
        results[line] = "ok" if done.code in (0, None) else f"exit {done.code}"
    except BaseException as error:
        results[line] = f"{type(error).__name__}: {error}"
print("RESULTS " + json.dumps(results))
"""


def documented_commands() -> list[str]:
    # prose wraps a command across lines: one command is one line of the driver's input
    texts = [doc.read_text() for doc in DOCS]
    found = {" ".join(m.group(1).split()) for text in texts for m in COMMAND.finditer(text)}
    return sorted(found)


def test_every_documented_bench_command_starts() -> None:
    commands = documented_commands()
    scripts = {c.split()[1] for c in commands}
    assert {"bench/southbound.py", "bench/telemetry_rounds.py"} <= scripts
    for command in commands:
        assert (ROOT / command.split()[1]).is_file(), f"docs name a missing script: {command}"
    # `python` as the docs write it is the project's interpreter (an activated venv)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    out = subprocess.run(
        [sys.executable, "-c", DRIVER], input="\n".join(commands), cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("RESULTS ")), None)
    assert line is not None, out.stderr[-3000:]
    results = json.loads(line.removeprefix("RESULTS "))
    # scripts run from bench/ have bench/ first on sys.path: `telemetry` must still be the
    # package (the routers' process imports it through harness/), not a bench script
    assert results.pop("shadow") == str(ROOT / "telemetry" / "__init__.py")
    assert {c: r for c, r in results.items() if r != "ok"} == {}
