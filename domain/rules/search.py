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
    overflow = layout.overflow
    together = state + sum(u.packed for u in items)
    if not together & overflow:
        # Everything fits: counting all is least lacking, most credits, most preferred.
        return tuple(u.urn for u in items), layout.lacking(together)
    # An item that overflows a maximum on its own is in no selection: leave it out
    # of the search (its preference bit stays unset). Caps only fill up, so this
    # is exact; if the rest fit together, counting all of them is the answer again.
    fitting = [(i, u) for i, u in enumerate(items) if not (state + u.packed_uses) & overflow]
    if len(fitting) < len(items):
        together = state + sum(u.packed for _, u in fitting)
        if not together & overflow:
            return tuple(u.urn for _, u in fitting), layout.lacking(together)
    return _best_by_progress(layout, state, fitting, len(items) - 1)


def _best_by_progress(
    layout: Layout, state: int, items: Sequence[tuple[int, UnitFacts]], top: int
) -> tuple[tuple[str, ...], int]:
    """The search over the caps and the needs a selection might fill, scored by progress.

    What is lacking falls by a selection's *progress*: its gains toward the unmet
    needs, except what goes past a need's deficit. For a need that no selection
    can fill nothing goes past, so it is a weight per unit and stays out of the
    state. A need that some selection might fill stays in the state, and once
    met its field is reset to just the guard bit, the excess taken off the
    progress: states then differ only in what the rest of the search can see.
    Least lacking is most progress, so every state keeps one packed value:
    progress, then credits, then the preference mask (the item at position i at
    bit top-i, so masks compare as the preference order). ``items`` are
    (position in order of preference, item); ``top`` is the last position.
    """
    saturable, weighed, resets = _split_needs(layout, state, [u for _, u in items])
    overflow = layout.overflow
    guards = layout.met & saturable
    credit_shift = top + 1
    progress_shift = credit_shift + sum(u.credits for _, u in items).bit_length()
    best: dict[int, int] = {state: 0}
    for i, unit in items:
        gains = unit.packed_gains
        add = unit.packed_uses + (gains & saturable)
        progress = 0
        for shift, mask in weighed:
            progress += gains >> shift & mask
        gain = (progress << progress_shift) + (unit.credits << credit_shift) + (1 << (top - i))
        grown = best.copy()
        known = grown.get
        for before, value in best.items():
            after = before + add
            if not after & overflow:
                value += gain
                met = after & guards
                if met:
                    clear, excess_fields = resets[met]
                    excess = 0
                    for shift, mask in excess_fields:
                        excess += after >> shift & mask
                    value -= excess << progress_shift
                    after &= clear
                if value > known(after, -1):
                    grown[after] = value
        best = grown
    value = max(best.values())
    taken = [u for i, u in items if value >> (top - i) & 1]
    counted = state + sum(u.packed for u in taken)
    return tuple(u.urn for u in taken), layout.lacking(counted)


Resets = dict[int, tuple[int, tuple[tuple[int, int], ...]]]


def _split_needs(
    layout: Layout, state: int, items: Sequence[UnitFacts]
) -> tuple[int, list[tuple[int, int]], Resets]:
    """The needs some selection of ``items`` might fill, and how to weigh gains.

    Returns the mask of the fields (guard bits too) of the needs that might be
    filled; (shift, value mask) per unmet need some item gains toward, to read
    each item's gain toward it from its packed gains; and per set of the
    fillable needs' guard bits, the mask that resets those fields to the guard
    bit alone and the (shift, value mask) of what goes past each.
    A need cannot be filled when its deficit is at least everything the items
    could bring it, or at least what is left of a cap that bounds all their
    gains toward it.
    """
    reach_all = 0
    covered = -1
    for unit in items:
        reach_all += unit.packed_gains  # fields are wide enough for every unit: no carry
        covered &= unit.covers
    cap_count = len(layout.caps)
    cap_mask = (1 << cap_count) - 1
    caps_left: list[int] | None = None
    saturable = 0
    weighed: list[tuple[int, int]] = []
    resets: Resets = {0: (-1, ())}
    for need, (shift, width) in enumerate(layout.needs):
        value = state >> shift & ((2 << width) - 1)
        if value >> width:
            continue  # met already
        low = (1 << width) - 1
        reach = reach_all >> shift & low
        if not reach:
            continue
        weighed.append((shift, low))
        deficit = (1 << width) - value
        bound = reach
        mask = covered >> (need * cap_count) & cap_mask
        if mask and deficit < bound:
            if caps_left is None:
                caps_left = layout.caps_left(state)
            for cap, left in enumerate(caps_left):
                if mask >> cap & 1 and left < bound:
                    bound = left
        if deficit < bound:
            saturable |= ((2 << width) - 1) << shift
            guard, values = 1 << (shift + width), low << shift
            for met, (clear, excess) in list(resets.items()):
                resets[met | guard] = (clear & ~values, (*excess, (shift, low)))
    return saturable, weighed, resets


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
    # A state's score packs (cost, then, items left out) into one int, so that
    # the least score is the least cost, then the least ``then``, then the
    # earliest items taken (item i at bit top - i); one int compares far faster
    # than a tuple in the inner loop, which runs millions of times on a report.
    mask_bits = top + 1
    then_shift = mask_bits
    cost_shift = then_shift + sum(then(u) for u in order).bit_length()
    best: dict[State, int] = {space.start: (1 << mask_bits) - 1}
    for i, (gains, uses) in enumerate(space.moves):
        price = 0 if i < len(free) else cost(items[i])
        add = (0 if i < len(free) else (price << cost_shift) + (then(items[i]) << then_shift)) - (
            1 << (top - i)
        )
        free_left, ratio, reach = bounds[i + 1]
        needs = range(n)
        grown: dict[State, int] = {}
        known = grown.get
        for state, score in best.items():
            paid = score >> cost_shift
            # Leave the unit out: the same state, seen from one layer further on.
            lower = 0.0
            for p in needs:
                short = state[p]
                if short > reach[p]:
                    lower = -1.0
                    break
                short -= free_left[p]
                if short > 0 and short * ratio[p] > lower:
                    lower = short * ratio[p]
            if lower >= 0 and paid + lower <= upper + 1e-9:
                held = known(state)
                if held is None or score < held:
                    grown[state] = score
            # Count it: caps first (overflowing one ends this branch), then needs.
            after = list(state)
            for p, amount in uses:
                after[p] -= amount
                if after[p] < 0:
                    break
            else:
                for p, amount in gains:
                    short = after[p]
                    if short:
                        after[p] = short - amount if short > amount else 0
                lower = 0.0
                for p in needs:
                    short = after[p]
                    if short > reach[p]:
                        lower = -1.0
                        break
                    short -= free_left[p]
                    if short > 0 and short * ratio[p] > lower:
                        lower = short * ratio[p]
                if lower < 0 or paid + price + lower > upper + 1e-9:
                    continue
                if not any(after[:n]):
                    upper = min(upper, paid + price)
                moved = tuple(after)
                value = score + add
                held = known(moved)
                if held is None or value < held:
                    grown[moved] = value
        best = grown
    done = [score for state, score in best.items() if not any(state[:n])]
    if not done:
        return None
    score = min(done)
    mask = ~score & ((1 << mask_bits) - 1)
    chosen = tuple(u.urn for i, u in enumerate(items) if i >= len(free) and mask >> (top - i) & 1)
    return score >> cost_shift, chosen


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
