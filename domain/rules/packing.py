"""Search states packed into one integer, so that counting a unit is one addition.

Each need and each cap is a bit field with a guard bit above it (SWAR). A need
of n starts at 2**b - n, so its guard bit turns on exactly when the counted
units reach n; a cap c starts at 2**b - 1 - c, so its guard bit turns on exactly
when the counted units overflow it. A field is wide enough for every unit of
the qualification at once, so no field ever carries into the next.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Layout:
    start: int  # nothing counted yet
    met: int  # every need's guard bit: state & met == met once all are reached
    overflow: int  # every cap's guard bit: state & overflow != 0 is not allowed
    needs: tuple[tuple[int, int], ...]  # (shift, width) per need
    caps: tuple[tuple[int, int], ...]  # (shift, width) per cap

    def pack(self, gains: Sequence[tuple[int, int]], uses: Sequence[tuple[int, int]]) -> int:
        """What counting a unit adds to a state."""
        return sum(amount << self.needs[i][0] for i, amount in gains) + sum(
            amount << self.caps[i][0] for i, amount in uses
        )

    def lacking(self, state: int, fields: Sequence[tuple[int, int]] | None = None) -> int:
        """The total still lacking across the needs, or these needs' ``fields`` (0: met)."""
        total = 0
        for shift, width in self.needs if fields is None else fields:
            value = state >> shift & ((2 << width) - 1)
            if not value >> width:
                total += (1 << width) - value
        return total

    def deficits(self, state: int) -> list[int]:
        return [
            max(0, (1 << width) - (state >> shift & ((2 << width) - 1)))
            for shift, width in self.needs
        ]

    def caps_left(self, state: int) -> list[int]:
        return [
            (1 << width) - 1 - (state >> shift & ((2 << width) - 1)) for shift, width in self.caps
        ]


def lay_out(
    needs: Sequence[int],
    need_totals: Sequence[int],
    caps: Sequence[int],
    cap_totals: Sequence[int],
) -> Layout:
    """Fields for needs and caps; ``*_totals`` are what every unit together adds."""
    shift = start = met = overflow = 0
    need_fields: list[tuple[int, int]] = []
    cap_fields: list[tuple[int, int]] = []
    for need, total in zip(needs, need_totals, strict=True):
        width = max(need, total + 1).bit_length()
        start |= ((1 << width) - need) << shift
        met |= 1 << (shift + width)
        need_fields.append((shift, width))
        shift += width + 1
    for cap, total in zip(caps, cap_totals, strict=True):
        width = max(cap, total + 1).bit_length()
        start |= ((1 << width) - 1 - cap) << shift
        overflow |= 1 << (shift + width)
        cap_fields.append((shift, width))
        shift += width + 1
    return Layout(start, met, overflow, tuple(need_fields), tuple(cap_fields))
