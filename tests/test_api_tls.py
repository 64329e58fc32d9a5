"""HTTPS for the REST API: `netpilot controller run --tls-cert/--tls-key` serves TLS only, the
CLI verifies the server (system CAs, or --ca-file / NETPILOT_CA_FILE), and bad certificate
flags fail at start with one line naming the flag (exit 2). The certificate is generated here
(self-signed for 127.0.0.1, with the `cryptography` package); the controller is the real
process on a loopback port."""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import re
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from commands.ports import listen_port
from tests.test_topo_cli import ROOT, run

TOKEN = "tls-test-token-loopback-only"


def self_signed(directory: Path, name: str = "server") -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (its own CA) and its key, as PEM files: (cert, key)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / f"{name}-cert.pem", directory / f"{name}-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return cert_path, key_path


def free_port() -> int:
    return listen_port()


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NETPILOT_")}
    return {**env, "PYTHONPATH": str(ROOT), "NETPILOT_API_TOKEN": TOKEN, **extra}


def netpilot(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, Path]]:
    """`netpilot controller run` over HTTPS: the key comes from NETPILOT_TLS_KEY (environment
    stands in for a flag) and --tls-cert beats a wrong NETPILOT_TLS_CERT (flag over env)."""
    work = tmp_path_factory.mktemp("tls")
    cert, key = self_signed(work)
    port = free_port()
    env = cli_env(NETPILOT_TLS_KEY=str(key), NETPILOT_TLS_CERT=str(work / "not-this.pem"))
    log = (work / "controller.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli", "controller", "run", "--topology", "bank-wan",
         "--db", str(work / "np.db"), "--listen", f"127.0.0.1:{port}", "--tls-cert", str(cert)],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    log.close()
    base = f"https://127.0.0.1:{port}"
    trusted = ssl.create_default_context(cafile=str(cert))
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{base}/readyz", verify=trusted, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            output = (work / "controller.log").read_text(errors="replace")
            assert proc.poll() is None and time.monotonic() < deadline, output
            time.sleep(0.1)
        yield base, cert, work
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_https_with_verification_and_no_plain_http(server: tuple[str, Path, Path]) -> None:
    base, cert, work = server
    trusted = ssl.create_default_context(cafile=str(cert))
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=base, verify=trusted, headers=auth, timeout=10) as http:
        assert http.get("/v1/intents").json() == []
        body = {"name": "hq-dc1", "src": "HQ", "dst": "DC1", "bandwidth": "10M"}
        created = http.post("/v1/intents", json=body)
        assert created.status_code == 201, created.text
        assert http.get("/v1/intents/hq-dc1").json()["spec"]["bandwidth"] == 10e6
        assert http.get("/v1/intents", headers={"Authorization": "Bearer wrong"}).status_code == 401
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(f"{base}/healthz", timeout=10)  # the system CAs do not know this certificate
    plain = base.replace("https://", "http://")
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{plain}/healthz", timeout=10)  # the TLS port speaks TLS only
    log = (work / "controller.log").read_text()
    assert f"netpilot controller on {base} (token from NETPILOT_API_TOKEN)" in log
    assert TOKEN not in log


def test_cli_verifies_the_server(server: tuple[str, Path, Path]) -> None:
    base, cert, _ = server
    listed = netpilot("intent", "list", "--server", base, "--ca-file", str(cert), "--json",
                      env=cli_env())  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    assert isinstance(json.loads(listed.stdout), list)
    from_env = netpilot("intent", "list", "--server", base, "--json",
                        env=cli_env(NETPILOT_CA_FILE=str(cert)))  # fmt: skip
    assert from_env.returncode == 0, from_env.stderr
    untrusted = netpilot("intent", "list", "--server", base, env=cli_env())
    assert untrusted.returncode == 2
    assert "certificate is not trusted" in untrusted.stderr and "--ca-file" in untrusted.stderr
    assert "Traceback" not in untrusted.stderr
    missing = netpilot("intent", "list", "--server", base, "--ca-file", "/nonexistent.pem",
                       env=cli_env())  # fmt: skip
    assert missing.returncode == 2 and "--ca-file /nonexistent.pem" in missing.stderr


def test_verify_reads_the_installed_path_over_https(server: tuple[str, Path, Path]) -> None:
    base, cert, _ = server
    trusted = ssl.create_default_context(cafile=str(cert))
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=base, verify=trusted, headers=auth, timeout=10) as http:
        body = {"name": "hq-dc2-verify", "src": "HQ", "dst": "DC2", "bandwidth": "10M"}
        assert http.put("/v1/intents/hq-dc2-verify", json=body).status_code == 200
        deadline = time.monotonic() + 30
        while http.get("/v1/intents/hq-dc2-verify").json()["state"] not in (
            "installed",
            "verified",
        ):
            assert time.monotonic() < deadline
            time.sleep(0.1)  # fmt: skip
    done = netpilot("verify", "hq-dc2-verify", "--server", base, "--ca-file", str(cert),
                    "--topology", "bank-wan", "--json", env=cli_env())  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["ok"] is True
    # leave the shared server as found (another test of this module expects no intents at first)
    with httpx.Client(base_url=base, verify=trusted, headers=auth, timeout=10) as http:
        assert http.delete("/v1/intents/hq-dc2-verify").status_code == 202
        deadline = time.monotonic() + 30
        while http.get("/v1/intents/hq-dc2-verify").status_code != 404:  # withdrawn
            assert time.monotonic() < deadline
            time.sleep(0.1)


def _start(capsys: pytest.CaptureFixture[str], tmp: Path, *flags: str) -> tuple[int, str]:
    code, _, err = run(capsys, "controller", "run", "--topology", "bank-wan",
                       "--db", str(tmp / "db"), "--listen", "127.0.0.1:1", *flags)  # fmt: skip
    return code, err


def test_bad_certificate_flags_fail_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("NETPILOT_TLS_CERT", "NETPILOT_TLS_KEY"):
        monkeypatch.delenv(name, raising=False)
    cert, key = self_signed(tmp_path)
    other_cert, _ = self_signed(tmp_path, "other")
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    locked = tmp_path / "locked-key.pem"
    key_object = serialization.load_pem_private_key(key.read_bytes(), password=None)
    locked.write_bytes(
        key_object.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    cases = [
        (["--tls-cert", str(cert)], "--tls-key (or NETPILOT_TLS_KEY): missing"),
        (["--tls-key", str(key)], "--tls-key (or NETPILOT_TLS_KEY): needs --tls-cert"),
        (["--tls-cert", str(tmp_path / "nope.pem"), "--tls-key", str(key)], "--tls-cert"),
        (["--tls-cert", str(tmp_path), "--tls-key", str(key)], "--tls-cert"),  # a directory
        (["--tls-cert", str(junk), "--tls-key", str(key)], "not a PEM certificate"),
        (["--tls-cert", str(cert), "--tls-key", str(junk)], "not a PEM private key"),
        (["--tls-cert", str(other_cert), "--tls-key", str(key)], "does not match --tls-cert"),
        (["--tls-cert", str(cert), "--tls-key", str(locked)], "the key is encrypted"),
    ]
    for flags, expected in cases:
        code, err = _start(capsys, tmp_path, *flags)
        assert code == 2, (flags, err)
        assert expected in err and "Traceback" not in err, (flags, err)
        assert len(err.strip().splitlines()) <= 2, err
        assert re.search(r"--tls-(cert|key)", err)


def _doc_blocks() -> list[str]:
    text = (ROOT / "docs" / "api.md").read_text()
    return [b.replace("\\\n", " ") for b in re.findall(r"```sh\n(.*?)```", text, flags=re.S)]


def test_the_docs_examples_run_as_written() -> None:
    """Every ```sh block of docs/api.md, run from the repository root as written, in order."""
    blocks = _doc_blocks()
    assert len(blocks) == 2, "docs/api.md: the certificate block and the controller block"
    subprocess.run(["rm", "-rf", "/tmp/netpilot-api"], check=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("NETPILOT_")}
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    outputs = []
    for block in blocks:
        out = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", block],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert out.returncode == 0, (block, out.stdout[-2000:], out.stderr[-2000:])
        assert "Traceback" not in out.stderr
        outputs.append(out.stdout)
    assert Path("/tmp/netpilot-api/cert.pem").is_file()
    last = outputs[-1]
    assert '{"ready":true' in last, last
    # `intent apply` returns once no intent is in a transient state, and "installed" is not one:
    # on a loaded machine the verification (next engine round) can come after the table
    row = [line for line in last.splitlines() if "br1-dc1-voice" in line]
    assert len(row) == 1 and ("verified" in row[0] or "installed" in row[0]), last
    refused = json.loads(last[last.index('{"detail"') :].splitlines()[0])
    assert refused["errors"] == [
        {"field": "src", "message": "give a node name or at least one prefix"}
    ]
