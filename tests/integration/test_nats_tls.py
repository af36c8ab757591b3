"""--nats-tls-ca/-cert/-key against a nats-server that requires TLS and client certificates."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from services.adapters.nats.connection import NatsOptions, NatsUnavailableError, connect_once
from services.adapters.nats.embedded import EmbeddedNatsServer

pytestmark = [
    pytest.mark.nats,
    pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command"),
]


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def _certificates(directory: Path) -> Path:
    """A throwaway CA, a server certificate for 127.0.0.1 and a client certificate."""
    directory.mkdir()
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "1",
             "-subj", "/CN=learner-records test CA", cwd=directory)  # fmt: skip
    for name, extension in [
        ("server", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"),
        ("client", "extendedKeyUsage=clientAuth\n"),
    ]:
        (directory / f"{name}.ext").write_text(extension)
        _openssl("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr",
                 "-subj", f"/CN={name}", cwd=directory)  # fmt: skip
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                 "-CAcreateserial", "-out", f"{name}.pem", "-days", "1",
                 "-extfile", f"{name}.ext", cwd=directory)  # fmt: skip
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
