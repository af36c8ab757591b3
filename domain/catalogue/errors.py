"""Errors the catalogue raises: a refused catalogue, an unknown qualification or unit."""

from __future__ import annotations

from collections.abc import Iterable


class CatalogueError(ValueError):
    """The catalogue data is inconsistent; ``problems`` lists every problem found.

    All problems are collected before raising so that one run of the loader tells
    the editor of the data everything to fix, not just the first thing.
    """

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = list(problems)
        count = len(self.problems)
        heading = f"the catalogue is inconsistent ({count} problem{'s' if count != 1 else ''}):"
        super().__init__("\n".join([heading, *(f"  - {p}" for p in self.problems)]))


class UnknownQualificationError(LookupError):
    """No qualification with this id in the catalogue."""

    def __init__(self, qualification_id: str, known: Iterable[str] = ()) -> None:
        self.qualification_id = qualification_id
        self.known = tuple(known)
        listed = ", ".join(self.known) or "none"
        super().__init__(
            f"no qualification {qualification_id!r} in the catalogue (known: {listed})"
        )


class UnknownUnitError(LookupError):
    """No unit with this URN or alias (in the named qualification, when one is named)."""

    def __init__(self, ref: str, qualification_id: str | None = None) -> None:
        self.ref = ref
        self.qualification_id = qualification_id
        where = (
            "the catalogue" if qualification_id is None else f"qualification {qualification_id!r}"
        )
        super().__init__(f"no unit {ref!r} in {where}")
