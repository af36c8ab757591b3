"""The bare loop: parse, digest and insert JSON lines, as a process (the replay's yardstick).

``python -m bench.bare_loop FILE DB``: every line is read with orjson, digested (sha256 of
its canonical JSON: sorted keys, no spaces, as the service digests an event), and inserted
with its digest into a new SQLite table shaped like eventsourcing's ``stored_events``
(originator_id: uuid5 of the learner, or of the digest when the line names none;
originator_version counted per originator; topic: the event's type; state: the JSON),
one transaction per 500 lines, WAL mode, default ``synchronous``. Nothing else: no
validation, no learner, no rules, no decisions. Prints the seconds it took inside the
process (its start-up is the difference between that and the wall clock).
"""

from __future__ import annotations

import hashlib
import sqlite3
import sys
import time
from pathlib import Path
from uuid import UUID, uuid5

import orjson

NAMESPACE = UUID("0b5f3a2e-8c41-5d67-a2f9-4e6b1c8d7a30")
BATCH = 500
CREATE_TABLE = (
    "CREATE TABLE IF NOT EXISTS stored_events (originator_id TEXT, originator_version "
    "INTEGER, topic TEXT, state BLOB, PRIMARY KEY (originator_id, originator_version))"
)
INSERT = "INSERT INTO stored_events VALUES (?, ?, ?, ?)"


def run(source: Path, target: Path) -> int:
    lines = [line for line in source.read_bytes().splitlines() if line.strip()]
    db = sqlite3.connect(target, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(CREATE_TABLE)
    versions: dict[str, int] = {}
    rows: list[tuple[str, int, str, bytes]] = []

    def flush() -> None:
        db.execute("BEGIN")
        db.executemany(INSERT, rows)
        db.execute("COMMIT")
        rows.clear()

    for line in lines:
        try:
            event = orjson.loads(line)
        except orjson.JSONDecodeError:
            event = line.decode(errors="replace")
        canonical = orjson.dumps(event, option=orjson.OPT_SORT_KEYS)
        digest = "sha256:" + hashlib.sha256(canonical).hexdigest()
        named = event.get("subject") if isinstance(event, dict) else None
        kind = event.get("type") if isinstance(event, dict) else None
        originator = uuid5(NAMESPACE, str(named or digest)).hex
        version = versions[originator] = versions.get(originator, 0) + 1
        state = orjson.dumps({"e": event, "d": digest})
        rows.append((originator, version, str(kind or "unreadable"), state))
        if len(rows) >= BATCH:
            flush()
    if rows:
        flush()
    db.close()
    return len(lines)


def main() -> None:
    started = time.perf_counter()
    count = run(Path(sys.argv[1]), Path(sys.argv[2]))
    print(f"{count} {time.perf_counter() - started:.4f}")


if __name__ == "__main__":
    main()
