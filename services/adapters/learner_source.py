"""Where an export reads one learner's record: the one seam between exports and the store.

Exports (``learner-records export``) depend only on the pure domain and on this
function, so that when the write path changes, re-pointing it here is the whole job.
"""

from __future__ import annotations

from domain.catalogue import Catalogue
from domain.learner import LearnerRecord
from services.adapters.store import open_records


def load_learner_record(location: str, catalogue: Catalogue, uln: str) -> LearnerRecord | None:
    """The learner's record as stored at ``location``; ``None`` for a learner never seen.

    Raises ``FileNotFoundError`` when there is no store there (a reader never creates one).
    """
    records = open_records(location, catalogue, create=False)
    try:
        learner = records.learner(uln)
        return None if learner is None else learner.record
    finally:
        records.close()
