"""Vendor YANG modules (Cisco IOS-XR native, OpenConfig) fetched from PyPI into a local cache.

The `.yang` files come from the registry, not from copies in this repo: the sdists of
`ydk-models-cisco-ios-xr` 6.6.3 and `ydk-models-openconfig` 0.1.9 hold the published modules
under `ydk/models/<bundle>/_yang/`. `fetch` runs `pip download --no-deps` (the ordinary client, so
pip's configured indexes and mirrors apply) and extracts only those `.yang` files (never
importing anything from the sdist) into
`<cache>/<dist>-<version>/`; the cache defaults to `var/yang-cache/` in the repo (ignored by git)
or `$NETPILOT_YANG_CACHE`. `context(flavor, modules)` loads modules from it into libyang.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path, PurePosixPath

import libyang

from controller.errors import NotFoundError
from controller.southbound.yang import ietf_modules_dir

PACKAGES = {
    "iosxr": ("ydk-models-cisco-ios-xr", "6.6.3"),
    "openconfig": ("ydk-models-openconfig", "0.1.9"),
}
"""Flavour -> the PyPI sdist (name, exact version) that carries its YANG modules."""
REPO = Path(__file__).resolve().parents[2]


def cache_dir() -> Path:
    return Path(os.environ.get("NETPILOT_YANG_CACHE") or REPO / "var" / "yang-cache")


def modules_dir(flavor: str, cache: Path | None = None) -> Path:
    """Where the flavour's `.yang` files are (or will be) in the cache."""
    dist, version = _package(flavor)
    return (cache or cache_dir()) / f"{dist}-{version}"


def _package(flavor: str) -> tuple[str, str]:
    if flavor not in PACKAGES:
        raise NotFoundError(
            f"no vendor YANG for flavor {flavor!r}; use one of {', '.join(PACKAGES)}"
        )
    return PACKAGES[flavor]


def pip_download(dist: str, version: str, into: Path) -> Path:
    """`pip download --no-deps` of one sdist (through pip's configured indexes, mirrors
    included); the path of the archive. pip prepares the sdist's metadata, which runs its
    `setup.py` in an isolated build environment (about 40 s per package here); nothing of the
    package is imported into this process."""
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
         "--quiet", f"{dist}=={version}", "-d", str(into)],
        check=True, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    found = sorted(into.glob(f"{dist}-{version}.tar.gz"))
    if not found:
        raise NotFoundError(f"pip download of {dist}=={version} left no sdist in {into}")
    return found[0]


def extract_yang(archive: Path, target: Path) -> int:
    """Copy the `ydk/models/*/_yang/*.yang` members of an sdist into `target` (flat); the count.
    Members are read as data, never extracted by path (no traversal, links or devices)."""
    target.mkdir(parents=True, exist_ok=True)
    count = 0
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar:
            parts = PurePosixPath(member.name).parts
            if not member.isfile() or not member.name.endswith(".yang") or "_yang" not in parts:
                continue
            if ".." in parts or member.name.startswith("/"):
                continue
            data = tar.extractfile(member)
            if data is None:
                continue
            (target / parts[-1]).write_bytes(data.read())
            count += 1
    return count


PATCHES: dict[str, dict[str, tuple[str, ...]]] = {
    "iosxr": {
        "Cisco-IOS-XR-infra-policymgr-cfg.yang": (
            'when "count(../class-map-mode-match-all) = 0" {',
            'when "count(../class-map-mode-match-any) = 0" {',
            'when "count(../event-mode-match-first) = 0" {',
            'when "count(../event-mode-match-all) = 0" {',
        ),
    },
    "openconfig": {
        "openconfig-platform-transceiver.yang": ('when "current()/oc-platform:state/" +',),
    },
}
"""Flavour -> module file -> `when` statements taken out of the cached copy at fetch time.
IOS-XR 6.6.3's `infra-policymgr-cfg` (class and policy maps) has two pairs of `when`s that
refer to each other (`class-map-mode-match-any`/`-all`, `event-mode-match-all`/`-first`):
libyang 2.1 refuses to load the module ("When condition cyclic dependency"). Removing them only
drops the checks that a class map (or a subscriber event) has at most one match mode; the
iosxr flavour always sets exactly one. OpenConfig 0.1.9's transceiver augment is conditioned on
`oc-platform:type = 'TRANSCEIVER'`, comparing an identityref with a bare name: libyang
compares the prefixed identity and the augment could never be used; the cached copy drops it.
The patched copies live in the cache only (never in the repo), each original beside it as
`*.orig`."""


def patch_cache(flavor: str, directory: Path) -> list[str]:
    """Apply the flavour's PATCHES to its cached modules (idempotent); the files patched."""
    done = []
    for name, whens in PATCHES.get(flavor, {}).items():
        path = directory / name
        if not path.is_file():
            continue
        original = path.with_name(f"{name}.orig")
        text = original.read_text() if original.exists() else path.read_text()
        patched = text
        for when in whens:
            patched = _drop_statement(patched, when)
        if patched != path.read_text():
            if not original.exists():
                original.write_text(text)
            path.write_text(patched)
            done.append(name)
    return done


def _drop_statement(text: str, opening: str) -> str:
    """`text` without the block statement that starts with `opening` (which ends in `{`)."""
    start = text.find(opening)
    if start < 0:
        return text
    depth, i = 0, start
    while i < len(text):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return text[:start] + text[i + 1 :].lstrip(" ")
        i += 1
    return text


def fetch(
    flavor: str,
    cache: Path | None = None,
    download: Callable[[str, str, Path], Path] = pip_download,
) -> Path:
    """The flavour's module directory, downloading and extracting it on first use."""
    target = modules_dir(flavor, cache)
    if (target / ".complete").is_file():
        patch_cache(flavor, target)
        return target
    dist, version = _package(flavor)
    with tempfile.TemporaryDirectory(prefix="np-yang-") as tmp:
        archive = download(dist, version, Path(tmp))
        partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
        count = extract_yang(archive, partial)
        if count == 0:
            raise NotFoundError(f"{archive.name} holds no ydk/models/*/_yang/*.yang files")
        patch_cache(flavor, partial)
        (partial / ".complete").write_text(f"{dist}=={version}: {count} modules\n")
        if target.exists() and not (target / ".complete").is_file():
            _remove_tree(target)  # a fetch that died half way
        try:
            partial.rename(target)
        except OSError:  # another process finished the same fetch first
            _remove_tree(partial)
    return target


def _remove_tree(path: Path) -> None:
    for child in path.iterdir():
        child.unlink()
    path.rmdir()


def context(flavor: str, modules: Iterable[str], cache: Path | None = None) -> libyang.Context:
    """A libyang context with `modules` (and what they import) loaded from the cache."""
    directory = modules_dir(flavor, cache)
    if not (directory / ".complete").is_file():
        raise NotFoundError(
            f"vendor YANG for {flavor} not in {directory}; fetch it first (vendor_yang.fetch)"
        )
    ctx = libyang.Context(f"{directory}:{ietf_modules_dir()}")
    for name in modules:
        ctx.load_module(name)
    return ctx


def main(argv: list[str] | None = None) -> int:
    """`python -m controller.southbound.vendor_yang [FLAVOR...]`: fetch (once per machine) and
    patch the vendor modules into the cache; `make test` runs it before the suite."""
    flavors = (argv if argv is not None else sys.argv[1:]) or list(PACKAGES)
    for flavor in flavors:
        try:
            print(f"{flavor}: {fetch(flavor)}")
        except (NotFoundError, subprocess.SubprocessError, OSError) as error:
            print(f"{flavor}: cannot fetch the vendor YANG modules: {error}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
