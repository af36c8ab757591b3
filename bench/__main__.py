"""``python -m bench``: every benchmark, in order, each printing its own table."""

from __future__ import annotations

from collections.abc import Callable

from bench import contracts, rules

# Later benchmarks (end to end) append their main here.
BENCHMARKS: list[Callable[[], None]] = [rules.main, contracts.main]

# End to end (bench/_common.py; BENCH=quick for a small run). The summary line is last.
from bench import baseline, e2e, inprocess, latency, rebuild, rss  # noqa: E402

BENCHMARKS += [
    inprocess.main,
    baseline.main,
    e2e.main,
    latency.main,
    rebuild.main,
    rss.main,
    rss.summary,
]


def main() -> None:
    for n, benchmark in enumerate(BENCHMARKS):
        if n:
            print()
        benchmark()


if __name__ == "__main__":
    main()
