"""Would snapshots pay? The load time of one learner with a 200-event history.

A learner registered on every qualification whose registration period allows it, then
achieving units (and some again, under new ids) until its stored history reaches 200
events (facts and the decisions they led to), is stored through ``receive_batch`` on a
new SQLite store. Then, many times over, with nothing cached:

- ``store.records([uln])``: what the writer does for a learner it does not hold in
  memory (personal data left sealed);
- ``history(uln)``: what an auditor's timeline reads (personal data opened);

each split into the SQL read alone and the decoding and folding of the rows. A snapshot
would replace the decoding and folding of the events before it by the decoding of one
state; the pickle of the folded ``LearnerRecord`` stands in for that state here, so the
figure says what a snapshot could save at most, per load.
"""

from __future__ import annotations

import pickle
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

from bench._common import report
from devtools.loadgen import DEFAULT_AS_OF

EVENTS = 200
ULN = "9999999998"  # make_uln(809999999): a valid ULN far beyond loadgen's
REPEATS = 200


def _median_ms(run: Callable[[], object], repeats: int = REPEATS) -> float:
    run()
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


def main() -> None:
    from contracts.uln import is_valid_uln
    from devtools.sample_events import EventFactory
    from domain.learner import learner_id
    from services.adapters.catalogue_files import load_catalogue
    from services.application.clock import FixedClock
    from services.entrypoints.wiring import open_records

    assert is_valid_uln(ULN)
    catalogue = load_catalogue()
    events = EventFactory(source="urn:bench:snapshots", prefix="s")
    with tempfile.TemporaryDirectory() as directory:
        records = open_records(
            str(Path(directory) / "s.sqlite"), catalogue, FixedClock(DEFAULT_AS_OF), cache=0
        )
        try:
            day = date(2016, 1, 4)
            batch = []
            units: list[str] = []
            for qualification in catalogue.qualifications.values():
                dates = qualification.dates
                if dates.operational_start <= day <= dates.accreditation_end:
                    batch.append(events.registered(ULN, qualification.id, day, date(1980, 1, 1)))
                    units += sorted(u.urn for u in qualification.units())
            records.receive_batch(batch)
            n = 0
            while (held := records.store.records([ULN]).get(ULN)) is None or (
                held.version < EVENTS
            ):
                unit = units[n % len(units)]
                records.receive_batch([events.achieved(ULN, unit, day + timedelta(days=n))])
                n += 1
            record = records.store.records([ULN])[ULN]
            store = records.store
            originator = [learner_id(ULN)]
            read_ms = _median_ms(lambda: store.recorder.select_learner_events(originator))

            def load_record() -> object:
                store.keys.forget([ULN])
                return store.records([ULN])

            def load_history() -> object:
                store.keys.forget([ULN])
                return store.history(ULN)

            records_ms = _median_ms(load_record)
            history_ms = _median_ms(load_history)
            snapshot = pickle.dumps(record, protocol=pickle.HIGHEST_PROTOCOL)
            snapshot_ms = _median_ms(lambda: pickle.loads(snapshot))
        finally:
            records.close()
    version = record.version
    print(
        f"snapshots: one learner with {version} stored events "
        f"({len(record.achievements)} achievements, {len(record.registrations)} registrations)"
    )
    folding = records_ms - read_ms
    print(
        f"  store.records([uln]) {records_ms:6.2f} ms   (SQL read alone {read_ms:.2f} ms, "
        f"decode + fold {folding:.2f} ms: {folding / version * 1000:.0f} µs an event)"
    )
    print(f"  history(uln)         {history_ms:6.2f} ms   (personal data opened)")
    print(
        f"  a snapshot of the folded record: {len(snapshot) / 1024:.0f} KiB, "
        f"{snapshot_ms:.2f} ms to load (pickle): at most "
        f"{records_ms - read_ms - snapshot_ms:.2f} ms saved per load of such a learner"
    )
    report(
        "snapshot_load_ms",
        f"load of a {version}-event learner (store.records)",
        records_ms,
        unit="ms",
        baseline=f"SQL read alone {read_ms:.2f} ms",
    )
    report("history_load_ms", f"history of a {version}-event learner", history_ms, unit="ms")
    report("snapshot_decode_ms", "a snapshot's decoding instead (pickle)", snapshot_ms, unit="ms")


if __name__ == "__main__":
    main()
