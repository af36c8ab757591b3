"""``learner-records replay`` of a ~40,000-event file beside the bare loop, both as processes.

The file is loadgen's histories of 4,000 learners (~39,000 events: every inbound type,
2% duplicates, 1% publishers' mistakes), one CloudEvent a line, as ``learner-records
loadgen --out`` writes it. ``learner-records replay FILE --as-of DATE --json`` runs as a
whole process, start-up included, its JSON going to a file; the bare loop
(bench/bare_loop.py: parse, digest, insert the same lines into a SQLite table shaped like
eventsourcing's) runs as a process too. They alternate, and the medians are compared
(issue 10: at most 8×). The replay's start-up alone (an empty file) is measured too, so
the figure says how much of the replay is start-up.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench._common import WORK, load, median, report, say, size, today

TARGET_RATIO = 8.0


def _file(learners: int) -> Path:
    path = WORK / f"replay-{learners}.jsonl"
    if not path.exists():
        with path.open("wb") as out:
            for _, payload in load(learners, seed=5):
                out.write(payload + b"\n")
    return path


def _wall(command: list[str]) -> tuple[float, bytes]:
    started = time.perf_counter()
    out = subprocess.run(command, capture_output=True, check=False)
    seconds = time.perf_counter() - started
    if out.returncode != 0:
        raise RuntimeError(f"{command[:3]} failed:\n{out.stderr.decode()[-2000:]}")
    return seconds, out.stdout


def _replay(path: Path) -> tuple[float, dict[str, int]]:
    cli = str(Path(sys.executable).with_name("learner-records"))
    seconds, stdout = _wall([cli, "replay", str(path), "--as-of", today(), "--json"])
    report_ = json.loads(stdout)
    counts = {
        "events": report_["events"],
        "decisions": len(report_["decisions"]),
        "rejected": len(report_["rejected"]),
    }
    return seconds, counts


def _bare(path: Path) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as directory:
        seconds, stdout = _wall(
            [sys.executable, "-m", "bench.bare_loop", str(path), str(Path(directory) / "b.sqlite")]
        )
    return seconds, float(stdout.split()[1])


def main() -> None:
    config = size()
    path = _file(config.replay_learners)
    lines = sum(1 for line in path.read_bytes().splitlines() if line.strip())
    print(
        f"replay of {lines:,} events ({config.replay_learners:,} learners) as whole processes, "
        "beside the bare parse-digest-insert loop"
    )
    replays, bares, bare_inside = [], [], []
    counts: dict[str, int] = {}
    for n in range(config.replay_rounds):
        say(f"round {n + 1} of {config.replay_rounds}: bare loop, then learner-records replay")
        wall, inside = _bare(path)
        bares.append(wall)
        bare_inside.append(inside)
        seconds, counts = _replay(path)
        replays.append(seconds)
    with tempfile.TemporaryDirectory() as directory:
        empty = Path(directory) / "empty.jsonl"
        empty.write_bytes(b"")
        startup, _ = _replay(empty)
    replay_s, bare_s = median(replays), median(bares)
    ratio = median([r / b for r, b in zip(replays, bares, strict=True)])
    for n, (r, b) in enumerate(zip(replays, bares, strict=True), start=1):
        print(f"  round {n}: replay {r:6.2f} s   bare loop {b:5.2f} s   ({r / b:.1f}×)")
    print(
        f"  replay: {lines / replay_s:,.0f} events/s, {counts.get('decisions', 0):,} decisions, "
        f"{counts.get('rejected', 0):,} rejected; its start-up alone (an empty file) "
        f"{startup:.2f} s; the bare loop's start-up {bare_s - median(bare_inside):.2f} s"
    )
    report(
        "replay_s",
        f"replay, {lines:,} events, whole process",
        replay_s,
        unit="s",
        baseline=f"bare loop {bare_s:.2f} s",
    )
    report("bare_loop_s", "bare parse-digest-insert loop, whole process", bare_s, unit="s")
    report("replay_startup_s", "replay of an empty file (start-up)", startup, unit="s")
    report(
        "replay_ratio",
        "replay / bare loop",
        ratio,
        unit="×",
        baseline="same file, alternating",
        target=TARGET_RATIO,
        higher_is_better=False,
    )


if __name__ == "__main__":
    main()
