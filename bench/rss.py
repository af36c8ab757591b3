"""Peak RSS of the service, read in the end-to-end run (bench.e2e) at its learner count,
and the summary line every benchmark contributes to, printed last."""

from __future__ import annotations

from bench._common import RESULTS, size


def main() -> None:
    learners = size().e2e_learners
    rss = RESULTS.get("rss_mb", float("nan"))
    print(f"peak RSS of `learner-records serve` after {learners:,} learners: {rss:,.0f} MB")


# (name, result key, target, higher is better)
TARGETS = (
    ("end to end, events/s", "e2e_events_per_s", 5000.0, True),
    ("share of the baseline", "ratio", 0.40, True),
    ("p99 latency at 500/s, ms", "p99_ms", 50.0, False),
    ("rebuild, events/s", "rebuild_events_per_s", 50000.0, True),
    ("peak RSS, MB", "rss_mb", 500.0, False),
)


def summary() -> None:
    """Every figure beside its target, then the machine-readable last line."""
    r = RESULTS
    e2e, baseline = r.get("e2e_events_per_s", 0.0), r.get("baseline_msgs_per_s", 0.0)
    ratio = e2e / baseline if baseline else 0.0
    r["ratio"] = ratio
    print(f"{'':28}{'measured':>12}{'target':>12}")
    print(f"{'baseline, msgs/s':28}{baseline:>12,.0f}")
    print(f"{'in-process, events/s':28}{r.get('inprocess_events_per_s', 0.0):>12,.0f}")
    for name, key, target, higher in TARGETS:
        value = r.get(key, float("nan"))
        met = value >= target if higher else value <= target
        shown = f"{value:.2f}" if key == "ratio" else f"{value:,.0f}"
        goal = f"{target:.2f}" if key == "ratio" else f"{target:,.0f}"
        bound = ("≥ " if higher else "≤ ") + goal
        print(f"{name:28}{shown:>12}{bound:>12}  {'met' if met else 'MISSED'}")
    print(
        f"bench: e2e_events_per_s={e2e:.0f} baseline_msgs_per_s={baseline:.0f} "
        f"ratio={ratio:.2f} p99_ms={r.get('p99_ms', 0.0):.0f} "
        f"rebuild_events_per_s={r.get('rebuild_events_per_s', 0.0):.0f} "
        f"rss_mb={r.get('rss_mb', 0.0):.0f}"
    )
