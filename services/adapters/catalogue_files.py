"""Reading and writing the catalogue's JSON files, and importing the Ofqual register's dates.

The domain catalogue is pure; this module is the only place that touches its files.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

import domain.catalogue
from domain.catalogue import Catalogue, CatalogueError, Qualification, QualificationDates

# The bundled data ships inside the domain.catalogue package (package data).
DEFAULT_CATALOGUE_DIR: Path = Path(domain.catalogue.__file__).resolve().parent / "data"
CATALOGUE_ENV = "LEARNER_RECORDS_CATALOGUE"
REGISTER_SOURCE = "Ofqual register"

# The register's field names, lower-cased: the API documents camelCase, SPEC.md writes
# PascalCase, so both are accepted.
_REGISTER_FIELDS = {
    "operationalstartdate": "operational_start",
    "operationalenddate": "accreditation_end",
    "certificationenddate": "certification_end",
}


def catalogue_dir(directory: Path | None = None) -> Path:
    if directory is not None:
        return directory
    configured = os.environ.get(CATALOGUE_ENV)
    return Path(configured) if configured else DEFAULT_CATALOGUE_DIR


def read_documents(directory: Path) -> dict[str, Any]:
    """Every ``*.json`` in the directory by file name; unreadable JSON names its file."""
    if not directory.is_dir():
        raise CatalogueError([f"{directory}: no such catalogue directory"])
    documents: dict[str, Any] = {}
    problems: list[str] = []
    for path in sorted(directory.glob("*.json")):
        try:
            documents[path.name] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            problems.append(f"{path.name}: cannot be read as JSON: {error}")
    if not documents and not problems:
        problems.append(f"{directory}: no qualification files (*.json)")
    if problems:
        raise CatalogueError(problems)
    return documents


def load_catalogue(directory: Path | None = None) -> Catalogue:
    """The catalogue in ``directory``, else $LEARNER_RECORDS_CATALOGUE, else the bundled one."""
    return Catalogue.from_documents(read_documents(catalogue_dir(directory)))


def format_qualification(qualification: Qualification) -> str:
    # Omitting nulls keeps the files as the specifications state them (NCFE gives no
    # credits); a fixed layout keeps git diffs to the lines that changed.
    document = qualification.model_dump(mode="json", exclude_none=True)
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def save_qualification(
    directory: Path, qualification: Qualification, name: str | None = None
) -> Path:
    """Write one qualification file; ``name`` defaults to a slug of its id."""
    temporary, path = _stage(directory / (name or f"{_slug(qualification.id)}.json"), qualification)
    temporary.replace(path)
    return path


@dataclass(frozen=True, slots=True)
class DateChange:
    qualification: str
    field: str
    old: date | bool | str
    new: date | bool | str


@dataclass(frozen=True, slots=True)
class DatesImport:
    """What an import changed; ``changes`` is empty when the register agreed already."""

    changes: tuple[DateChange, ...] = ()
    qualifications: tuple[str, ...] = field(default=())
    files: tuple[Path, ...] = field(default=())


class DatesImportError(ValueError):
    """The register file could not be imported; nothing was written."""


def import_dates(directory: Path | None, path: Path) -> DatesImport:
    """Replace qualifications' dates with the register's, all or nothing."""
    directory = catalogue_dir(directory)
    documents = read_documents(directory)
    catalogue = Catalogue.from_documents(documents)
    records = _read_register(path)
    by_number = {
        _number_key(q.qualification_number): q
        for q in catalogue.qualifications.values()
        if q.qualification_number
    }
    updated = catalogue
    changes: list[DateChange] = []
    touched: list[str] = []
    for index, record in enumerate(records):
        where = f"{path.name}: record {index + 1}"
        number = _field(record, "qualificationnumber")
        if not isinstance(number, str) or not number.strip():
            raise DatesImportError(f"{where}: no qualificationNumber")
        qualification = by_number.get(_number_key(number))
        if qualification is not None and qualification.id in touched:
            raise DatesImportError(f"{where}: qualification number {number} appears twice")
        if qualification is None:
            known = ", ".join(sorted(q.qualification_number or "" for q in by_number.values()))
            raise DatesImportError(
                f"{where}: qualification number {number} is not in the catalogue (known: {known})"
            )
        dates = _register_dates(record, where)
        old = updated.qualification(qualification.id).dates
        changes += _diff(qualification.id, old, dates)
        updated = updated.with_dates(qualification.id, dates)
        touched.append(qualification.id)
    # Everything is validated above; now write every file before renaming any, so a
    # failure to write leaves the catalogue as it was.
    staged = [_stage_dates(directory, documents, catalogue, updated, qid) for qid in touched]
    for temporary, target in staged:
        temporary.replace(target)
    return DatesImport(tuple(changes), tuple(touched), tuple(target for _, target in staged))


def _read_register(path: Path) -> list[dict[str, Any]]:
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DatesImportError(f"{path}: cannot be read as JSON: {error}") from None
    records = content if isinstance(content, list) else [content]
    if not records or not all(isinstance(r, dict) for r in records):
        raise DatesImportError(
            f"{path.name}: expected a qualification object, or a list of them, "
            "as the register returns"
        )
    return records


def _field(record: dict[str, Any], name: str) -> Any:
    for key, value in record.items():
        if key.lower() == name:
            return value
    return None


def _register_dates(record: dict[str, Any], where: str) -> QualificationDates:
    values: dict[str, Any] = {"illustrative": False, "source": REGISTER_SOURCE}
    for register_name, ours in _REGISTER_FIELDS.items():
        raw = _field(record, register_name)
        if raw is None:
            raise DatesImportError(f"{where}: no {register_name} date")
        values[ours] = _parse_date(raw, f"{where}: {register_name}")
    try:
        return QualificationDates.model_validate(values)
    except ValidationError as error:
        reasons = "; ".join(str(e["msg"]) for e in error.errors())
        raise DatesImportError(f"{where}: {reasons}") from None


def _parse_date(raw: Any, where: str) -> date:
    # The register returns timestamps such as "2019-01-01T00:00:00"; only the day matters.
    if not isinstance(raw, str):
        raise DatesImportError(f"{where}: expected a date, got {raw!r}")
    try:
        return datetime.fromisoformat(raw.strip()).date()
    except ValueError:
        raise DatesImportError(f"{where}: {raw!r} is not a date") from None


def _diff(
    qualification_id: str, old: QualificationDates, new: QualificationDates
) -> list[DateChange]:
    names = (
        "operational_start",
        "accreditation_end",
        "certification_end",
        "illustrative",
        "source",
    )
    return [
        DateChange(qualification_id, name, getattr(old, name), getattr(new, name))
        for name in names
        if getattr(old, name) != getattr(new, name)
    ]


def _number_key(number: str | None) -> str:
    # The register also spells numbers without obliques ("50092030").
    return (number or "").replace("/", "").strip().upper()


def _slug(qualification_id: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in qualification_id.lower()).strip("-")


def _stage_dates(
    directory: Path, documents: dict[str, Any], before: Catalogue, after: Catalogue, qid: str
) -> tuple[Path, Path]:
    # Rewrite the file as it was, with new dates only: the catalogue's copy carries
    # credits filled in from other files, which must stay out of this one.
    name = before.origin(qid) or f"{_slug(qid)}.json"
    original = Qualification.model_validate(documents[name])
    dates = after.qualification(qid).dates
    return _stage(directory / name, original.model_copy(update={"dates": dates}))


def _stage(path: Path, qualification: Qualification) -> tuple[Path, Path]:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(format_qualification(qualification), encoding="utf-8")
    return temporary, path
