"""The load generator: valid, deterministic histories with the mistakes it promises."""

from __future__ import annotations

from collections import Counter

import pytest

from contracts import ContractError, parse_inbound
from contracts.subjects import inbound_subject
from devtools.loadgen import LoadProfile, learner_history, publications
from domain.catalogue import Catalogue
from services.adapters.catalogue_files import load_catalogue


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


@pytest.fixture(scope="module")
def load(catalogue: Catalogue) -> list[tuple[str, bytes]]:
    return list(publications(catalogue, LoadProfile(learners=300, seed=7, block=50)))


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


def test_every_event_is_valid_but_the_intended_mistakes(load: list[tuple[str, bytes]]) -> None:
    valid, refused, types = 0, Counter[str](), Counter[str]()
    for subject, payload in load:
        try:
            event = parse_inbound(payload)
        except ContractError as error:
            refused[error.reason.value] += 1
            continue
        valid += 1
        types[event.type] += 1
        if event.subject == subject.rsplit(".", 1)[1]:
            assert subject == inbound_subject(event.subject)
    assert valid > 0.97 * len(load)
    assert set(refused) <= {"malformed", "invalid_uln"}
    assert set(types) == {
        "learner.registered.v1",
        "unit.achieved.v1",
        "credit.transferred.v1",
        "achievement.revoked.v1",
        "registration.withdrawn.v1",
        "certificate.issued.v1",
    }


def test_each_learner_keeps_its_order_and_has_duplicates_and_registrations(
    catalogue: Catalogue, load: list[tuple[str, bytes]]
) -> None:
    by_subject: dict[str, list[bytes]] = {}
    for subject, payload in load:
        by_subject.setdefault(subject, []).append(payload)
    assert len(by_subject) == 300
    profile = LoadProfile(learners=300, seed=7, block=50)
    for n, subject in [(1, load[0][0]), (150, None), (300, None)]:
        history = learner_history(catalogue, profile, n)
        subject = subject or inbound_subject(parse_inbound(history[0]).subject)
        assert by_subject[subject] == history
        assert parse_inbound(history[0]).type == "learner.registered.v1"
    repeats = sum(count - 1 for count in Counter(p for _, p in load).values())
    assert 0.005 * len(load) < repeats < 0.05 * len(load)
