"""TLS for the REST API: the server's certificate and key are checked at start (one line naming
the flag, exit 2, instead of a traceback from inside uvicorn), and the CLI's client context
verifies the server against the system CAs or a CA file."""

from __future__ import annotations

import ssl
from pathlib import Path

from controller.errors import UsageError

CA_ENV = "NETPILOT_CA_FILE"


def _read(path: Path, flag: str) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError as error:
        raise UsageError(f"{flag} {path}: cannot read it ({error.strerror})") from None


def check_server_files(cert: Path, key: Path) -> None:
    """Refuse a certificate or key that cannot be read, is not PEM, or does not match."""
    cert_text, key_text = _read(cert, "--tls-cert"), _read(key, "--tls-key")
    if "-----BEGIN CERTIFICATE-----" not in cert_text:
        raise UsageError(
            f"--tls-cert {cert}: not a PEM certificate (no BEGIN CERTIFICATE); give the "
            "server's certificate chain"
        )
    if "PRIVATE KEY-----" not in key_text:
        raise UsageError(
            f"--tls-key {key}: not a PEM private key (no BEGIN ... PRIVATE KEY); give the "
            "certificate's unencrypted key"
        )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(cert, key, password=lambda: _encrypted(key))
    except ssl.SSLError as error:
        reason = error.reason or str(error)
        if "MISMATCH" in str(reason).upper():
            raise UsageError(
                f"--tls-key {key}: does not match --tls-cert {cert}; give the key the "
                "certificate was issued for"
            ) from None
        raise UsageError(
            f"--tls-cert {cert} / --tls-key {key}: cannot load them ({reason}); give a PEM "
            "certificate and its unencrypted key"
        ) from None


def _encrypted(key: Path) -> str:
    raise UsageError(f"--tls-key {key}: the key is encrypted; give it unencrypted (mode 0600)")


def client_context(ca_file: Path | None) -> ssl.SSLContext:
    """Verification on: the system CAs, or only `ca_file` (the server's certificate or its CA)."""
    if ca_file is None:
        return ssl.create_default_context()
    try:
        return ssl.create_default_context(cafile=str(ca_file))
    except FileNotFoundError:
        raise UsageError(f"--ca-file {ca_file}: no such file (or set {CA_ENV})") from None
    except (OSError, ssl.SSLError) as error:
        raise UsageError(
            f"--ca-file {ca_file}: not a PEM certificate file ({error}); give the controller's "
            "certificate or the CA that signed it"
        ) from None
