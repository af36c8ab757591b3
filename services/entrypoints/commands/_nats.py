"""NATS connection flags shared by the commands, each with its environment variable.

A password is never a flag (it would show in ``ps`` and shell history): it comes from
``--nats-password-file`` or ``$LEARNER_RECORDS_NATS_PASSWORD``.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from services.adapters.nats.connection import DEFAULT_URL, NatsOptions
from services.adapters.nats.credentials import Role
from services.entrypoints.commands._output import fail
from services.entrypoints.config import DEFAULT_NATS_DIR, NATS_URL_ENV

__all__ = [
    "NATS_ENV",
    "add_nats_arguments",
    "client_options",
    "external_options",
]

# Flag destination -> environment variable.
NATS_ENV = {
    "nats_url": NATS_URL_ENV,
    "nats_creds": "LEARNER_RECORDS_NATS_CREDS",
    "nats_nkey": "LEARNER_RECORDS_NATS_NKEY",
    "nats_user": "LEARNER_RECORDS_NATS_USER",
    "nats_password_file": "LEARNER_RECORDS_NATS_PASSWORD_FILE",
    "nats_tls_ca": "LEARNER_RECORDS_NATS_TLS_CA",
    "nats_tls_cert": "LEARNER_RECORDS_NATS_TLS_CERT",
    "nats_tls_key": "LEARNER_RECORDS_NATS_TLS_KEY",
}
PASSWORD_ENV = "LEARNER_RECORDS_NATS_PASSWORD"
_FLAGS = (
    ("nats_creds", "--nats-creds", "a NATS .creds file (JWT and seed)"),
    ("nats_nkey", "--nats-nkey", "an nkey seed file"),
    ("nats_user", "--nats-user", "a NATS user name (password: next flag or env)"),
    ("nats_password_file", "--nats-password-file", f"the user's password (or ${PASSWORD_ENV})"),
    ("nats_tls_ca", "--nats-tls-ca", "CA certificate(s) to verify the server's"),
    ("nats_tls_cert", "--nats-tls-cert", "a TLS client certificate"),
    ("nats_tls_key", "--nats-tls-key", "the client certificate's key"),
)


def add_nats_arguments(parser: argparse.ArgumentParser, *, url_help: str) -> None:
    group = parser.add_argument_group("NATS connection")
    group.add_argument("--nats-url", metavar="URL[,URL…]", help=f"{url_help} (env {NATS_URL_ENV})")
    for dest, flag, text in _FLAGS:
        group.add_argument(
            flag,
            dest=dest,
            metavar="NAME" if dest == "nats_user" else "FILE",
            help=f"{text} (env {NATS_ENV[dest]})",
        )
    # Declared only to be refused: otherwise argparse would take it as an abbreviation of
    # --nats-password-file, and a password typed there would be echoed as a file name.
    group.add_argument("--nats-password", nargs="?", action=_NoPasswordFlag, help=argparse.SUPPRESS)


class _NoPasswordFlag(argparse.Action):
    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        parser.error(
            "a NATS password is never given on the command line (it would show in ps and "
            f"shell history): use --nats-password-file or ${PASSWORD_ENV}"
        )


def external_options(args: argparse.Namespace, *, name: str) -> NatsOptions | None:
    """The NATS named by flags or environment; None when no URL is given."""
    url = _given(args, "nats_url")
    if url is None:
        return None
    return _options(args, url, name=name)


def client_options(args: argparse.Namespace, role: Role, *, name: str) -> NatsOptions:
    """For a command talking to a running service: the URL given (default the embedded
    default's, 127.0.0.1:4222) and the credentials given; with none given, the embedded
    default's seed for ``role`` (``var/nats/credentials/<role>.nk``) when it exists, so
    that commands work beside ``make run`` with no extra step."""
    options = _options(args, _given(args, "nats_url") or DEFAULT_URL, name=name)
    if options.creds_file or options.nkey_file or options.user:
        return options
    seed = DEFAULT_NATS_DIR / "credentials" / f"{role}.nk"
    return options.replace(nkey_file=seed) if seed.is_file() else options


def _options(args: argparse.Namespace, url: str, *, name: str) -> NatsOptions:
    user = _given(args, "nats_user")
    try:
        return NatsOptions.from_url(
            url,
            creds_file=_path(args, "nats_creds"),
            nkey_file=_path(args, "nats_nkey"),
            user=user,
            password=_password(args) if user is not None else None,
            tls_ca=_path(args, "nats_tls_ca"),
            tls_cert=_path(args, "nats_tls_cert"),
            tls_key=_path(args, "nats_tls_key"),
            name=name,
        )
    except ValueError as error:
        fail(f"NATS connection: {error}")


def _given(args: argparse.Namespace, dest: str) -> str | None:
    value = getattr(args, dest, None) or os.environ.get(NATS_ENV[dest])
    return str(value) if value else None


def _path(args: argparse.Namespace, dest: str) -> Path | None:
    value = _given(args, dest)
    if value is None:
        return None
    path = Path(value)
    if not path.is_file():
        fail(f"{'--' + dest.replace('_', '-')}: no such file: {path}")
    return path


def _password(args: argparse.Namespace) -> str | None:
    path = _path(args, "nats_password_file")
    if path is not None:
        try:
            return path.read_text().rstrip("\r\n")
        except OSError as error:
            fail(f"cannot read the NATS password file {path}: {error.strerror}")
    return os.environ.get(PASSWORD_ENV) or None
