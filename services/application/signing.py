"""Data Integrity proofs for exported credentials: ``eddsa-rdfc-2022`` with an Ed25519 key.

The algorithm is the W3C Data Integrity EdDSA Cryptosuites v1.0 one: canonicalise the
proof options and the unsigned document with RDF Dataset Canonicalization (pyld's
URDNA2015, the same algorithm as RDFC-1.0), sign SHA-256(options) ‖ SHA-256(document)
with Ed25519, and give the signature as multibase base58btc. The key is named by a
``did:key``, which a verifier resolves without any network, and which must therefore
also be the credentials' issuer id.

Canonicalisation needs the JSON-LD contexts the document names; they are handed in,
never fetched, so a signature always covers what the pinned contexts say.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pyld import jsonld

CRYPTOSUITE = "eddsa-rdfc-2022"
_ED25519_PUBLIC_KEY = b"\xed\x01"  # multicodec prefix of an Ed25519 public key
_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


class ContextNotBundledError(LookupError):
    """A document names a JSON-LD context that signing was not given."""

    def __init__(self, url: str) -> None:
        super().__init__(f"JSON-LD context not bundled, refusing to fetch it: {url}")
        self.url = url


@dataclass(frozen=True, slots=True)
class SigningKey:
    """An Ed25519 private key and the ``did:key`` that names its public half."""

    private: Ed25519PrivateKey

    @property
    def public_multibase(self) -> str:
        raw = self.private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return multibase_base58btc(_ED25519_PUBLIC_KEY + raw)

    @property
    def did(self) -> str:
        return f"did:key:{self.public_multibase}"

    @property
    def verification_method(self) -> str:
        return f"{self.did}#{self.public_multibase}"


def sign_clr(
    document: Mapping[str, Any],
    key: SigningKey,
    contexts: Mapping[str, Any],
    created: datetime,
) -> dict[str, Any]:
    """A copy of a ClrCredential with a proof on each AchievementCredential in it, then
    on the whole (whose proof thereby covers the inner ones), so that a holder can take
    any one credential out and still have it verified."""
    signed = copy.deepcopy(dict(document))
    subject = signed["credentialSubject"]
    subject["verifiableCredential"] = [
        add_proof(credential, key, contexts, created)
        for credential in subject["verifiableCredential"]
    ]
    return add_proof(signed, key, contexts, created)


def add_proof(
    credential: Mapping[str, Any],
    key: SigningKey,
    contexts: Mapping[str, Any],
    created: datetime,
) -> dict[str, Any]:
    """A copy of ``credential`` with an ``eddsa-rdfc-2022`` DataIntegrityProof added."""
    if created.tzinfo is None:
        raise ValueError("created must be timezone-aware")
    unsigned = {k: v for k, v in credential.items() if k != "proof"}
    options = {
        "type": "DataIntegrityProof",
        "cryptosuite": CRYPTOSUITE,
        "created": created.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "verificationMethod": key.verification_method,
        "proofPurpose": "assertionMethod",
    }
    config = {"@context": unsigned["@context"], **options}
    digest = _hash(_canonical(config, contexts)) + _hash(_canonical(unsigned, contexts))
    proof = {**options, "proofValue": multibase_base58btc(key.private.sign(digest))}
    return {**unsigned, "proof": proof}


def multibase_base58btc(data: bytes) -> str:
    """Multibase ``z``: base58 with the Bitcoin alphabet, leading zero bytes as ``1``."""
    number = int.from_bytes(data, "big")
    digits = ""
    while number:
        number, remainder = divmod(number, 58)
        digits = _BASE58[remainder] + digits
    zeros = len(data) - len(data.lstrip(b"\0"))
    return "z" + "1" * zeros + digits


def _canonical(document: Mapping[str, Any], contexts: Mapping[str, Any]) -> str:
    def load(url: str, options: Any = None) -> dict[str, Any]:
        if url not in contexts:
            raise ContextNotBundledError(url)
        return {"contextUrl": None, "documentUrl": url, "document": contexts[url]}

    options = {"algorithm": "URDNA2015", "format": "application/n-quads", "documentLoader": load}
    try:
        canonical: str = jsonld.normalize(dict(document), options)
    except jsonld.JsonLdError as error:
        # pyld wraps the loader's refusal in layers of its own errors: say what it was.
        cause: BaseException | None = error
        while cause is not None and not isinstance(cause, ContextNotBundledError):
            cause = cause.__cause__ or getattr(cause, "cause", None)
        if cause is not None:
            raise cause from None
        raise
    return canonical


def _hash(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()
