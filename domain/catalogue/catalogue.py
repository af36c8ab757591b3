"""The validated catalogue: every qualification, and every unit by URN or alias.

Pure: it is built from documents or models already read by the caller
(``services.adapters.catalogue_files`` reads the files), so the domain never touches disk.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from pydantic import ValidationError

from domain.catalogue.checks import (
    alias_index,
    check_mandatory_credits,
    check_qualification,
    check_unit_facts,
    fill_unit_facts,
    known_facts,
    normalise_ref,
)
from domain.catalogue.errors import CatalogueError, UnknownQualificationError, UnknownUnitError
from domain.catalogue.model import Qualification, QualificationDates, Unit, is_urn


class Catalogue:
    """Qualifications by id, units by URN; refuses inconsistent data on construction."""

    def __init__(
        self, qualifications: Sequence[Qualification], origins: Mapping[str, str] | None = None
    ) -> None:
        """``origins`` maps a qualification id to where it came from (a file name),
        so that problems name the file to fix."""
        origins = dict(origins or {})

        def label(qualification_id: str) -> str:
            origin = origins.get(qualification_id)
            return qualification_id if origin is None else f"{qualification_id} ({origin})"

        problems = _duplicate_ids(qualifications)
        for qualification in qualifications:
            problems += check_qualification(qualification, label)
        problems += check_unit_facts(qualifications, label)
        facts = known_facts(qualifications)
        filled = [fill_unit_facts(q, facts) for q in qualifications]
        for qualification in filled:
            problems += check_mandatory_credits(qualification, label)
        aliases, alias_problems = alias_index(filled, label)
        problems += alias_problems
        if problems:
            raise CatalogueError(problems)

        by_id = {q.id: q for q in sorted(filled, key=lambda q: q.id)}
        self._qualifications: Mapping[str, Qualification] = MappingProxyType(by_id)
        self._origins = origins
        self._aliases = aliases
        self._units = _canonical_units(by_id.values())
        self._containing = {
            urn: tuple(q.id for q in by_id.values() if q.group_of(urn) is not None)
            for urn in self._units
        }
        self._version = _version(by_id.values())

    @classmethod
    def from_documents(cls, documents: Mapping[str, Any]) -> Catalogue:
        """Validate raw qualification documents, keyed by where each came from."""
        problems: list[str] = []
        qualifications: list[Qualification] = []
        origins: dict[str, str] = {}
        for name, document in sorted(documents.items()):
            try:
                qualification = Qualification.model_validate(document)
            except ValidationError as error:
                problems += [f"{name}: {_describe(detail)}" for detail in error.errors()]
                continue
            if qualification.id in origins:
                problems.append(
                    f"{name}: qualification id {qualification.id} is already defined by "
                    f"{origins[qualification.id]}"
                )
                continue
            qualifications.append(qualification)
            origins[qualification.id] = name
        if problems:
            raise CatalogueError(problems)
        return cls(qualifications, origins)

    @property
    def qualifications(self) -> Mapping[str, Qualification]:
        """Every qualification by id, in id order."""
        return self._qualifications

    @property
    def version(self) -> str:
        """``sha256:<hex>`` of the canonical JSON of every qualification.

        Decisions carry it so that an auditor can tell which data they were taken on.
        """
        return self._version

    def origin(self, qualification_id: str) -> str | None:
        """Where the qualification was read from, when the caller said."""
        return self._origins.get(qualification_id)

    def qualification(self, qualification_id: str) -> Qualification:
        try:
            return self._qualifications[qualification_id]
        except KeyError:
            raise UnknownQualificationError(qualification_id, self._qualifications) from None

    def unit(self, urn: str) -> Unit:
        """The unit by URN: the first listing's title, facts filled, aliases from every listing."""
        try:
            return self._units[urn]
        except KeyError:
            raise UnknownUnitError(urn) from None

    def resolve_unit(self, ref: str, qualification_id: str | None = None) -> Unit:
        """The unit a URN, alias (ICS code, C&G number) or unit number names.

        Scoped to a qualification, a unit number such as OCR's ``12`` is meaningful
        (numbers repeat across awarding bodies), the unit must belong to it, and the
        unit is returned as that qualification lists it.
        """
        key = normalise_ref(ref)
        if qualification_id is None:
            urn = key if key in self._units else self._aliases.get(key)
            if urn is None:
                raise UnknownUnitError(ref)
            return self._units[urn]
        qualification = self.qualification(qualification_id)
        units = qualification.units()
        for unit in units:
            if unit.number is not None and normalise_ref(unit.number) == key:
                return unit
        urn = key if is_urn(key) else self._aliases.get(key)
        for unit in units:
            if unit.urn == urn:
                return unit
        raise UnknownUnitError(ref, qualification_id)

    def qualifications_containing(self, urn: str) -> tuple[str, ...]:
        """Every qualification whose structure lists the unit: credit counts toward each."""
        return self._containing.get(urn, ())

    def with_dates(self, qualification_id: str, dates: QualificationDates) -> Catalogue:
        """A new catalogue in which one qualification has other dates (from the register)."""
        qualification = self.qualification(qualification_id)
        replaced = qualification.model_copy(update={"dates": dates})
        others = [q for q in self._qualifications.values() if q.id != qualification_id]
        return Catalogue([*others, replaced], self._origins)

    def __repr__(self) -> str:
        return f"Catalogue({list(self._qualifications)!r}, version={self._version!r})"


def _duplicate_ids(qualifications: Sequence[Qualification]) -> list[str]:
    seen: set[str] = set()
    problems: list[str] = []
    for qualification in qualifications:
        if qualification.id in seen:
            problems.append(f"qualification id {qualification.id} is defined more than once")
        seen.add(qualification.id)
    return problems


def _canonical_units(qualifications: Iterable[Qualification]) -> dict[str, Unit]:
    units: dict[str, Unit] = {}
    aliases: dict[str, set[str]] = {}
    for qualification in qualifications:
        for unit in qualification.units():
            # The awarding body's number means nothing outside its qualification.
            units.setdefault(unit.urn, unit.model_copy(update={"number": None}))
            aliases.setdefault(unit.urn, set()).update(unit.aliases)
    return {
        urn: unit.model_copy(update={"aliases": tuple(sorted(aliases[urn]))})
        for urn, unit in sorted(units.items())
    }


def _version(qualifications: Iterable[Qualification]) -> str:
    canonical = json.dumps(
        [q.model_dump(mode="json") for q in qualifications],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _describe(detail: Mapping[str, Any]) -> str:
    location = ".".join(str(part) for part in detail.get("loc", ())) or "document"
    return f"{location}: {detail.get('msg', 'invalid')}"
