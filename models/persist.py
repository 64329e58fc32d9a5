"""Saving and loading models: a JSON header line, then the pickled model.

The header carries a magic word, the file format version, the model kind, the feature schema the
model was trained with and the SHA-256 of the payload. `load` checks all of them before it
unpickles anything (unpickling runs code: a file that fails a check is never loaded), and
refuses with a `ModelFileError` that says what does not match and what to do.
"""

from __future__ import annotations

import hashlib
import json
import pickle
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from controller.errors import NetpilotError, NotFoundError

MAGIC = "netpilot-model"
FORMAT_VERSION = 1


class ModelFileError(NetpilotError):
    """A model file is damaged, of another kind or version, or built for other features."""


@dataclass(frozen=True)
class Header:
    kind: str
    format_version: int
    features: list[str]
    sha256: str
    created: str
    info: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"magic": MAGIC, **self.__dict__}


def save(path: Path, kind: str, model: Any, features: list[str], info: dict[str, Any]) -> Header:
    payload = pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
    info = {**info, "netpilot_version": _version(), "sklearn_version": _sklearn_version()}
    header = Header(
        kind=kind,
        format_version=FORMAT_VERSION,
        features=list(features),
        sha256=hashlib.sha256(payload).hexdigest(),
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        info=info,
    )
    path.write_bytes(json.dumps(header.to_json()).encode() + b"\n" + payload)
    return header


def read_header(path: Path) -> tuple[Header, bytes]:
    """The verified header and the payload bytes (not yet unpickled)."""
    if not path.is_file():
        raise NotFoundError(f"model file not found: {path}")
    raw = path.read_bytes()
    line, _, payload = raw.partition(b"\n")
    try:
        doc = json.loads(line)
        if doc.pop("magic") != MAGIC:
            raise ValueError
        header = Header(**doc)
    except (ValueError, KeyError, TypeError):
        raise ModelFileError(
            f"{path}: not a netpilot model file (no valid header); train one with "
            "`netpilot model train`"
        ) from None
    if header.format_version != FORMAT_VERSION:
        raise ModelFileError(
            f"{path}: model file format {header.format_version}, this netpilot reads "
            f"{FORMAT_VERSION}; retrain it with `netpilot model train {header.kind}`"
        )
    if hashlib.sha256(payload).hexdigest() != header.sha256:
        raise ModelFileError(
            f"{path}: payload hash does not match the header (damaged or edited); "
            f"retrain with `netpilot model train {header.kind}`"
        )
    return header, payload


def load(path: Path, kind: str, features: list[str]) -> tuple[Header, Any]:
    """Load a model of `kind` trained on exactly `features`, after every check passed."""
    header, payload = read_header(path)
    if header.kind != kind:
        raise ModelFileError(f"{path}: holds a {header.kind!r} model, expected {kind!r}")
    if header.features != features:
        missing = [f for f in features if f not in header.features]
        extra = [f for f in header.features if f not in features]
        detail = f"missing {missing[:3]}, unexpected {extra[:3]}" if missing or extra else "order"
        raise ModelFileError(
            f"{path}: feature schema differs from this netpilot's ({detail}); "
            f"retrain with `netpilot model train {kind}`"
        )
    return header, pickle.loads(payload)  # verified by hash and schema above


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("netpilot")
    except PackageNotFoundError:
        return "unknown"


def _sklearn_version() -> str:
    import sklearn

    return str(sklearn.__version__)
