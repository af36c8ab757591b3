"""``python -m bench``: every benchmark, in order, each printing its own table."""

from __future__ import annotations

from collections.abc import Callable

from bench import rules

# Later benchmarks (end to end) append their main here.
BENCHMARKS: list[Callable[[], None]] = [rules.main]


def main() -> None:
    for benchmark in BENCHMARKS:
        benchmark()
        print()


if __name__ == "__main__":
    main()
