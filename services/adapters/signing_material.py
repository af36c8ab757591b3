"""What signing an export reads from outside: the issuer's key file and the JSON-LD contexts.

The contexts are the published VC 2.0, Open Badges 3.0.3 and CLR 2.0.1 documents as
the ``openbadgeslib`` package ships them (the ``sign`` extra), each checked against the
digest its provenance note records: a signature covers what the contexts say, so a
context that changed under us must stop signing rather than sign something else.
"""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from services.application.clr import CLR_V2_CONTEXT, OB_V3_CONTEXT, VC_V2_CONTEXT

if TYPE_CHECKING:
    from services.application.signing import SigningKey

_MISSING = "signing needs the 'sign' extra: pip install 'learner-records[sign]'"

# url -> (file in openbadgeslib.ob3.contexts, its SHA-256)
_CONTEXT_FILES = {
    VC_V2_CONTEXT: (
        "credentials-v2.json",
        "59955ced6697d61e03f2b2556febe5308ab16842846f5b586d7f1f7adec92734",
    ),
    OB_V3_CONTEXT: (
        "ob-v3p0-context-3.0.3.json",
        "3d34f4d4ef1bce691106e63798beb5e7b862ba841423f5ee1e53ab7ddf3bca84",
    ),
    CLR_V2_CONTEXT: (
        "clr_context_2.0.1.json",
        "880f1902d4158f2f33ce06af41b90719977cd1ea337a9de2e41edb3ff5e543d6",
    ),
}


class SigningUnavailableError(RuntimeError):
    """Signing needs what is not installed or not as pinned."""


def bundled_contexts() -> dict[str, Any]:
    """The contexts an exported CLR names, by URL, from pinned files."""
    try:
        folder = resources.files("openbadgeslib.ob3.contexts")
    except ModuleNotFoundError:
        raise SigningUnavailableError(_MISSING) from None
    contexts: dict[str, Any] = {}
    for url, (name, expected) in _CONTEXT_FILES.items():
        data = folder.joinpath(name).read_bytes()
        if hashlib.sha256(data).hexdigest() != expected:
            raise SigningUnavailableError(f"the bundled context for {url} is not the pinned one")
        contexts[url] = json.loads(data)
    return contexts


def load_signing_key(path: Path) -> SigningKey:
    """The Ed25519 private key in a PEM file (``openssl genpkey -algorithm ed25519``)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:  # pyld comes with the 'sign' extra only
        from services.application.signing import SigningKey
    except ModuleNotFoundError:
        raise SigningUnavailableError(_MISSING) from None

    try:
        key = load_pem_private_key(path.read_bytes(), password=None)
    except OSError as error:
        raise SigningUnavailableError(f"cannot read {path}: {error.strerror or error}") from None
    except (ValueError, TypeError) as error:
        raise SigningUnavailableError(f"{path} is not an unencrypted PEM key: {error}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningUnavailableError(f"{path} is not an Ed25519 private key")
    return SigningKey(key)
