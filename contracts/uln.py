"""Unique Learner Numbers: the checksum, a pydantic type, and a generator of valid ones.

A ULN is ten ASCII digits, the first non-zero, whose digits weighted 10, 9, …, 1
sum to 10 modulo 11. The last digit has weight 1, so it is the check digit:
for the first nine digits with weighted sum S9 it is ``(10 - S9) mod 11`` — and
when that is 10 no ULN starts with those nine digits.
"""

from __future__ import annotations

import re
from functools import lru_cache
from operator import mul
from typing import Annotated, Final

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

__all__ = [
    "ULN_PATTERN",
    "Uln",
    "check_subject_is_the_learner",
    "is_valid_uln",
    "make_uln",
    "uln_check_digit",
    "uln_problem",
]

# [0-9], not \d: \d also matches non-ASCII digits such as "٣" or "３".
ULN_PATTERN = r"^[1-9][0-9]{9}$"
_ULN_RE = re.compile(ULN_PATTERN)
_PREFIX_RE = re.compile(r"[1-9][0-9]{8}")

# Every 8-digit head has at least nine valid ULNs (see make_uln), so the n-th
# ULN is found by arithmetic, not by scanning.
_ULNS_PER_HEAD = 9
_FIRST_HEAD = 10_000_000
_HEADS = 90_000_000
MAX_GENERATED_ULNS = _HEADS * _ULNS_PER_HEAD


# Every ULN is checked twice per inbound event (subject and data.uln), so the sum is
# taken over the ASCII codes in C (map/mul) rather than digit by digit in Python.
_WEIGHTS: Final = tuple(range(10, 0, -1))
_ZERO_TERMS: Final = {n: ord("0") * sum(_WEIGHTS[:n]) for n in (9, 10)}


def _weighted_sum(digits: str) -> int:
    """The sum of the digits weighted 10, 9, …; ``digits`` is 9 or 10 ASCII digits."""
    total: int = sum(map(mul, digits.encode("ascii"), _WEIGHTS))
    return total - _ZERO_TERMS[len(digits)]


def uln_check_digit(first_nine: str) -> int | None:
    """The digit that completes ``first_nine`` into a valid ULN, or None when none does.

    Raises ValueError unless ``first_nine`` is nine ASCII digits, the first non-zero.
    """
    if _PREFIX_RE.fullmatch(first_nine) is None:
        raise ValueError(f"expected nine digits, the first non-zero; got {first_nine!r}")
    check = (10 - _weighted_sum(first_nine)) % 11
    return None if check == 10 else check


def uln_problem(text: str) -> str | None:
    """Why ``text`` is not a valid ULN, in words; None when it is one."""
    if _ULN_RE.fullmatch(text) is None:
        return "a ULN is 10 digits, the first non-zero"
    if _weighted_sum(text) % 11 != 10:
        return "the ULN fails its checksum"
    return None


def is_valid_uln(text: str) -> bool:
    return isinstance(text, str) and uln_problem(text) is None


def make_uln(n: int) -> str:
    """The n-th valid ULN (n ≥ 0): deterministic, distinct for distinct n, increasing in n.

    For an 8-digit head with weighted sum S8, the ninth digit e (weight 2) leaves
    the check digit (10 - S8 - 2e) mod 11, which is 10 for exactly one residue
    of 2e; as e runs over 0..9, 2e takes ten distinct residues mod 11, so at most
    one e fails and every head yields at least nine ULNs. ULN n is the
    (n mod 9)-th of them under head 10_000_000 + n // 9.
    """
    if not 0 <= n < MAX_GENERATED_ULNS:
        raise ValueError(f"n must be in 0..{MAX_GENERATED_ULNS - 1}, got {n}")
    head = str(_FIRST_HEAD + n // _ULNS_PER_HEAD)
    wanted = n % _ULNS_PER_HEAD
    for ninth in "0123456789":
        check = uln_check_digit(head + ninth)
        if check is None:
            continue
        if wanted == 0:
            return f"{head}{ninth}{check}"
        wanted -= 1
    raise AssertionError("unreachable: every head has at least nine valid ULNs")


# A learner's events come in runs, and each names its ULN twice; only ten-character
# strings are cached, so a hostile subject cannot fill the cache with megabytes.
_known_problem = lru_cache(maxsize=4096)(uln_problem)


def _validate_uln(text: str) -> str:
    problem = _known_problem(text) if len(text) == 10 else uln_problem(text)
    if problem is not None:
        # A distinct error type lets the parser tell `invalid_uln` from `malformed`.
        raise PydanticCustomError(
            "invalid_uln", "{problem}: {uln}", {"problem": problem, "uln": repr(text)}
        )
    return text


Uln = Annotated[
    str,
    AfterValidator(_validate_uln),
    Field(
        description="Unique Learner Number: 10 digits, first non-zero, checksum mod 11",
        json_schema_extra={"pattern": ULN_PATTERN},
    ),
]


def check_subject_is_the_learner(subject: str, uln: str) -> None:
    """An envelope's ``subject`` must name the learner its ``data.uln`` does."""
    if subject != uln:
        raise PydanticCustomError(
            "subject_mismatch",
            "subject {subject} must equal data.uln {uln}",
            {"subject": repr(subject), "uln": repr(uln)},
        )
