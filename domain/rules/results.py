"""What an evaluation says: the decision, and the explanation behind it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import Literal

Measure = Literal["credits", "units"]


@dataclass(frozen=True, slots=True)
class RuleProgress:
    """One rule of combination against the counted selection."""

    rule_index: int
    kind: str
    description: str
    measure: Measure
    minimum: int | None
    maximum: int | None
    had: int
    satisfied: bool
    group: str | None = None
    groups: tuple[str, ...] = ()
    missing_units: tuple[str, ...] = ()
    # units_from_each_group: the groups still short of their units.
    short_groups: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Shortfall:
    """What an incomplete learner still needs, from units not yet achieved."""

    fewest_credits: int
    fewest_credit_units: tuple[str, ...]
    cheapest_units: tuple[str, ...]
    cheapest_glh: int
    cheapest_credits: int


@dataclass(frozen=True)
class Evaluation:
    """A qualification's rules of combination against what a learner achieved.

    The decision (``complete``, ``completed_on``, the counted units) is computed
    at once. The explanation (``rules``, ``shortfall``) is computed on first use
    and kept: decisions are taken on every replayed fact, explanations are read
    by people; ``shortfall`` in particular searches every unit not yet achieved.
    """

    qualification_id: str
    complete: bool
    completed_on: date | None
    counted_units: tuple[str, ...]
    counted_credits: int
    not_counted: tuple[str, ...]
    outside_structure: tuple[str, ...]
    _progress: Callable[[], tuple[RuleProgress, ...]] = field(repr=False, compare=False)
    _explain: Callable[[], Shortfall | None] | None = field(default=None, repr=False, compare=False)

    @cached_property
    def rules(self) -> tuple[RuleProgress, ...]:
        return self._progress()

    @cached_property
    def shortfall(self) -> Shortfall | None:
        if self.complete or self._explain is None:
            return None
        return self._explain()
