"""The rules of combination: which units count, whether they complete, and what is missing."""

from domain.rules.engine import evaluate, shortfall
from domain.rules.index import IncompleteUnitError
from domain.rules.results import Evaluation, Measure, RuleProgress, Shortfall

__all__ = [
    "Evaluation",
    "IncompleteUnitError",
    "Measure",
    "RuleProgress",
    "Shortfall",
    "evaluate",
    "shortfall",
]
