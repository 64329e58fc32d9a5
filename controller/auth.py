"""The API bearer token: from `NETPILOT_API_TOKEN`, else a 0600 file created on first start."""

from __future__ import annotations

import hmac
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from controller.errors import UsageError

TOKEN_ENV = "NETPILOT_API_TOKEN"
DEFAULT_TOKEN_FILE = Path("~/.config/netpilot/api-token")


def default_token_file() -> Path:
    return DEFAULT_TOKEN_FILE.expanduser()


def load_or_create_token(env: Mapping[str, str], path: Path) -> str:
    """The token in the environment, else the one in `path` (created with mode 0600)."""
    token = env.get(TOKEN_ENV, "").strip()
    if token:
        return token
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return read_token_file(path)
    except OSError as error:
        raise UsageError(f"--token-file {path}: cannot create it ({error.strerror})") from None
    token = secrets.token_urlsafe(32)
    with os.fdopen(fd, "w") as handle:
        handle.write(token + "\n")
    return token


def read_token_file(path: Path) -> str:
    try:
        mode = path.stat().st_mode
        if mode & 0o077:
            raise UsageError(
                f"--token-file {path}: readable by others (mode {mode & 0o777:o}); "
                f"run `chmod 600 {path}`"
            )
        token = path.read_text().strip()
    except OSError as error:
        raise UsageError(
            f"--token-file {path}: cannot read it ({error.strerror}); set {TOKEN_ENV} instead"
        ) from None
    if not token:
        raise UsageError(f"--token-file {path}: the file is empty; delete it to get a new token")
    return token


def client_token(env: Mapping[str, str], path: Path | None) -> str | None:
    """For the CLI: the env token, else the token file if it exists."""
    token = env.get(TOKEN_ENV, "").strip()
    if token:
        return token
    path = path or default_token_file()
    return read_token_file(path) if path.exists() else None


def token_matches(expected: str, header: str | None) -> bool:
    """Constant-time check of an `Authorization: Bearer <token>` header."""
    if not header or not header.startswith("Bearer "):
        return False
    given = header[len("Bearer ") :].strip().encode()
    return hmac.compare_digest(given, expected.encode())
