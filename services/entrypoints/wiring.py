"""Building the application on a store: the one place adapters meet the use cases."""

from __future__ import annotations

import os

from domain.catalogue import Catalogue
from services.adapters.catalogue_files import load_catalogue
from services.adapters.store import open_store
from services.application.clock import Clock
from services.application.records import DEFAULT_CACHE_SIZE, LearnerRecords

__all__ = ["CACHE_ENV", "open_records"]

# How many learners the writer keeps in memory between batches (0: none).
CACHE_ENV = "LEARNER_RECORDS_LEARNER_CACHE"


def open_records(
    location: str,
    catalogue: Catalogue | None = None,
    clock: Clock | None = None,
    *,
    create: bool = True,
    cache: int | None = None,
) -> LearnerRecords:
    """The learner-records application on the store at ``location``.

    Raises StoreUnavailableError (message safe to show: no password) when the store is
    missing (and ``create`` is false) or cannot be reached.
    """
    if cache is None:
        cache = int(os.environ.get(CACHE_ENV) or DEFAULT_CACHE_SIZE)
    store = open_store(location, create=create)
    return LearnerRecords(store, catalogue or load_catalogue(), clock, cache=cache)
