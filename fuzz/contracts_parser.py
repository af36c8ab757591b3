"""Coverage-guided fuzzing of the contract parser with atheris (``make fuzz``).

Every input must end as a parsed event or a ContractError whose rejection is bounded
and holds no date of birth; anything else (another exception, a broken bound, a hang
past libFuzzer's -timeout) is a finding, written under .fuzz/.

An input is one message, framed so the fuzzer can reach every path: its first byte
picks how it arrives (structured with no headers, structured with the CloudEvents
content type, binary mode, or structured on a NATS subject); for binary mode
``name: value`` header lines, then a blank line, then the body; for a subject, one
line naming it. The seeds in fuzz/corpus/contracts_parser are framed the same way
(``python fuzz/contracts_parser.py --write-seeds`` rewrites them).
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any

import atheris

with atheris.instrument_imports(include=["contracts"]):
    from contracts import (
        ECHO_MAX_BYTES,
        MAX_DETAIL_CHARS,
        ContractError,
        EventRejected,
        parse_inbound,
    )
    from contracts.echo import echo_size

SEEDS = Path(__file__).resolve().parent / "corpus" / "contracts_parser"
DATE_OF_BIRTH = "1990-05-06"
STRUCTURED, STRUCTURED_TYPED, BINARY, ON_SUBJECT = range(4)


def arrival(data: bytes) -> tuple[bytes, dict[str, Any]]:
    """The body and the keyword arguments of parse_inbound that ``data`` frames."""
    if not data:
        return b"", {}
    mode, rest = data[0] % 4, data[1:]
    if mode == STRUCTURED_TYPED:
        return rest, {"headers": {"Content-Type": "application/cloudevents+json"}}
    if mode == BINARY:
        block, _, body = rest.partition(b"\n\n")
        headers: dict[str, str] = {}
        for line in block.decode("utf-8", "replace").splitlines():
            name, _, value = line.partition(":")
            headers[name.strip()] = value.strip()
        return body, {"headers": headers}
    if mode == ON_SUBJECT:
        subject, _, body = rest.partition(b"\n")
        return body, {"subject": subject.decode("utf-8", "replace")}
    return rest, {}


def test_one_input(data: bytes) -> None:
    body, kwargs = arrival(data)
    try:
        event = parse_inbound(body, **kwargs)
    except ContractError as error:
        check(error)
        return
    wire, digest = event.wire_and_digest()
    if wire != event.to_wire() or digest != event.digest():
        raise AssertionError("the parser's wire form or digest is not to_wire()'s")


def check(error: ContractError) -> None:
    if not 0 < len(error.detail) <= MAX_DETAIL_CHARS:
        raise AssertionError(f"detail of {len(error.detail)} characters")
    if echo_size(error.original) > ECHO_MAX_BYTES:
        raise AssertionError("echo over ECHO_MAX_BYTES")
    if DATE_OF_BIRTH in strings_of(error.original) or DATE_OF_BIRTH in error.detail:
        raise AssertionError("a date of birth in a rejection")
    EventRejected.model_validate(
        {
            "reason": error.reason,
            "detail": error.detail,
            "original_id": error.event_id,
            "original_source": error.source,
            "original": error.original,
            "decided_on": "2025-03-02",
        }
    )


def strings_of(value: object) -> str:
    """Every string in ``value``, keys included, one a line (not JSON: its escapes
    could spell a date that is not there, as "\\u0001990-05-06" does)."""
    found: list[str] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            found.append(item)
    return "\n".join(found)


def seeds() -> dict[str, bytes]:
    """One framed message per inbound type and mode, from the tests' examples."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    examples: dict[str, dict[str, Any]] = importlib.import_module(
        "contract_examples"
    ).INBOUND_EXAMPLES
    found: dict[str, bytes] = {}
    for event_type, message in examples.items():
        body = json.dumps(message).encode()
        found[f"{event_type}.structured"] = bytes([STRUCTURED]) + body
        found[f"{event_type}.typed"] = bytes([STRUCTURED_TYPED]) + body
        subject = f"records.in.3.{message['subject']}".encode()
        found[f"{event_type}.subject"] = bytes([ON_SUBJECT]) + subject + b"\n" + body
        headers = "".join(f"ce-{k}: {v}\n" for k, v in message.items() if k != "data")
        data = json.dumps(message["data"]).encode()
        found[f"{event_type}.binary"] = bytes([BINARY]) + headers.encode() + b"\n" + data
    return found


def main() -> None:
    if sys.argv[1:] == ["--write-seeds"]:
        SEEDS.mkdir(parents=True, exist_ok=True)
        for name, data in seeds().items():
            (SEEDS / name).write_bytes(data)
        return
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
