"""Properties of the learner aggregate over loadgen histories (hypothesis), in memory.

- Order of arrival never changes a status (SPEC.md §4): status is a function of the
  set of facts, whatever order they came in, but a revocation arrives after what it
  revokes (and a withdrawal or certificate after the registration it names, or it is
  refused as ``not_registered``).
- The one fold: a learner's collected events, folded into a fresh ``LearnerRecord``,
  give the record the writer holds, so the store, the projection and the audit (which
  fold what was collected) see what the writer saw.
- The review's shortcut (``Settled``) decides exactly what a full review decides.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from learner_histories import (
    DAY,
    LONDON,
    bundled_catalogue,
    loadgen_histories,
    review,
    take,
)

from contracts import parse_inbound
from devtools.sample_events import EventFactory
from domain.catalogue import Catalogue
from domain.learner import Arrival, Learner, LearnerRecord, Settled, registration_views
from domain.learner.facts import effective_on, fact_of

PROPERTY = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def prerequisites(lines: list[bytes]) -> list[set[str]]:
    """For each line, the ids (or qualifications) that must be in before it is taken."""
    needs: list[set[str]] = []
    for raw in lines:
        event = orjson.loads(raw)
        data = event["data"]
        match event["type"]:
            case "achievement.revoked.v1":
                needs.append({f"id:{data['revokes']}"})
            case "registration.withdrawn.v1" | "certificate.issued.v1":
                needs.append({f"registered:{data['qualification']}"})
            case _:
                needs.append(set())
    return needs


def provides(raw: bytes) -> set[str]:
    event = orjson.loads(raw)
    given = {f"id:{event['id']}"}
    if event["type"] == "learner.registered.v1":
        given.add(f"registered:{event['data']['qualification']}")
    return given


def shuffled(lines: list[bytes], keys: list[int]) -> list[bytes]:
    """The lines in the order ``keys`` says, as far as the prerequisites allow: each step
    takes the waiting line of lowest key whose prerequisites are already in."""
    needs = prerequisites(lines)
    waiting = list(range(len(lines)))
    have: set[str] = set()
    order: list[bytes] = []
    while waiting:
        ready = [i for i in waiting if needs[i] <= have]
        pick = min(ready, key=lambda i: (keys[i], i))
        waiting.remove(pick)
        order.append(lines[pick])
        have |= provides(lines[pick])
    return order


def days_to_ask(lines: list[bytes], catalogue: Catalogue) -> list[date]:
    """Every day a status can change on, either side: effective dates and claim-by dates."""
    days = {date(2040, 1, 1)}
    for raw in lines:
        fact = fact_of(parse_inbound(raw))
        day = effective_on(fact)
        if day is not None:
            days |= {day - DAY, day, day + DAY}
        qualification = getattr(fact, "qualification", None)
        if isinstance(qualification, str) and qualification in catalogue.qualifications:
            claim_by = catalogue.qualification(qualification).dates.claim_by
            days |= {claim_by, claim_by + DAY}
    return sorted(days)


def statuses(record: LearnerRecord, catalogue: Catalogue, days: list[date]) -> list[Any]:
    return [
        (
            day,
            view.qualification,
            view.status.value,
            view.completed_on,
            view.evaluation.counted_credits,
            sorted(view.evaluation.counted_units),
        )
        for day in days
        for view in registration_views(record, catalogue, day)
    ]


def credit_again(raw: bytes, days_earlier: int, n: int) -> bytes:
    """The unit of achievement ``raw`` again, as credit transferred from elsewhere and
    dated ``days_earlier`` before it (negative: after it, but never after it was sent)."""
    event = orjson.loads(raw)
    sent = datetime.fromisoformat(event["time"])
    day = min(date.fromisoformat(event["data"]["achieved_on"]) - days_earlier * DAY, sent.date())
    return EventFactory(source="urn:eportfolio:elsewhere", prefix=f"again-{n}").transferred(
        event["subject"], event["data"]["unit"], day, at=sent
    )


@PROPERTY
@given(loadgen_histories(invalid=0.0), st.data())
def test_order_of_arrival_never_changes_a_status(
    history: tuple[str, list[bytes]], data: st.DataObject
) -> None:
    uln, lines = history
    catalogue = bundled_catalogue()
    # Some units held twice, on other days: which one counts must not depend on order.
    achieved = [raw for raw in lines if b'"unit.achieved.v1"' in raw]
    if achieved:
        for n, (pick, earlier) in enumerate(
            data.draw(
                st.lists(st.tuples(st.sampled_from(achieved), st.integers(-30, 400)), max_size=3)
            )
        ):
            lines = [*lines, credit_again(pick, earlier, n)]
    keys = data.draw(st.lists(st.integers(0, 50), min_size=len(lines), max_size=len(lines)))
    other = shuffled(lines, keys)
    # Both received after the last was sent, so no fact is refused for its date.
    now = datetime(2031, 1, 1, 9, tzinfo=LONDON)
    as_sent, reordered = Learner.new(uln), Learner.new(uln)
    for raw in lines:
        take(as_sent, catalogue, raw, now)
    for raw in other:
        take(reordered, catalogue, raw, now)

    days = days_to_ask(lines, catalogue)
    assert statuses(reordered.record, catalogue, days) == statuses(as_sent.record, catalogue, days)
    assert as_sent.record.registrations  # a history has a registration to compare


def lived(uln: str, lines: list[bytes], catalogue: Catalogue, settled: Settled | None) -> Learner:
    """The history taken at each event's time, with the scheduler's review at the start of
    each day after a claim-by date that passes meanwhile, then the learner erased."""
    learner = Learner.new(uln)
    claim_by = sorted({q.dates.claim_by for q in catalogue.qualifications.values()})
    last: datetime | None = None
    for raw in lines:
        try:
            sent = datetime.fromisoformat(orjson.loads(raw)["time"]).astimezone(LONDON)
        except (orjson.JSONDecodeError, KeyError, ValueError):
            sent = last or datetime(2010, 1, 1, tzinfo=LONDON)
        now = max(sent, last) if last is not None else sent
        for day in claim_by:
            if last is not None and last.date() <= day < now.date():
                review(learner, catalogue, day + DAY)
        if settled is None:
            take(learner, catalogue, raw, now)
        else:
            event = parse_inbound(raw)
            _, digest = event.wire_and_digest()
            learner.receive(event, Arrival(now, digest, raw), catalogue, now, settled)
        last = now
    review(learner, catalogue, date(2032, 1, 1))
    learner.erase("the learner asked", datetime(2032, 1, 2, tzinfo=LONDON))
    return learner


@PROPERTY
@given(loadgen_histories())
def test_folding_the_collected_events_gives_the_writers_record(
    history: tuple[str, list[bytes]],
) -> None:
    uln, lines = history
    writer = lived(uln, lines, bundled_catalogue(), settled=None)
    events = writer.collect()

    folded = LearnerRecord(uln)
    for event in events:
        folded.apply(event)

    assert folded == writer.record
    assert folded.version == len(events)
    # And the history holds every kind of event the writer takes (so the fold was tried).
    assert {type(e).__name__ for e in events} >= {"Registered", "LearnerErased"}


@PROPERTY
@given(loadgen_histories(invalid=0.0))
def test_the_review_shortcut_decides_exactly_as_a_full_review(
    history: tuple[str, list[bytes]],
) -> None:
    uln, lines = history
    catalogue = bundled_catalogue()
    full = lived(uln, lines, catalogue, settled=None).collect()
    shortcut = lived(uln, lines, catalogue, settled=Settled()).collect()
    assert [(type(e).__name__, getattr(e, "decision", None)) for e in shortcut] == [
        (type(e).__name__, getattr(e, "decision", None)) for e in full
    ]


def test_the_shuffle_keeps_what_a_revocation_needs() -> None:
    # The property above is only as good as its shuffle: it must move lines, and never
    # put a revocation before its achievement.
    lines = [
        b'{"type":"learner.registered.v1","id":"r","data":{"qualification":"Q"}}',
        b'{"type":"unit.achieved.v1","id":"a","data":{}}',
        b'{"type":"achievement.revoked.v1","id":"x","data":{"revokes":"a"}}',
        b'{"type":"registration.withdrawn.v1","id":"w","data":{"qualification":"Q"}}',
    ]
    assert shuffled(lines, [3, 2, 1, 0]) == [lines[1], lines[2], lines[0], lines[3]]
    assert shuffled(lines, [0, 0, 0, 0]) == lines
