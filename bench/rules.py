"""The rules engine against the brute-force oracle, on the five real qualifications.

Typical learners have 10–15 random units of the qualification (fixed seed); the
worst case has every unit. "decision" is ``evaluate()`` (complete, completed_on,
counted units); "explained" adds the lazily computed rule progress and
shortfall, which explanations read and decisions do not. The oracle decides
complete and completed_on by trying every subset, within a time budget per row.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from datetime import date, timedelta

from bench._common import report
from domain.catalogue import Qualification
from domain.rules import evaluate, oracle
from services.adapters.catalogue_files import load_catalogue

SEED = 20240601
LEARNERS = 200
REPEATS = 5
ORACLE_BUDGET_S = 3.0
TARGET_TYPICAL_US = 50.0
TARGET_WORST_US = 2000.0
START = date(2022, 1, 1)
REGISTERED = date(2022, 2, 1)

Learner = dict[str, date]


def _learners(qualification: Qualification, rng: random.Random, every: bool) -> list[Learner]:
    urns = sorted(u.urn for u in qualification.units())
    learners = []
    for _ in range(LEARNERS):
        chosen = urns if every else rng.sample(urns, rng.randint(10, 15))
        learners.append({urn: START + timedelta(days=rng.randint(0, 365)) for urn in chosen})
    return learners


def _time_us(
    run: Callable[[Learner], object], learners: list[Learner], repeats: int
) -> list[float]:
    for learner in learners[:20]:  # warm up: caches, the per-qualification index
        run(learner)
    samples = []
    for _ in range(repeats):
        for learner in learners:
            began = time.perf_counter_ns()
            run(learner)
            samples.append((time.perf_counter_ns() - began) / 1000)
    return samples


def _oracle_us(
    qualification: Qualification, learners: list[Learner]
) -> tuple[list[float], list[tuple[bool, date | None]]]:
    """Oracle timings and answers for as many learners as fit the budget."""
    samples: list[float] = []
    answers: list[tuple[bool, date | None]] = []
    deadline = time.perf_counter() + ORACLE_BUDGET_S
    for learner in learners:
        if time.perf_counter() > deadline:
            break
        began = time.perf_counter_ns()
        try:
            done = oracle.complete(qualification, learner)
            when = oracle.completed_on(qualification, learner, REGISTERED) if done else None
        except oracle.OracleLimitError:
            break
        samples.append((time.perf_counter_ns() - began) / 1000)
        answers.append((done, when))
    return samples, answers


def _stats(samples: list[float]) -> tuple[str, str]:
    if not samples:
        return "—", "—"
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return _fmt(statistics.median(ordered)), _fmt(p99)


def _fmt(micros: float) -> str:
    return f"{micros:,.1f} µs" if micros < 10_000 else f"{micros / 1000:,.1f} ms"


def _decide(qualification: Qualification) -> Callable[[Learner], object]:
    return lambda learner: evaluate(qualification, learner, REGISTERED)


def _explain(qualification: Qualification) -> Callable[[Learner], object]:
    def run(learner: Learner) -> object:
        result = evaluate(qualification, learner, REGISTERED)
        return result.rules, result.shortfall

    return run


def main() -> None:
    catalogue = load_catalogue()
    rng = random.Random(SEED)
    columns = (
        "qualification",
        "learners",
        "complete",
        "decision med",
        "decision p99",
        "explained med",
        "explained p99",
        "oracle med",
        "oracle p99",
        "oracle n",
        "agree",
    )
    widths = (22, 9, 9, 13, 13, 14, 14, 12, 12, 9, 6)
    print("Rules engine vs brute-force oracle, time per evaluation (perf_counter_ns)")
    print(
        f"targets: decision median ≤ {TARGET_TYPICAL_US:.0f} µs for typical learners, "
        f"≤ {TARGET_WORST_US / 1000:.0f} ms with every unit achieved"
    )
    print(
        f"oracle: {ORACLE_BUDGET_S:.0f} s budget per row, {oracle.LIMIT} units at most; "
        "n = learners it finished, — = none"
    )
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
    misses = []
    worst = {"typical": 0.0, "every": 0.0}
    for qualification in catalogue.qualifications.values():
        for case, every in (("typical", False), ("every", True)):
            learners = _learners(qualification, rng, every)
            decided = [evaluate(qualification, learner, REGISTERED) for learner in learners]
            decision = _stats(_time_us(_decide(qualification), learners, REPEATS))
            explained = _stats(_time_us(_explain(qualification), learners, 1))
            oracle_samples, answers = _oracle_us(qualification, learners)
            agree = all(
                (d.complete, d.completed_on) == answer
                for d, answer in zip(decided, answers, strict=False)
            )
            complete = sum(d.complete for d in decided)
            row = (
                qualification.id,
                case,
                f"{complete}/{len(learners)}",
                *decision,
                *explained,
                *_stats(oracle_samples),
                str(len(oracle_samples)),
                ("yes" if agree else "NO") if answers else "—",
            )
            print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
            target = TARGET_WORST_US if every else TARGET_TYPICAL_US
            median = statistics.median(_time_us(_decide(qualification), learners, 1))
            worst[case] = max(worst[case], median)
            if median > target:
                misses.append(f"{qualification.id} {case}: median {_fmt(median)}")
    print("targets met" if not misses else "targets missed: " + "; ".join(misses))
    report(
        "rules_typical_us",
        "rules engine, typical learner, slowest median",
        worst["typical"],
        unit="µs",
        target=TARGET_TYPICAL_US,
        higher_is_better=False,
    )
    report(
        "rules_every_us",
        "rules engine, every unit achieved, slowest median",
        worst["every"],
        unit="µs",
        target=TARGET_WORST_US,
        higher_is_better=False,
    )
