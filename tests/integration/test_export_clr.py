"""``export ULN --format clr`` on a store made by ``replay``, and the document checked by
third-party JSON-LD tools (jsonld.js with the published contexts, in tools/node)."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from contracts.uln import make_uln
from devtools.sample_events import EventFactory, sent_on
from devtools.sample_histories import completing_units
from domain.catalogue import Catalogue
from services.adapters.catalogue_files import load_catalogue
from services.entrypoints.cli import main

AS_OF = "2026-11-23"
OCR_L4, NCFE_L4 = "500/9203/0", "501/0232/1"
EXTRA_UNIT = "R/601/1226"  # in both NVQs' group B, outside the cheapest completing set
LEARNER = make_uln(41)
BARE_LEARNER = make_uln(42)  # registered, nothing achieved

ROOT = Path(__file__).resolve().parents[2]
NODE_TOOLS = ROOT / "tools" / "node"
VALIDATOR = NODE_TOOLS / "validate-clr.mjs"
# The CLR 2.0.1 context as openbadgeslib ships it, and the digest its provenance note
# gives for the published file: a different file in a later release fails here first.
CLR_CONTEXT_SHA256 = "880f1902d4158f2f33ce06af41b90719977cd1ea337a9de2e41edb3ff5e543d6"


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, catalogue: Catalogue) -> Path:
    """A store kept by ``replay``: a learner certificated on OCR's level 4 NVQ (one unit by
    credit transfer), eligible on NCFE's through the same units, with a revoked extra unit;
    and a learner with a registration only."""
    events = EventFactory(source="urn:eportfolio:export-test", prefix="x")
    lines = [events.registered(LEARNER, OCR_L4, date(2024, 1, 8), date(1985, 7, 1))]
    lines.append(events.registered(LEARNER, NCFE_L4, date(2024, 1, 8), date(1985, 7, 1)))
    units = completing_units(catalogue.qualification(OCR_L4))
    lines.append(events.transferred(LEARNER, units[0], date(2023, 5, 1)))
    for k, urn in enumerate(units[1:]):
        lines.append(events.achieved(LEARNER, urn, date(2024, 2, 1 + k)))
    lines.append(events.achieved(LEARNER, EXTRA_UNIT, date(2024, 3, 1)))
    lines.append(events.revoked(LEARNER, events.last_id, at=sent_on(date(2024, 4, 2))))
    lines.append(events.certificated(LEARNER, OCR_L4, date(2024, 7, 15), certificate_number="N1"))
    lines.append(events.registered(BARE_LEARNER, OCR_L4, date(2024, 1, 8), date(1990, 1, 1)))
    folder = tmp_path_factory.mktemp("export")
    history = folder / "history.jsonl"
    history.write_bytes(b"\n".join(lines) + b"\n")
    kept = folder / "kept.sqlite"
    argv = ["replay", str(history), "--as-of", AS_OF, "--json", "--store", str(kept)]
    assert main(argv) == 0
    return kept


@pytest.fixture(scope="module")
def exported(store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    output = tmp_path_factory.mktemp("clr") / "clr.json"
    argv = ["export", LEARNER, "--format", "clr", "--store", str(store), "--as-of", AS_OF]
    assert main([*argv, "--output", str(output), "--issuer-name", "Example AO"]) == 0
    return output


def read(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


def codes(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        c["credentialSubject"]["achievement"]["humanCode"]: c
        for c in document["credentialSubject"]["verifiableCredential"]
    }


def test_export_writes_the_learners_units_and_completed_qualifications(
    exported: Path, catalogue: Catalogue
) -> None:
    document = read(exported)
    assert document["type"] == ["VerifiableCredential", "ClrCredential"]
    assert document["issuer"]["name"] == "Example AO"
    by_code = codes(document)
    units = set(completing_units(catalogue.qualification(OCR_L4)))
    assert set(by_code) == units | {OCR_L4, NCFE_L4}
    assert EXTRA_UNIT not in exported.read_text(encoding="utf-8")
    assert by_code[OCR_L4]["credentialSubject"]["result"][0]["status"] == "Completed"
    assert by_code[NCFE_L4]["credentialSubject"]["result"][0]["status"] == "Provisional"
    assert by_code[NCFE_L4]["credentialSubject"]["achievement"]["creator"]["name"] == "NCFE"
    parents = {a["sourceId"] for a in document["credentialSubject"]["association"]}
    assert parents == {
        by_code[q]["credentialSubject"]["achievement"]["id"] for q in (OCR_L4, NCFE_L4)
    }
    assert "1985-07-01" not in exported.read_text(encoding="utf-8")


def test_export_prints_to_stdout_without_output(
    store: Path, exported: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    argv = [
        "export",
        LEARNER,
        "--store",
        str(store),
        "--as-of",
        AS_OF,
        "--issuer-name",
        "Example AO",
    ]
    assert main(argv) == 0
    printed = json.loads(capsys.readouterr().out)
    written = read(exported)
    # The same record gives the same document, but for the moment of export.
    assert {**printed, "validFrom": None} == {**written, "validFrom": None}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["export", BARE_LEARNER], "no achieved unit and no completed qualification"),
        (["export", LEARNER, "--issuer-id", "not a uri"], "not an absolute URI"),
        (["export", "123"], "not a valid ULN"),
    ],
)
def test_export_refusals_are_one_line_on_stderr_and_exit_2(
    store: Path, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--store", str(store)])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_export_from_a_missing_store_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["export", LEARNER, "--store", str(tmp_path / "missing.sqlite")])
    assert exit_.value.code == 2
    assert "no event store" in capsys.readouterr().err
    assert not (tmp_path / "missing.sqlite").exists()


# --- third-party validation: jsonld.js, safe mode, the published contexts only ---------


def clr_context() -> Path:
    shipped = resources.files("openbadgeslib.ob3.contexts").joinpath("clr_context_2.0.1.json")
    path = Path(str(shipped))
    assert hashlib.sha256(path.read_bytes()).hexdigest() == CLR_CONTEXT_SHA256
    return path


def validate_tools_installed() -> str:
    """The node binary; fails the test (never skips it) when the tools are missing."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("Node.js 20+ is needed to check exported CLRs: install nodejs and npm")
    if not (NODE_TOOLS / "node_modules" / ".installed").is_file():
        pytest.fail(
            f"the Node.js tools are not installed: run `make test` (npm ci in {NODE_TOOLS})"
        )
    return node


def validate(document: Path) -> subprocess.CompletedProcess[str]:
    node = validate_tools_installed()
    return subprocess.run(
        [node, str(VALIDATOR), str(document), str(clr_context())],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.node
def test_the_exported_clr_is_valid_json_ld_under_the_published_contexts(exported: Path) -> None:
    result = validate(exported)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["valid"] is True
    assert report["credentials"] == len(read(exported)["credentialSubject"]["verifiableCredential"])
    assert report["quads"] > 100


@pytest.mark.node
@pytest.mark.parametrize(
    ("where", "breakage"),
    [
        ("top", {"level": 4}),  # a term no context defines
        ("achievement", {"fieldOfStudies": "Customer Service"}),  # a misspelt one
        ("association", {"strength": 1}),
        ("top", {"id": "clr-42"}),  # a relative IRI
    ],
)
def test_the_validator_refuses_what_the_contexts_do_not_define(
    exported: Path, tmp_path: Path, where: str, breakage: dict[str, Any]
) -> None:
    """The check is not vacuous: each of these would be silently dropped by a lenient reader."""
    document = read(exported)
    subject = document["credentialSubject"]
    target = {
        "top": document,
        "achievement": subject["verifiableCredential"][0]["credentialSubject"]["achievement"],
        "association": subject["association"][0],
    }[where]
    target.update(breakage)
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(document), encoding="utf-8")
    result = validate(broken)
    assert result.returncode == 1
    assert "Safe mode validation error" in result.stderr


# --- signed: the Digital Credentials Consortium's verifier, offline ----------------------

VERIFIER = NODE_TOOLS / "verify-clr.mjs"


@pytest.fixture(scope="module")
def signing_key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
    )

    pem = Ed25519PrivateKey.generate().private_bytes(
        Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()
    )
    path = tmp_path_factory.mktemp("key") / "issuer.pem"
    path.write_bytes(pem)
    return path


@pytest.fixture(scope="module")
def signed(store: Path, signing_key: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    output = tmp_path_factory.mktemp("signed") / "clr.json"
    argv = ["export", LEARNER, "--store", str(store), "--as-of", AS_OF, "--output", str(output)]
    assert main([*argv, "--sign-key", str(signing_key), "--issuer-name", "Example AO"]) == 0
    return output


def verify(document: Path) -> tuple[int, list[dict[str, Any]]]:
    result = subprocess.run(
        [validate_tools_installed(), str(VERIFIER), str(document), str(clr_context())],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, [json.loads(line) for line in result.stdout.splitlines()]


def test_a_signed_clr_names_its_key_as_issuer(signed: Path) -> None:
    document = read(signed)
    issuer = document["issuer"]["id"]
    assert issuer.startswith("did:key:z6Mk")
    for credential in [document, *document["credentialSubject"]["verifiableCredential"]]:
        assert credential["issuer"]["id"] == issuer
        proof = credential["proof"]
        assert proof["cryptosuite"] == "eddsa-rdfc-2022"
        assert proof["verificationMethod"].startswith(issuer + "#")


@pytest.mark.node
def test_dccs_verifier_verifies_the_clr_and_every_credential_in_it(signed: Path) -> None:
    status, results = verify(signed)
    assert status == 0, results
    credentials = read(signed)["credentialSubject"]["verifiableCredential"]
    assert len(results) == 1 + len(credentials)
    assert all(r["verified"] for r in results)
    # Signed, it is still valid JSON-LD with nothing dropped (the proof's terms included).
    assert validate(signed).returncode == 0


@pytest.mark.node
def test_dccs_verifier_refuses_a_changed_credit(signed: Path, tmp_path: Path) -> None:
    document = read(signed)
    unit = document["credentialSubject"]["verifiableCredential"][-1]
    unit["credentialSubject"]["creditsEarned"] += 10
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(document), encoding="utf-8")
    status, results = verify(tampered)
    assert status == 1
    failed = {r["id"] for r in results if not r["verified"]}
    assert failed == {document["id"], unit["id"]}  # the CLR's proof covers the inner ones


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--issuer-id", "https://example.org/ao"], "exclude each other"),
        (["--sign-key", "/nonexistent/key.pem"], "cannot read"),
    ],
)
def test_signing_refusals_exit_2(
    store: Path,
    signing_key: Path,
    extra: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["export", LEARNER, "--store", str(store), "--sign-key", str(signing_key), *extra]
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_a_key_that_is_not_ed25519_is_refused(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
    )

    path = tmp_path / "p256.pem"
    ec = generate_private_key(SECP256R1())
    path.write_bytes(ec.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    with pytest.raises(SystemExit) as exit_:
        main(["export", LEARNER, "--store", str(store), "--sign-key", str(path)])
    assert exit_.value.code == 2
    assert "not an Ed25519 private key" in capsys.readouterr().err
