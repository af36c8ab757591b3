"""``learner-records export ULN --format clr``: a learner record they can take away."""

from __future__ import annotations

import argparse
import json
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from domain.learner import registration_views
from services.adapters.catalogue_files import load_catalogue
from services.adapters.learner_source import load_learner_record
from services.adapters.signing_material import (
    SigningUnavailableError,
    bundled_contexts,
    load_signing_key,
)
from services.adapters.store import store_location
from services.application.clock import SystemClock
from services.application.clr import IssuerProfile, NothingToExportError, clr_document
from services.entrypoints.commands._args import iso_date, uln
from services.entrypoints.commands._output import EXIT_NOT_FOUND, fail

if TYPE_CHECKING:  # pyld, which signing imports, comes with the 'sign' extra only
    from services.application.signing import SigningKey

DEFAULT_ISSUER = "learner-records"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "export",
        help="a learner's achieved units and completed qualifications as a portable document",
        description=(
            "Write one learner's standing units and completed (eligible or certificated) "
            "qualifications as a 1EdTech Comprehensive Learner Record 2.0: a ClrCredential "
            "holding one Open Badges 3.0 AchievementCredential per unit and per qualification, "
            "with each qualification associated to the units it counted. With --sign-key, "
            "every credential carries an eddsa-rdfc-2022 Data Integrity proof by the key's "
            "did:key, which is then the issuer's id. The learner is named by ULN only."
        ),
    )
    parser.add_argument("uln", type=uln, metavar="ULN")
    parser.add_argument(
        "--format", choices=["clr"], default="clr", help="the document format (clr: CLR 2.0)"
    )
    parser.add_argument(
        "--store",
        metavar="PATH|URL",
        help="the event store: a SQLite file or postgresql:// URL "
        "($LEARNER_RECORDS_STORE, else var/records.sqlite)",
    )
    parser.add_argument(
        "--as-of", type=iso_date, metavar="YYYY-MM-DD", help="the record as of this day (today)"
    )
    parser.add_argument("--output", "-o", type=Path, metavar="FILE", help="write here (stdout)")
    parser.add_argument(
        "--issuer-name",
        default=DEFAULT_ISSUER,
        metavar="NAME",
        help=f"who issues the document: the organisation running the export ({DEFAULT_ISSUER})",
    )
    parser.add_argument(
        "--issuer-id",
        type=_absolute_uri,
        metavar="URI",
        help="the issuer's id, e.g. its DID or web address (a urn:uuid derived from the name)",
    )
    parser.add_argument(
        "--sign-key",
        type=Path,
        metavar="PEM",
        help="sign with this Ed25519 private key (openssl genpkey -algorithm ed25519); "
        "needs the 'sign' extra",
    )
    parser.set_defaults(handler=run)


def _absolute_uri(text: str) -> str:
    # JSON-LD reads an id without a scheme as relative, which a verifier cannot resolve.
    scheme, colon, rest = text.partition(":")
    if not (colon and rest and scheme[:1].isalpha() and " " not in text):
        raise argparse.ArgumentTypeError(f"not an absolute URI: {text!r}")
    return text


def _signing_key(args: argparse.Namespace) -> SigningKey | None:
    if args.sign_key is None:
        return None
    if args.issuer_id:
        # A verifier requires the issuer to be the controller of the signing key.
        fail("--issuer-id and --sign-key exclude each other: a signed CLR's issuer is the key")
    try:
        return load_signing_key(args.sign_key)
    except SigningUnavailableError as error:
        fail(str(error))


def _issuer(args: argparse.Namespace, key: SigningKey | None) -> IssuerProfile:
    if key is not None:
        return IssuerProfile(id=key.did, name=args.issuer_name)
    if args.issuer_id:
        return IssuerProfile(id=args.issuer_id, name=args.issuer_name)
    return IssuerProfile.named(args.issuer_name)


def _contexts() -> dict[str, Any]:
    try:
        return bundled_contexts()
    except SigningUnavailableError as error:
        fail(str(error))


def run(args: argparse.Namespace) -> int:
    catalogue = load_catalogue()
    location = store_location(args.store)
    now = SystemClock().now()
    as_of: date = args.as_of or now.date()
    try:
        record = load_learner_record(location, catalogue, args.uln)
    except FileNotFoundError as error:
        fail(str(error))
    if record is None:
        fail(f"no learner {args.uln} in {location}", EXIT_NOT_FOUND)
    key = _signing_key(args)
    views = registration_views(record, catalogue, as_of)
    try:
        document = clr_document(
            record, views, catalogue, as_of=as_of, issued_at=now, issuer=_issuer(args, key)
        )
    except NothingToExportError as error:
        fail(f"{error}: a CLR must hold at least one credential")
    if key is not None:
        from services.application.signing import sign_clr  # the 'sign' extra, loaded above

        document = sign_clr(document, key, _contexts(), created=now)
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if args.output is None:
        print(text, end="")
        return 0
    try:
        args.output.write_text(text, encoding="utf-8")
    except OSError as error:
        fail(f"cannot write {args.output}: {error.strerror or error}")
    return 0
