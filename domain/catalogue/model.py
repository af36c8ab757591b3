"""The qualification catalogue: units, groups, rules of combination and dates.

These models are both the on-disk format of one qualification file
(``domain/catalogue/data/*.json``) and the validated, resolved form the rest
of the service reads. Cross-file checks (one URN, one credit value) live in
``domain.catalogue.catalogue``.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

URN_PATTERN = r"^[A-Z]/\d{3}/\d{4}$"
_URN_RE = re.compile(URN_PATTERN)

Urn = Annotated[str, Field(pattern=URN_PATTERN, description="Ofqual unit reference number")]
GroupId = Annotated[str, Field(min_length=1, max_length=8)]
Level = Annotated[int, Field(ge=1, le=8)]
QualificationNumber = Annotated[
    str, Field(pattern=r"^\d{3}/\d{4}/[0-9X]$", description="Ofqual qualification number")
]


def is_urn(text: str) -> bool:
    return _URN_RE.match(text) is not None


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class Unit(_Frozen):
    """A unit as a qualification lists it.

    ``credits``, ``level`` and ``glh`` may be omitted in a file whose
    specification does not state them (NCFE); the catalogue fills them from
    the same URN in another qualification and refuses to load if none has it.
    """

    urn: Urn
    title: str = Field(min_length=1)
    credits: Annotated[int, Field(gt=0)] | None = None
    level: Level | None = None
    glh: Annotated[int, Field(ge=0)] | None = None
    number: str | None = Field(
        default=None, description="the awarding body's own unit number in this qualification"
    )
    aliases: tuple[str, ...] = Field(
        default=(), description="codes that name this unit anywhere: ICS codes, C&G numbers"
    )


class Group(_Frozen):
    id: GroupId
    title: str
    mandatory: bool = False
    units: tuple[Unit, ...] = Field(min_length=1)


class _Rule(_Frozen):
    text: str | None = Field(default=None, description="the specification's own words")


class MinimumCredits(_Rule):
    kind: Literal["minimum_credits"] = "minimum_credits"
    credits: Annotated[int, Field(gt=0)]


class MandatoryGroup(_Rule):
    """Every unit of the group is required; ``credits`` is what the spec states."""

    kind: Literal["mandatory_group"] = "mandatory_group"
    group: GroupId
    credits: Annotated[int, Field(gt=0)]


class GroupCredits(_Rule):
    """Minimum and/or maximum credits counted from a set of groups.

    A maximum limits what *counts*; achieving more is not an error.
    """

    kind: Literal["group_credits"] = "group_credits"
    groups: tuple[GroupId, ...] = Field(min_length=1)
    minimum: Annotated[int, Field(gt=0)] | None = None
    maximum: Annotated[int, Field(ge=0)] | None = None

    @model_validator(mode="after")
    def _bounds(self) -> GroupCredits:
        if self.minimum is None and self.maximum is None:
            raise ValueError("group_credits needs a minimum, a maximum or both")
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            raise ValueError(f"minimum {self.minimum} exceeds maximum {self.maximum}")
        return self


class UnitsFromEachGroup(_Rule):
    kind: Literal["units_from_each_group"] = "units_from_each_group"
    groups: tuple[GroupId, ...] = Field(min_length=1)
    units: Annotated[int, Field(gt=0)] = 1


class CreditsAtLevel(_Rule):
    """Minimum credits from units at ``level`` or above, overall or within groups."""

    kind: Literal["credits_at_level"] = "credits_at_level"
    level: Level
    credits: Annotated[int, Field(gt=0)]
    groups: tuple[GroupId, ...] | None = None


Rule = Annotated[
    MinimumCredits | MandatoryGroup | GroupCredits | UnitsFromEachGroup | CreditsAtLevel,
    Field(discriminator="kind"),
]


class QualificationDates(_Frozen):
    operational_start: date
    accreditation_end: date = Field(description="the last day a learner may be registered")
    certification_end: date = Field(description="the last day a learner may be certificated")
    illustrative: bool = Field(
        description="true while the dates are the SPEC's placeholders, not the register's"
    )
    source: str = Field(description="where the dates come from")

    @model_validator(mode="after")
    def _ordered(self) -> QualificationDates:
        if not self.operational_start <= self.accreditation_end <= self.certification_end:
            raise ValueError(
                "dates must satisfy operational_start <= accreditation_end <= certification_end"
            )
        return self

    @property
    def claim_by(self) -> date:
        """A learner must complete and claim by this day (SPEC.md §4)."""
        return min(add_years(self.accreditation_end, 3), self.certification_end)


class Qualification(_Frozen):
    id: str = Field(min_length=1, description="what events name in data.qualification")
    qualification_number: QualificationNumber | None = Field(
        default=None,
        description="Ofqual's number (QAN), where the specification states it; "
        "the register's dates are matched on it",
    )
    title: str
    awarding_organisation: str
    level: Level
    source: str = Field(description="the specification this file was built from")
    dates: QualificationDates
    minimum_age: Annotated[int, Field(gt=0)] | None = None
    groups: tuple[Group, ...] = Field(min_length=1)
    rules: tuple[Rule, ...] = Field(min_length=1)

    def units(self) -> tuple[Unit, ...]:
        return tuple(unit for group in self.groups for unit in group.units)

    def group_of(self, urn: str) -> Group | None:
        for group in self.groups:
            if any(unit.urn == urn for unit in group.units):
                return group
        return None


def add_years(day: date, years: int) -> date:
    """The same calendar day ``years`` later; 29 February becomes 28 February."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)
