"""The four roles' nkeys: generated once into a private directory, reused afterwards.

Each role has one nkey seed file, ``<dir>/<role>.nk`` (mode 0600, directory 0700): what
nats-py's ``nkeys_seed=`` and the ``nats`` CLI's ``--nkey`` read. The server's config
holds only the public keys, which are derived from the seeds at every start, so the
seed files are the single source of truth and nothing else needs keeping in step.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import nkeys
import structlog

__all__ = [
    "CredentialsError",
    "Role",
    "RoleKey",
    "ensure_credentials",
    "public_key_of",
]

_SEED_BYTES = 32  # an Ed25519 seed
_PRIVATE_FILE = 0o600
_PRIVATE_DIR = 0o700

log = structlog.get_logger(__name__)


class Role(StrEnum):
    """Who a NATS client is; each role is a user in its own account (server_config.py)."""

    SERVICE = "service"
    PUBLISHER = "publisher"
    SUBSCRIBER = "subscriber"
    AUDITOR = "auditor"


class CredentialsError(RuntimeError):
    """A seed file is unreadable or not an nkey user seed."""


@dataclass(frozen=True, slots=True)
class RoleKey:
    role: Role
    seed_file: Path
    public_key: str


def ensure_credentials(directory: Path) -> dict[Role, RoleKey]:
    """Every role's key in ``directory``: the existing seed, else a new one written there."""
    _private_directory(directory)
    return {role: _ensure_role(directory / f"{role}.nk", role) for role in Role}


def public_key_of(seed_file: Path) -> str:
    """The public key (``U…``) of a user seed file; raises CredentialsError if it is not one."""
    try:
        seed = bytearray(seed_file.read_bytes().strip())
    except OSError as error:
        raise CredentialsError(f"cannot read nkey seed {seed_file}: {error}") from None
    try:
        pair = nkeys.from_seed(seed)
        public: bytes = pair.public_key
        pair.wipe()
    except (nkeys.NkeysError, ValueError, IndexError):
        raise CredentialsError(f"{seed_file} does not hold an nkey seed") from None
    if not public.startswith(b"U"):
        raise CredentialsError(f"{seed_file} holds an nkey seed, but not a user's")
    return public.decode()


def _ensure_role(path: Path, role: Role) -> RoleKey:
    if not path.exists():
        _write_new_seed(path)
        log.info("nats_credentials.created", role=str(role), file=str(path))
    else:
        _keep_private(path)
    return RoleKey(role, path, public_key_of(path))


def _write_new_seed(path: Path) -> None:
    # The seed's 32 random bytes come from the OS's CSPRNG; nkeys encodes them (prefix,
    # base32, CRC) exactly as nats-io's own tools do.
    seed = nkeys.encode_seed(secrets.token_bytes(_SEED_BYTES), nkeys.PREFIX_BYTE_USER)
    # O_EXCL: two processes starting at once never overwrite each other's key; mode 0600
    # from the first byte, not chmod'ed after the secret is already on disk.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _PRIVATE_FILE)
    except FileExistsError:
        return  # another process just wrote it: use theirs
    with os.fdopen(fd, "wb") as out:
        out.write(seed + b"\n")
        out.flush()
        os.fsync(out.fileno())


def _private_directory(directory: Path) -> None:
    directory.mkdir(mode=_PRIVATE_DIR, parents=True, exist_ok=True)
    _keep_private(directory)


def _keep_private(path: Path) -> None:
    """Take back group and other access, with a warning: a secret was readable by others."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning(
            "nats_credentials.too_open", path=str(path), mode=oct(mode), now=oct(mode & 0o700)
        )
        with contextlib.suppress(PermissionError):  # not ours to change: the warning stands
            path.chmod(mode & 0o700)
