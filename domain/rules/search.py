"""Exact searches over which units count, on the vectors of ``domain.rules.index``.

A *state* is what is still needed toward every minimum (saturated at 0) and what
is left of every maximum. Units that no maximum touches are always counted by
the callers, since counting more never lowers any minimum's progress; only the
units under a maximum are choices, and only these enter the state search here.
The searches are layered dynamic programmes, one layer per unit, with states
merged when equal: exact, because a state is everything the rest of the
search can see.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from domain.rules.index import UnitFacts
from domain.rules.packing import Layout

State = tuple[int, ...]
Moves = tuple[tuple[tuple[int, int], ...], tuple[tuple[int, int], ...]]


@dataclass(frozen=True, slots=True)
class Space:
    """The search restricted to the needs and caps the choices can move."""

    start: State
    need_positions: int
    moves: tuple[Moves, ...]
    # Unmet needs no choice can touch: the search can never complete them.
    stuck: int


def project(deficits: Sequence[int], caps: Sequence[int], items: Sequence[UnitFacts]) -> Space:
    needs_touched = sorted({i for u in items for i, _ in u.gains if deficits[i] > 0})
    caps_touched = sorted({i for u in items for i, _ in u.uses})
    need_at = {need: p for p, need in enumerate(needs_touched)}
    cap_at = {cap: len(needs_touched) + p for p, cap in enumerate(caps_touched)}
    moves = tuple(
        (
            tuple((need_at[i], a) for i, a in u.gains if i in need_at),
            tuple((cap_at[i], a) for i, a in u.uses),
        )
        for u in items
    )
    start = tuple(deficits[i] for i in needs_touched) + tuple(caps[i] for i in caps_touched)
    stuck = sum(d for i, d in enumerate(deficits) if d > 0 and i not in need_at)
    return Space(start, len(needs_touched), moves, stuck)


def step(state: State, move: Moves) -> State | None:
    """The state after counting one more unit, or None if that overflows a maximum."""
    gains, uses = move
    after = list(state)
    for p, amount in uses:
        left = after[p] - amount
        if left < 0:
            return None
        after[p] = left
    for p, amount in gains:
        short = after[p]
        if short:
            after[p] = short - amount if short > amount else 0
    return tuple(after)


def remaining(deficits: Sequence[int], taken: Sequence[UnitFacts]) -> list[int]:
    """What each need still lacks once ``taken`` (units under no maximum) all count."""
    left = list(deficits)
    for unit in taken:
        for i, amount in unit.gains:
            left[i] = max(0, left[i] - amount)
    return left


def within_caps(caps: Sequence[int], taken: Sequence[UnitFacts]) -> list[int] | None:
    """Caps left after ``taken`` all count, or None if they overflow one."""
    left = list(caps)
    for unit in taken:
        for i, amount in unit.uses:
            left[i] -= amount
            if left[i] < 0:
                return None
    return left


def can_complete(layout: Layout, state: int, items: Sequence[UnitFacts]) -> bool:
    """Whether counting some subset of ``items`` on top of ``state`` meets every need."""
    met, overflow = layout.met, layout.overflow
    if state & met == met:
        return True
    states = {state}
    for unit in items:
        add = unit.packed
        grown = set(states)
        for before in states:
            after = before + add
            if after & overflow:
                continue
            if after & met == met:
                return True
            grown.add(after)
        states = grown
    return False


def best_selection(
    layout: Layout, state: int, items: Sequence[UnitFacts]
) -> tuple[tuple[str, ...], int]:
    """The items to count on top of ``state``: least lacking, most credits, earliest items.

    ``items`` come in order of preference; the result's second part is the total
    still lacking across the needs (0 when the selection completes the rules).
    """
    together = state + sum(u.packed for u in items)
    if not together & layout.overflow:
        # Everything fits: counting all is least lacking, most credits, most preferred.
        return tuple(u.urn for u in items), layout.lacking(together)
    return _best_with_linear_part(layout, state, items)


def _best_with_linear_part(
    layout: Layout, state: int, items: Sequence[UnitFacts]
) -> tuple[tuple[str, ...], int]:
    """The search, with needs that no selection can fill taken out of the state.

    For such a need nothing saturates, so what is lacking falls by the sum of the
    gains, whichever units give them: a weight per unit. Only the caps and the
    needs a selection might fill stay in the state, so fewer states differ.
    """
    saturable, weights = _split_needs(layout, state, items)
    overflow, top = layout.overflow, len(items) - 1
    # value = weight, then credits, then the preference mask (item i at bit top-i,
    # so masks compare as the preference order), packed in one int.
    credit_shift = len(items)
    weight_shift = credit_shift + sum(u.credits for u in items).bit_length()
    best: dict[int, int] = {state: 0}
    for i, unit in enumerate(items):
        add = unit.packed_uses + sum(
            amount << layout.needs[need][0] for need, amount in unit.gains if need in saturable
        )
        gain = (weights[i] << weight_shift) + (unit.credits << credit_shift) + (1 << (top - i))
        grown = dict(best)
        for before, value in best.items():
            after = before + add
            if not after & overflow and value + gain > grown.get(after, -1):
                grown[after] = value + gain
        best = grown
    if not saturable:  # what is lacking is linear: the most weight wins outright
        value = max(best.values())
        chosen = tuple(u.urn for i, u in enumerate(items) if value >> (top - i) & 1)
        return chosen, layout.lacking(state) - (value >> weight_shift)
    fields = [layout.needs[need] for need in sorted(saturable)]
    lowest = (1 << weight_shift) - 1
    _, _, value = min(
        (layout.lacking(s, fields) - (v >> weight_shift), -(v & lowest), v) for s, v in best.items()
    )
    chosen = tuple(u.urn for i, u in enumerate(items) if value >> (top - i) & 1)
    counted = state + sum(u.packed for i, u in enumerate(items) if value >> (top - i) & 1)
    return chosen, layout.lacking(counted)


def _split_needs(
    layout: Layout, state: int, items: Sequence[UnitFacts]
) -> tuple[set[int], list[int]]:
    """The needs some selection of ``items`` might fill, and each item's gain toward the rest.

    A need cannot be filled when its deficit is at least everything the items
    could bring it, or at least what is left of a cap that bounds all their
    gains toward it.
    """
    deficits = layout.deficits(state)
    caps_left = layout.caps_left(state)
    total: dict[int, int] = {}
    covered: dict[int, int] = {}
    for unit in items:
        for i, amount in unit.gains:
            if deficits[i]:
                total[i] = total.get(i, 0) + amount
                covered[i] = covered.get(i, -1) & unit.covers[i]
    saturable = set()
    for i, reach in total.items():
        mask = covered[i]
        bound = min([reach, *(left for j, left in enumerate(caps_left) if mask >> j & 1)])
        if deficits[i] < bound:
            saturable.add(i)
    weights = [
        sum(amount for i, amount in unit.gains if deficits[i] and i not in saturable)
        for unit in items
    ]
    return saturable, weights


Cost = Callable[[UnitFacts], int]


def cheapest(
    deficits: Sequence[int],
    caps: Sequence[int],
    free: Sequence[UnitFacts],
    candidates: Sequence[UnitFacts],
    cost: Cost,
    then: Cost,
) -> tuple[int, tuple[str, ...]] | None:
    """The least-``cost`` candidates that, with some of ``free``, fill every need.

    Ties go to the least ``then``, then to earlier items (free first, then by cost
    and URN). Branch and bound: a state is dropped when its cost plus a lower
    bound on what it still must pay exceeds the best completion found so far.
    """
    order = sorted(candidates, key=lambda u: (cost(u), u.urn))
    items = [*free, *order]
    space = project(deficits, caps, items)
    if space.stuck:
        return None
    n, top = space.need_positions, len(items) - 1
    bounds = _bounds(space, items, len(free), cost)
    upper = _greedy_upper_bound(space, items, len(free), cost)
    inf = float("inf")
    # Per state the best (cost, then, -mask), minimised.
    best: dict[State, tuple[int, int, int]] = {space.start: (0, 0, 0)}
    for i, move in enumerate(space.moves):
        unit = items[i]
        price, extra, bit = (
            (0, 0, 1 << (top - i))
            if i < len(free)
            else (
                cost(unit),
                then(unit),
                1 << (top - i),
            )
        )
        free_left, ratio, reach = bounds[i + 1]
        grown: dict[State, tuple[int, int, int]] = {}
        for state, (paid, other, negmask) in best.items():
            for after, value in (
                (state, (paid, other, negmask)),
                (step(state, move), (paid + price, other + extra, negmask - bit)),
            ):
                if after is None:
                    continue
                lower = 0.0
                for p in range(n):
                    short = after[p]
                    if short > reach[p]:
                        lower = inf
                        break
                    short -= free_left[p]
                    if short > 0:
                        lower = max(lower, short * ratio[p])
                if value[0] + lower > upper + 1e-9:
                    continue
                if not any(after[:n]):
                    upper = min(upper, value[0])
                known = grown.get(after)
                if known is None or value < known:
                    grown[after] = value
        best = grown
    done = [value for state, value in best.items() if not any(state[:n])]
    if not done:
        return None
    paid, _, negmask = min(done)
    mask = -negmask
    chosen = tuple(u.urn for i, u in enumerate(items) if i >= len(free) and mask >> (top - i) & 1)
    return paid, chosen


Bound = tuple[list[int], list[float], list[int]]


def _bounds(space: Space, items: Sequence[UnitFacts], free: int, cost: Cost) -> list[Bound]:
    """Per layer: what free items can still add, the cheapest price per unit of each
    need among the candidates left, and everything still addable (feasibility)."""
    n = space.need_positions
    inf = float("inf")
    rows: list[Bound] = [([0] * n, [inf] * n, [0] * n)]
    for i in range(len(items) - 1, -1, -1):
        free_left, ratio, reach = list(rows[-1][0]), list(rows[-1][1]), list(rows[-1][2])
        for p, amount in space.moves[i][0]:
            reach[p] += amount
            if i < free:
                free_left[p] += amount
            else:
                ratio[p] = min(ratio[p], cost(items[i]) / amount)
        rows.append((free_left, ratio, reach))
    rows.reverse()
    return rows


def _greedy_upper_bound(space: Space, items: Sequence[UnitFacts], free: int, cost: Cost) -> float:
    """The cost of one completion, found greedily, to start the bound; inf if none found."""
    n = space.need_positions
    state: State = space.start
    paid = 0
    for i, move in enumerate(space.moves):
        if not any(state[:n]):
            break
        if any(state[p] for p, _ in move[0]):
            after = step(state, move)
            if after is not None:
                state = after
                paid += 0 if i < free else cost(items[i])
    return float(paid) if not any(state[:n]) else float("inf")
