"""The event store: eventsourcing's recorders and notification log, our codec and keys."""

from __future__ import annotations

from pathlib import Path

from services.adapters.store.location import (
    StoreUnavailableError,
    is_postgres,
    redact,
    store_env,
    store_location,
)
from services.adapters.store.records_store import Append, Logged, RecordsStore

__all__ = [
    "Append",
    "Logged",
    "RecordsStore",
    "StoreUnavailableError",
    "is_postgres",
    "open_store",
    "redact",
    "store_env",
    "store_location",
]


def open_store(location: str, *, create: bool = True, tables: bool = True) -> RecordsStore:
    """The store at ``location``; a missing SQLite file is an error unless ``create``
    (readers such as ``audit`` must not conjure an empty store). ``tables=False`` for a
    reader of a store known to exist: several processes creating the tables at once
    collide in PostgreSQL's catalogue ("tuple concurrently updated")."""
    from services.adapters.store.recorders import open_recorder

    if not is_postgres(location):
        path = Path(location)
        if not create and not path.exists():
            raise StoreUnavailableError(f"no event store at {path}")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StoreUnavailableError(
                f"cannot create the store {path}: {error.strerror or error}"
            ) from None
    env = store_env(location)
    if not tables:
        env["CREATE_TABLE"] = "n"
    try:
        if is_postgres(location):
            from services.adapters.store.postgres import reach

            reach(env)
        recorder, factory = open_recorder(env)
    except Exception as error:
        # One line: libpq's messages span several.
        reason = " ".join(redact(str(error)).split()) or type(error).__name__
        raise StoreUnavailableError(f"cannot open the store {redact(location)}: {reason}") from None
    return RecordsStore(recorder, factory)
