"""Realistic inbound load: learner histories across the five qualifications, generated.

Pure generation, no I/O: ``publications(catalogue, profile)`` yields
``(subject, payload)`` pairs in publishing order. Each learner's history is drawn
from its own random stream (seeded by the profile's seed and the learner's number),
so the same profile always gives the same bytes, and learner 7's history does not
depend on how many learners come before it.

A history is what an e-portfolio system sends over a course: a registration (now
and then a second one on a qualification sharing units), achievements over the
following months, some credit transferred from elsewhere, the odd revocation (and
re-assessment), withdrawals and certificates; and publishers' mistakes: retries of
an event already sent (duplicates) and events the service must refuse (malformed
JSON, a bad ULN, an unknown unit, a future date, a withdrawal from a qualification
never registered, the same id with other content).

Learners are published interleaved, a block at a time, in the order of their
events' times; each learner's own events keep their order (one subject per
learner, so JetStream keeps it too).
"""

from __future__ import annotations

import heapq
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any

from contracts.subjects import inbound_subject
from contracts.uln import make_uln
from domain.catalogue import Catalogue, Qualification

__all__ = [
    "DEFAULT_AS_OF",
    "LOADGEN_SOURCE",
    "LoadProfile",
    "Publication",
    "learner_history",
    "publications",
]

LOADGEN_SOURCE = "urn:eportfolio:loadgen"
# Every effective date is on or before this day, so a service run with ``--today`` set to
# it (or later) refuses only the events meant to be refused.
DEFAULT_AS_OF = date(2026, 6, 30)
DAY = timedelta(days=1)

# (subject, payload): what a publisher sends, in order.
Publication = tuple[str, bytes]

# How often each qualification is chosen. City & Guilds 4430 closed to registrations in
# 2014: its few learners are historical, and their windows have expired.
_QUALIFICATION_WEIGHTS = {
    "500/9203/0": 30,
    "501/0232/1": 15,
    "OCR-L3-DIP-CS": 25,
    "PEARSON-L4-NVQ-DIP-CS": 25,
    "CG-4430-L4": 5,
}


@dataclass(frozen=True, slots=True)
class LoadProfile:
    """How many learners, and how often each kind of thing happens to one."""

    learners: int
    seed: int = 1
    first_learner: int = 1
    as_of: date = DEFAULT_AS_OF
    completes: float = 0.6  # of learners, achieve a whole completing set
    second_registration: float = 0.1
    transfer: float = 0.08  # of achievements, arrive as credit transferred
    revocation: float = 0.05  # of learners
    withdrawal: float = 0.05  # of learners who do not complete
    certificate: float = 0.5  # of learners who complete
    duplicate: float = 0.02  # of events, published again
    invalid: float = 0.01  # of events, a publisher's mistake follows
    block: int = 500  # learners interleaved at a time
    source: str = LOADGEN_SOURCE

    def __post_init__(self) -> None:
        if self.learners < 0 or self.first_learner < 0 or self.block < 1:
            raise ValueError("learners and first_learner must be ≥ 0, block ≥ 1")


def publications(catalogue: Catalogue, profile: LoadProfile) -> Iterator[Publication]:
    """Every learner's history, interleaved a block of learners at a time."""
    first, end = profile.first_learner, profile.first_learner + profile.learners
    for start in range(first, end, profile.block):
        histories = [
            _timed(catalogue, profile, n) for n in range(start, min(start + profile.block, end))
        ]
        # heapq.merge is stable within each history, so a learner's order is kept.
        for _, subject, payload in heapq.merge(*histories, key=lambda item: item[0]):
            yield subject, payload


def learner_history(catalogue: Catalogue, profile: LoadProfile, n: int) -> list[bytes]:
    """Learner ``n``'s events in the order they are published."""
    return [payload for _, _, payload in _timed(catalogue, profile, n)]


def _timed(catalogue: Catalogue, profile: LoadProfile, n: int) -> list[tuple[datetime, str, bytes]]:
    history = _History(catalogue, profile, n)
    history.tell()
    subject = inbound_subject(history.uln)
    return [(at, subject, payload) for at, payload in history.events]


@cache
def _completing(qualification: Qualification) -> tuple[str, ...]:
    from devtools.sample_histories import completing_units  # the rules' cheapest completion

    return completing_units(qualification)


def _at(day: date, minute: int = 0) -> datetime:
    """Late on the effective day (never future-dated), one minute apart for order."""
    return datetime.combine(day, time(17, 0), tzinfo=UTC) + timedelta(minutes=minute)


def _wire_time(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


class _History:
    """One learner's story, written as events; ``events`` is in publishing order."""

    def __init__(self, catalogue: Catalogue, profile: LoadProfile, n: int) -> None:
        self.catalogue = catalogue
        self.profile = profile
        self.n = n
        self.uln = make_uln(n)
        self.rng = random.Random(f"{profile.seed}:{n}")
        self.events: list[tuple[datetime, bytes]] = []
        self.count = 0
        self.last: datetime = datetime.min.replace(tzinfo=UTC)
        self.registered: set[str] = set()

    # -- the story -----------------------------------------------------------------
    def tell(self) -> None:
        rng, profile = self.rng, self.profile
        ids = list(_QUALIFICATION_WEIGHTS)
        qualification = self.catalogue.qualification(
            rng.choices(ids, weights=list(_QUALIFICATION_WEIGHTS.values()))[0]
        )
        registered_on = self._registration_day(qualification)
        born = registered_on - timedelta(days=rng.randint(19 * 365, 55 * 365))
        self.registered.add(qualification.id)
        self._send(
            "learner.registered.v1",
            registered_on,
            {
                "qualification": qualification.id,
                "registered_on": registered_on.isoformat(),
                "date_of_birth": born.isoformat(),
                "centre": f"C{rng.randint(1, 400):04d}",
            },
        )
        if rng.random() < profile.second_registration:
            self._second_registration(qualification, registered_on, born)
        completes = rng.random() < profile.completes
        units = list(_completing(qualification))
        extras = [u for u in [u.urn for u in qualification.units()] if u not in units]
        rng.shuffle(units)
        if completes:
            units += rng.sample(extras, k=min(len(extras), rng.randint(0, 2)))
        else:
            units = units[: rng.randint(0, len(units) - 1)]
        day = registered_on
        achieved: list[tuple[str, str, date]] = []
        for urn in units:
            if rng.random() < profile.transfer:
                on = registered_on - timedelta(days=rng.randint(30, 700))
                event_id = self._send(
                    "credit.transferred.v1",
                    max(on, date(2005, 1, 1)),
                    {
                        "unit": urn,
                        "achieved_on": max(on, date(2005, 1, 1)).isoformat(),
                        "awarding_organisation": rng.choice(("Pearson", "OCR", "City & Guilds")),
                        "certificate_ref": f"CR-{self.n}-{len(achieved)}",
                    },
                    sent=day,
                )
            else:
                day = self._later(day, 7, 60)
                event_id = self._send(
                    "unit.achieved.v1",
                    day,
                    {"unit": urn, "achieved_on": day.isoformat(), "assessor": self._assessor()},
                )
            achieved.append((event_id, urn, day))
        if achieved and rng.random() < profile.revocation:
            day = self._revoke_and_reassess(achieved, day)
        if completes and rng.random() < profile.certificate:
            day = self._later(day, 20, 90)
            self._send(
                "certificate.issued.v1",
                day,
                {
                    "qualification": qualification.id,
                    "issued_on": day.isoformat(),
                    "certificate_number": f"CN-{self.n:08d}",
                },
            )
        elif not completes and rng.random() < profile.withdrawal:
            day = self._later(day, 10, 120)
            self._send(
                "registration.withdrawn.v1",
                day,
                {"qualification": qualification.id, "withdrawn_on": day.isoformat()},
            )

    def _registration_day(self, qualification: Qualification) -> date:
        dates = qualification.dates
        last = min(dates.accreditation_end, self.profile.as_of - 400 * DAY)
        first = max(dates.operational_start, last - 4 * 365 * DAY)
        if last < first:
            first = last = dates.operational_start
        return first + self.rng.randint(0, (last - first).days) * DAY

    def _second_registration(self, first: Qualification, on: date, born: date) -> None:
        others = [
            q
            for q in self.catalogue.qualifications.values()
            if q.id != first.id and q.dates.operational_start <= on <= q.dates.accreditation_end
        ]
        if not others:
            return
        other = self.rng.choice(others)
        self.registered.add(other.id)
        self._send(
            "learner.registered.v1",
            on,
            {
                "qualification": other.id,
                "registered_on": on.isoformat(),
                "date_of_birth": born.isoformat(),
                "centre": f"C{self.rng.randint(1, 400):04d}",
            },
        )

    def _revoke_and_reassess(self, achieved: list[tuple[str, str, date]], day: date) -> date:
        event_id, urn, _ = self.rng.choice(achieved)
        day = self._later(day, 5, 60)
        self._send(
            "achievement.revoked.v1",
            day,
            {"revokes": event_id, "reason": "assessment malpractice"},
            effective=False,
        )
        if self.rng.random() < 0.5:  # assessed again, and passed
            day = self._later(day, 20, 90)
            self._send(
                "unit.achieved.v1",
                day,
                {"unit": urn, "achieved_on": day.isoformat(), "assessor": self._assessor()},
            )
        return day

    def _later(self, day: date, low: int, high: int) -> date:
        return min(day + self.rng.randint(low, high) * DAY, self.profile.as_of)

    def _assessor(self) -> str:
        return f"A-{self.rng.randint(1, 999):03d}"

    # -- writing events ------------------------------------------------------------
    def _send(
        self,
        event_type: str,
        day: date,
        data: dict[str, Any],
        *,
        sent: date | None = None,
        effective: bool = True,
    ) -> str:
        """Publish one event (and perhaps a retry of it, or a mistake after it); its id."""
        self.count += 1
        event_id = f"lg{self.profile.seed}-{self.n}-{self.count}"
        at = max(_at(sent or day), self.last + timedelta(minutes=1))
        self.last = at
        event = {
            "specversion": "1.0",
            "id": event_id,
            "source": self.profile.source,
            "type": event_type,
            "time": _wire_time(at),
            "subject": self.uln,
            "data": {"uln": self.uln, **data},
        }
        payload = _encode(event)
        self.events.append((at, payload))
        rng = self.rng
        if rng.random() < self.profile.duplicate:
            self.events.append((at, payload))  # a publisher's retry: the same bytes
        if rng.random() < self.profile.invalid:
            self.events.append((at, self._mistake(event, effective)))
        return event_id

    def _mistake(self, event: dict[str, Any], effective: bool) -> bytes:
        """A plausible publisher's error, which the service must refuse."""
        self.count += 1
        wrong = json.loads(json.dumps(event))
        wrong["id"] = f"lg{self.profile.seed}-{self.n}-{self.count}"
        kind = self.rng.choice(("malformed", "uln", "unit", "future", "not_registered", "conflict"))
        if kind == "malformed":
            return _encode(wrong)[:-7]  # cut off mid-message
        if kind == "uln":
            bad = self.uln[:-1] + str((int(self.uln[-1]) + 1) % 10)
            wrong["subject"] = wrong["data"]["uln"] = bad
        elif kind == "unit":
            wrong["type"] = "unit.achieved.v1"
            wrong["data"] = {
                "uln": self.uln,
                "unit": "Z/999/9999",
                "achieved_on": event["time"][:10],
                "assessor": "A-000",
            }
        elif kind == "future" and effective:
            wrong["type"] = "unit.achieved.v1"
            later = date.fromisoformat(event["time"][:10]) + 3 * DAY
            wrong["data"] = {
                "uln": self.uln,
                "unit": self.catalogue.qualification("500/9203/0").units()[0].urn,
                "achieved_on": later.isoformat(),
                "assessor": "A-000",
            }
        elif kind == "conflict":
            wrong["id"] = event["id"]  # the same identity with other content
            wrong["time"] = _wire_time(datetime.fromisoformat(event["time"]) + timedelta(seconds=1))
        else:
            wrong["type"] = "registration.withdrawn.v1"
            elsewhere = sorted(set(_QUALIFICATION_WEIGHTS) - self.registered)
            wrong["data"] = {
                "uln": self.uln,
                "qualification": self.rng.choice(elsewhere),
                "withdrawn_on": event["time"][:10],
            }
        return _encode(wrong)


def _encode(event: dict[str, Any]) -> bytes:
    # What the contracts' models publish: compact JSON, sorted keys, UTF-8.
    return json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
