"""Contracts: the ULN checksum and the generator of valid ULNs.

The rest of the contracts is tested beside this file, one concern a module:
test_contracts_inbound (parsing and its refusals, digests), test_contracts_outbound
(decisions' round trips), test_contracts_limits, test_contracts_echo,
test_contracts_binding (both CloudEvents modes, the NATS subject),
test_contracts_jsonio (the fast paths keep the definitions), test_contracts_fuzz,
test_contracts_schemas and test_contracts_asyncapi (the generated files).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.uln import MAX_GENERATED_ULNS, is_valid_uln, make_uln, uln_check_digit

# ---------------------------------------------------------------- ULN checksum


@pytest.mark.parametrize(
    ("uln", "weighted_sum"),
    [
        # 1×10 = 10; 10 mod 11 = 10.
        ("1000000000", 10),
        # 1×10 + 1×2 + 9×1 = 21; 21 mod 11 = 10.
        ("1000000019", 21),
        # 1×10 + 2×9 + 3×8 + 4×7 + 5×6 + 6×5 + 7×4 + 8×3 + 9×2 + 9×1 = 219 = 19×11 + 10.
        ("1234567899", 219),
    ],
)
def test_hand_worked_ulns_are_valid(uln: str, weighted_sum: int) -> None:
    assert sum(int(d) * w for d, w in zip(uln, range(10, 0, -1), strict=True)) == weighted_sum
    assert weighted_sum % 11 == 10
    assert is_valid_uln(uln)


@pytest.mark.parametrize(
    ("uln", "why"),
    [
        ("9999999999", "9 × 55 = 495 = 45 × 11: remainder 0"),
        ("1234567890", "210 + 0 = 210: remainder 1"),
        ("1000000018", "one digit off a valid ULN"),
        ("1000000091", "two digits of a valid ULN transposed"),
        ("123456789", "nine digits"),
        ("12345678999", "eleven digits"),
        ("0123456789", "leading zero"),
        ("0000000000", "all zeros; the sum 0 fails too"),
        ("12345678a9", "a letter"),
        (" 1234567899", "leading space"),
        ("1234567899\n", "trailing newline"),
        ("١٢٣٤٥٦٧٨٩٩", "Arabic-Indic digits are digits to str.isdigit, not to a ULN"),
        ("", "empty"),
    ],
)
def test_invalid_ulns(uln: str, why: str) -> None:
    assert not is_valid_uln(uln), why


def test_check_digit_by_hand() -> None:
    # S9 of 123456789 is 210 ≡ 1 (mod 11), so d = 10 - 1 = 9.
    assert uln_check_digit("123456789") == 9
    # S9 of 110000000 is 10 + 9 = 19 ≡ 8, so d = 2.
    assert uln_check_digit("110000000") == 2
    # S9 of 100000006 is 10 + 6×2 = 22 ≡ 0, so d would have to be 10: no ULN.
    assert uln_check_digit("100000006") is None


@pytest.mark.parametrize("bad", ["12345678", "1234567890", "012345678", "12345678x"])
def test_check_digit_needs_nine_digits_first_nonzero(bad: str) -> None:
    with pytest.raises(ValueError, match="nine digits"):
        uln_check_digit(bad)


def test_make_uln_first_few_are_valid_distinct_and_increasing() -> None:
    ulns = [make_uln(n) for n in range(1000)]
    assert all(is_valid_uln(uln) for uln in ulns)
    assert ulns == sorted(set(ulns))
    assert ulns[:3] == ["1000000000", "1000000019", "1000000027"]


@given(st.integers(min_value=0, max_value=MAX_GENERATED_ULNS - 2))
def test_make_uln_is_valid_and_strictly_increasing(n: int) -> None:
    assert is_valid_uln(make_uln(n))
    assert make_uln(n) < make_uln(n + 1)


@given(
    st.integers(min_value=0, max_value=MAX_GENERATED_ULNS - 1),
    st.integers(min_value=0, max_value=9),
    st.integers(min_value=1, max_value=9),
)
def test_checksum_catches_every_single_digit_error(n: int, position: int, delta: int) -> None:
    # Weights 1..10 and changes 1..9 are all non-zero mod the prime 11.
    uln = make_uln(n)
    changed = str((int(uln[position]) + delta) % 10)
    assert not is_valid_uln(uln[:position] + changed + uln[position + 1 :])


def test_make_uln_refuses_out_of_range() -> None:
    with pytest.raises(ValueError):
        make_uln(-1)
    with pytest.raises(ValueError):
        make_uln(MAX_GENERATED_ULNS)
    assert is_valid_uln(make_uln(MAX_GENERATED_ULNS - 1))
