"""The load generator: valid, deterministic histories with the mistakes it promises."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

import pytest
from learner_histories import take

from contracts import ContractError, parse_inbound
from contracts.subjects import inbound_subject
from contracts.uln import make_uln
from devtools.loadgen import LoadProfile, learner_history, publications
from domain.catalogue import Catalogue
from domain.learner import Learner
from services.adapters.catalogue_files import load_catalogue

PROFILE = LoadProfile(learners=300, seed=7, block=50)


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


@pytest.fixture(scope="module")
def load(catalogue: Catalogue) -> list[tuple[str, bytes]]:
    return list(publications(catalogue, PROFILE))


def test_the_same_profile_gives_the_same_bytes(
    catalogue: Catalogue, load: list[tuple[str, bytes]]
) -> None:
    assert list(publications(catalogue, LoadProfile(learners=300, seed=7, block=50))) == load
    other = list(publications(catalogue, LoadProfile(learners=300, seed=8, block=50)))
    assert other != load


def test_a_learners_history_does_not_depend_on_the_others(catalogue: Catalogue) -> None:
    alone = learner_history(catalogue, LoadProfile(learners=1, seed=7, first_learner=42), 42)
    among = learner_history(catalogue, LoadProfile(learners=100, seed=7), 42)
    assert alone == among


def test_every_valid_event_is_published_on_its_learners_subject(
    load: list[tuple[str, bytes]],
) -> None:
    valid, refused, types = 0, Counter[str](), Counter[str]()
    learners = {inbound_subject(make_uln(n)) for n in range(1, 301)}
    for subject, payload in load:
        # Mistakes too go to the subject of the learner whose history they interrupt.
        assert subject in learners
        try:
            event = parse_inbound(payload)
        except ContractError as error:
            refused[error.reason.value] += 1
            continue
        valid += 1
        types[event.type] += 1
        assert subject == inbound_subject(event.subject)
    assert valid > 0.97 * len(load)
    assert set(refused) == {"malformed", "invalid_uln"}
    assert set(types) == {
        "learner.registered.v1",
        "unit.achieved.v1",
        "credit.transferred.v1",
        "achievement.revoked.v1",
        "registration.withdrawn.v1",
        "certificate.issued.v1",
    }


def test_publications_are_each_learners_history_in_order_interleaved_by_time(
    catalogue: Catalogue, load: list[tuple[str, bytes]]
) -> None:
    number = {inbound_subject(make_uln(n)): n for n in range(1, 301)}
    by_subject: dict[str, list[bytes]] = {}
    for subject, payload in load:
        by_subject.setdefault(subject, []).append(payload)
    for subject, n in number.items():
        history = learner_history(catalogue, PROFILE, n)
        assert parse_inbound(history[0]).type == "learner.registered.v1"
        assert by_subject[subject] == history
    # A block of 50 learners at a time, and within it in the order of the events' times
    # (a mistake may say one second later than the event it follows).
    blocks = [(number[subject] - 1) // PROFILE.block for subject, _ in load]
    assert blocks == sorted(blocks) and len(set(blocks)) == 6
    last: dict[int, datetime] = {}
    for (_, payload), block in zip(load, blocks, strict=True):
        try:
            sent = parse_inbound(payload).time
        except ContractError:
            continue
        assert sent >= last.get(block, sent) - timedelta(seconds=1)
        last[block] = max(sent, last.get(block, sent))


def test_retries_are_the_same_bytes_again(load: list[tuple[str, bytes]]) -> None:
    repeats = sum(count - 1 for count in Counter(p for _, p in load).values())
    assert 0.005 * len(load) < repeats < 0.05 * len(load)


def outcomes(catalogue: Catalogue, profile: LoadProfile) -> Counter[str]:
    """Every learner's history taken by a learner at each event's time: outcome counts,
    refusals by reason."""
    counts = Counter[str]()
    for n in range(profile.first_learner, profile.first_learner + profile.learners):
        learner = Learner.new(make_uln(n))
        for raw in learner_history(catalogue, profile, n):
            receipt = take(learner, catalogue, raw)
            counts[receipt.reason or receipt.outcome] += 1
    return counts


def test_without_mistakes_every_event_is_recorded_or_a_retry(catalogue: Catalogue) -> None:
    profile = LoadProfile(learners=120, seed=5, invalid=0.0, duplicate=0.05)
    counts = outcomes(catalogue, profile)
    assert set(counts) == {"recorded", "duplicate"}
    lines = [raw for n in range(1, 121) for raw in learner_history(catalogue, profile, n)]
    assert counts["duplicate"] == len(lines) - len(set(lines))


def test_each_kind_of_publishers_mistake_is_refused_for_its_reason(catalogue: Catalogue) -> None:
    counts = outcomes(catalogue, LoadProfile(learners=120, seed=5, invalid=0.3))
    assert set(counts) - {"recorded", "duplicate"} == {
        "malformed",  # cut off mid-message
        "invalid_uln",
        "unknown_unit",
        "future_dated",
        "not_registered",
        "conflicting_duplicate",
    }
