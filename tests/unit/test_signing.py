"""eddsa-rdfc-2022 proofs: the key's did:key, and a proof over the canonical document."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.adapters.signing_material import bundled_contexts
from services.application.clr import OB_CONTEXTS
from services.application.signing import (
    ContextNotBundledError,
    SigningKey,
    _canonical,
    add_proof,
    multibase_base58btc,
)

# The key pair of the Open Badges 3.0 implementation guide's Data Integrity test vector.
SEED = bytes.fromhex("6241a409e6707bb640a0140a8a32bc3d193c33a661747284d6adfa4ed4180be4")
PUBLIC_MULTIBASE = "z6MkjZRZv3aez3r18pB1RBFJR1kwUVJ5jHt92JmQwXbd5hwi"
CREATED = datetime(2026, 11, 23, 10, 0, 0, 123456, tzinfo=UTC)


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey(Ed25519PrivateKey.from_private_bytes(SEED))


@pytest.fixture(scope="module")
def contexts() -> dict[str, Any]:
    return bundled_contexts()


def credential(issuer: str) -> dict[str, Any]:
    return {
        "@context": list(OB_CONTEXTS),
        "id": "urn:uuid:91537dba-56cb-11ec-bf63-0242ac130002",
        "type": ["VerifiableCredential", "AchievementCredential"],
        "name": "Unit J/601/1630",
        "issuer": {"id": issuer, "type": ["Profile"], "name": "Example"},
        "validFrom": "2024-03-01T00:00:00+00:00",
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "achievement": {
                "id": "urn:uuid:a7467ef6-56cb-11ec-bf63-0242ac130002",
                "type": ["Achievement"],
                "name": "Demonstrate understanding of customer service management",
                "description": "A unit",
                "criteria": {"narrative": "Meet every learning outcome."},
            },
        },
    }


def test_the_did_key_of_the_implementation_guides_key_pair(key: SigningKey) -> None:
    assert key.public_multibase == PUBLIC_MULTIBASE
    assert key.did == f"did:key:{PUBLIC_MULTIBASE}"
    assert key.verification_method == f"did:key:{PUBLIC_MULTIBASE}#{PUBLIC_MULTIBASE}"


def test_base58btc_keeps_leading_zero_bytes() -> None:
    assert multibase_base58btc(b"\0\0\x01") == "z112"
    assert multibase_base58btc(b"") == "z"


def test_the_proof_signs_both_hashes_and_is_reproducible(
    key: SigningKey, contexts: dict[str, Any]
) -> None:
    unsigned = credential(key.did)
    signed = add_proof(unsigned, key, contexts, CREATED)
    proof = signed["proof"]
    assert proof["type"] == "DataIntegrityProof" and proof["cryptosuite"] == "eddsa-rdfc-2022"
    assert proof["created"] == "2026-11-23T10:00:00Z"
    assert proof["proofPurpose"] == "assertionMethod"
    assert proof["verificationMethod"] == key.verification_method
    assert add_proof(signed, key, contexts, CREATED) == signed  # an old proof is replaced
    options = {k: v for k, v in proof.items() if k != "proofValue"}
    config = {"@context": unsigned["@context"], **options}
    data = hashlib.sha256(_canonical(config, contexts).encode()).digest()
    data += hashlib.sha256(_canonical(unsigned, contexts).encode()).digest()
    signature = _base58_decode(proof["proofValue"])
    key.private.public_key().verify(signature, data)  # raises if it does not match


def test_a_context_that_was_not_bundled_is_never_fetched(
    key: SigningKey, contexts: dict[str, Any]
) -> None:
    unsigned = credential(key.did)
    unsigned["@context"] = [*unsigned["@context"], "https://example.org/context.json"]
    with pytest.raises(ContextNotBundledError, match=r"https://example\.org/context\.json"):
        add_proof(unsigned, key, contexts, CREATED)


def _base58_decode(text: str) -> bytes:
    alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
    assert text.startswith("z")
    number = 0
    for char in text[1:]:
        number = number * 58 + alphabet.index(char)
    return number.to_bytes(64, "big")
