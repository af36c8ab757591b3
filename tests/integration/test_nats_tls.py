"""--nats-tls-ca/-cert/-key against a nats-server that requires TLS and client certificates."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from ipaddress import ip_address
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from services.adapters.nats.connection import NatsOptions, NatsUnavailableError, connect_once
from services.adapters.nats.embedded import EmbeddedNatsServer

pytestmark = pytest.mark.nats


def _write(path: Path, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate) -> None:
    path.with_suffix(".key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.with_suffix(".pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _certificates(directory: Path) -> Path:
    """A throwaway CA, a server certificate for 127.0.0.1 and a client certificate, made
    with ``cryptography`` (a dependency already), so the test never depends on openssl."""
    directory.mkdir()
    now = datetime.now(UTC)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "learner-records test CA")])

    def issue(name: str, key: ec.EllipticCurvePrivateKey) -> x509.CertificateBuilder:
        return (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1))
        )

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        issue("learner-records test CA", ca_key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    _write(directory / "ca", ca_key, ca)
    for name, usage, names in [
        ("server", ExtendedKeyUsageOID.SERVER_AUTH, [x509.IPAddress(ip_address("127.0.0.1"))]),
        ("client", ExtendedKeyUsageOID.CLIENT_AUTH, []),
    ]:
        key = ec.generate_private_key(ec.SECP256R1())
        builder = issue(name, key).add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        _write(directory / name, key, builder.sign(ca_key, hashes.SHA256()))
    return directory


@pytest.fixture
def tls_server(tmp_path: Path) -> tuple[EmbeddedNatsServer, NatsOptions]:
    certs = _certificates(tmp_path / "certs")
    conf = tmp_path / "tls.conf"
    conf.write_text(
        "jetstream { store_dir: $LEARNER_RECORDS_NATS_STORE }\n"
        f'tls {{ cert_file: "{certs / "server.pem"}", key_file: "{certs / "server.key"}",\n'
        f'       ca_file: "{certs / "ca.pem"}", verify: true }}\n'
    )
    client = NatsOptions(
        tls_ca=certs / "ca.pem", tls_cert=certs / "client.pem", tls_key=certs / "client.key"
    )
    server = EmbeddedNatsServer(
        tmp_path / "nats", port=0, auth=False, config_file=conf, ready_as=client
    )
    return server, client


async def test_a_client_with_the_ca_and_its_certificate_connects_and_others_do_not(
    tls_server: tuple[EmbeddedNatsServer, NatsOptions],
) -> None:
    server, client = tls_server
    with server:
        connected = await connect_once(client.replace(servers=(server.url,)))
        await connected.close()
        with pytest.raises(NatsUnavailableError):  # no client certificate
            await connect_once(NatsOptions(servers=(server.url,), tls_ca=client.tls_ca), timeout=3)
        with pytest.raises(NatsUnavailableError, match="TLS"):  # does not trust the server
            await connect_once(
                client.replace(servers=(server.url,), tls_ca=client.tls_cert), timeout=3
            )


def test_status_connects_over_tls_with_the_flags_and_the_environment(
    tls_server: tuple[EmbeddedNatsServer, NatsOptions],
) -> None:
    server, client = tls_server
    with server:
        flags = subprocess.run(
            [sys.executable, "-m", "services.entrypoints.cli", "status", "1000000019",
             "--timeout", "1", "--nats-url", server.url,
             "--nats-tls-ca", str(client.tls_ca), "--nats-tls-cert", str(client.tls_cert),
             "--nats-tls-key", str(client.tls_key)],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        env = {
            **os.environ,
            "LEARNER_RECORDS_NATS_URL": server.url,
            "LEARNER_RECORDS_NATS_TLS_CA": str(client.tls_ca),
            "LEARNER_RECORDS_NATS_TLS_CERT": str(client.tls_cert),
            "LEARNER_RECORDS_NATS_TLS_KEY": str(client.tls_key),
        }
        environment = subprocess.run(
            [sys.executable, "-m", "services.entrypoints.cli", "status", "1000000019",
             "--timeout", "1"],
            capture_output=True, text=True, timeout=60, check=False, env=env,
        )  # fmt: skip
    for done in (flags, environment):
        # Through TLS and in: only the service itself is missing.
        assert done.returncode == 2
        assert "no service is answering status queries" in done.stderr, done.stderr
