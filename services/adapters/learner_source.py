"""Where an export reads one learner's record: the one seam between exports and the store.

Exports (``learner-records export``) depend only on the pure domain and on this
function, so that when the write path changes, re-pointing it here is the whole job.
"""

from __future__ import annotations

from domain.catalogue import Catalogue
from domain.learner import LearnerRecord
from services.adapters.store import StoreUnavailableError, open_store


def load_learner_record(location: str, catalogue: Catalogue, uln: str) -> LearnerRecord | None:
    """The learner's record as stored at ``location``; ``None`` for a learner never seen.

    Raises ``FileNotFoundError`` when there is no store there (a reader never creates one).
    """
    try:
        store = open_store(location, create=False)
    except StoreUnavailableError as error:
        raise FileNotFoundError(str(error)) from None
    try:
        # Personal data stays sealed: an export never carries a date of birth.
        return store.records([uln], personal=False).get(uln)
    finally:
        store.close()
