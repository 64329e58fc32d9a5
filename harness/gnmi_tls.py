"""Certificates and credentials for the simulated routers' gNMI server, generated per network.

`make_pki(directory)` writes a private CA (`gnmi-ca.pem`), the server's certificate signed by it
(`gnmi-server.pem`, SANs 127.0.0.1 and localhost, since every router listens on loopback) with
its key (`gnmi-server.key`, mode 0600), and a random password (`gnmi-password`, mode 0600) for
the username `netpilot`. Keys are ECDSA P-256: quick to make, as a network starts with them.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

USERNAME = "netpilot"


@dataclass(frozen=True)
class GnmiPki:
    ca_file: Path
    cert_file: Path
    key_file: Path
    password_file: Path
    username: str = USERNAME

    @property
    def password(self) -> str:
        return self.password_file.read_text().strip()


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _write_private(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    os.chmod(path, 0o600)


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def make_ca(
    common: str = "netpilot simulated network CA",
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common))
        .issuer_name(_name(common))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def server_cert(
    ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey, hosts: tuple[str, ...]
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    sans: list[x509.GeneralName] = []
    for host in hosts:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            sans.append(x509.DNSName(host))
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("netpilot-gnmi"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    return cert, key


def make_pki(directory: Path, hosts: tuple[str, ...] = ("127.0.0.1", "localhost")) -> GnmiPki:
    """Generate the CA, the server certificate and the password into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    ca, ca_key = make_ca()
    cert, key = server_cert(ca, ca_key, hosts)
    pki = GnmiPki(
        directory / "gnmi-ca.pem",
        directory / "gnmi-server.pem",
        directory / "gnmi-server.key",
        directory / "gnmi-password",
    )
    pki.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    pki.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_private(pki.key_file, _pem_key(key))
    _write_private(pki.password_file, secrets.token_urlsafe(18).encode() + b"\n")
    return pki
