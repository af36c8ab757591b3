"""The qualification catalogue: what each qualification contains and requires."""

from domain.catalogue.catalogue import Catalogue
from domain.catalogue.errors import CatalogueError, UnknownQualificationError, UnknownUnitError
from domain.catalogue.model import (
    CreditsAtLevel,
    Group,
    GroupCredits,
    MandatoryGroup,
    MinimumCredits,
    Qualification,
    QualificationDates,
    Rule,
    Unit,
    UnitsFromEachGroup,
    add_years,
    is_urn,
)

__all__ = [
    "Catalogue",
    "CatalogueError",
    "CreditsAtLevel",
    "Group",
    "GroupCredits",
    "MandatoryGroup",
    "MinimumCredits",
    "Qualification",
    "QualificationDates",
    "Rule",
    "Unit",
    "UnitsFromEachGroup",
    "UnknownQualificationError",
    "UnknownUnitError",
    "add_years",
    "is_urn",
]
