"""The contract parser alone: parse, validate and digest one inbound event, in µs per event.

``python -m bench.contracts`` (and ``make bench``) prints the best of several rounds, so
a busy machine does not inflate it, for one typical event in each way it can arrive
and for the loadgen mix (every inbound type, publishers' mistakes included). The ingest
hot path pays this once per event; the target is 20 µs.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence

from bench._common import report
from contracts import ContractError, parse_inbound

# Many short rounds, best kept: on a shared machine the minimum is the cost itself.
ROUNDS = 30
TARGET_US = 20.0
ULN = "1234567899"
TYPICAL = (
    b'{"data":{"achieved_on":"2024-11-15","assessor":"A-001","unit":"J/601/1630",'
    b'"uln":"1234567899"},"datacontenttype":"application/json","id":"evt-0001",'
    b'"source":"urn:eportfolio:sample","specversion":"1.0","subject":"1234567899",'
    b'"time":"2024-11-15T17:00:00Z","type":"unit.achieved.v1"}'
)
SUBJECT = f"records.in.3.{ULN}"
STRUCTURED_HEADERS = {"Nats-Msg-Id": "sha256:0123", "Content-Type": "application/cloudevents+json"}


def _binary() -> tuple[bytes, dict[str, str]]:
    event = json.loads(TYPICAL)
    data = json.dumps(event.pop("data"), separators=(",", ":")).encode()
    return data, {f"ce-{name}": str(value) for name, value in event.items()}


Step = Callable[[bytes], object]


def _digest(headers: Mapping[str, str] | None = None, subject: str | None = None) -> Step:
    def step(raw: bytes) -> str:
        try:
            event = parse_inbound(raw, subject=subject, headers=headers)
        except ContractError as error:
            return error.digest
        return event.wire_and_digest()[1]

    return step


def per_event_us(payloads: Sequence[bytes], step: Step) -> float:
    """The best of ROUNDS passes over ``payloads``, in µs per payload."""
    best = float("inf")
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for raw in payloads:
            step(raw)
        best = min(best, time.perf_counter() - started)
    return best / len(payloads) * 1e6


def loadgen_payloads(learners: int = 300) -> list[bytes]:
    from devtools.loadgen import LoadProfile, publications
    from services.adapters.catalogue_files import load_catalogue

    profile = LoadProfile(learners=learners, seed=3)
    return [payload for _, payload in publications(load_catalogue(), profile)]


def main() -> None:
    body, headers = _binary()
    mix = loadgen_payloads()
    rows = [
        ("structured, no headers", [TYPICAL] * 1_000, _digest()),
        (
            "structured, headers, NATS subject",
            [TYPICAL] * 1_000,
            _digest(STRUCTURED_HEADERS, SUBJECT),
        ),
        ("binary mode, NATS subject", [body] * 1_000, _digest(headers, SUBJECT)),
        (f"loadgen mix ({len(mix):,} events)", mix, _digest()),
    ]
    print(f"contract parser: parse + validate + digest, µs per event (target {TARGET_US:.0f})")
    for label, payloads, step in rows:
        cost = per_event_us(payloads, step)
        print(f"  {label:<36} {cost:6.1f}")
    report(
        "contract_parse_us",
        "contract parser, loadgen mix, per event",
        cost,
        unit="µs",
        target=TARGET_US,
        higher_is_better=False,
    )


if __name__ == "__main__":
    main()
