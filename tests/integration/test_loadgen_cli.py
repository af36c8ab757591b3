"""``loadgen --out`` writes what ``replay`` reads; ``loadgen`` publishes to JetStream."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from nats.js import JetStreamContext

from services.adapters.nats.embedded import EmbeddedNatsServer
from services.entrypoints.cli import main


def test_loadgen_output_replays(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "load.jsonl"
    argv = ["loadgen", "--learners", "60", "--seed", "3", "--as-of", "2026-06-30"]
    assert main([*argv, "--out", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    lines = out.read_bytes().splitlines()
    assert summary["events"] == len(lines) > 300
    assert main(["replay", str(out), "--as-of", "2026-06-30", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["events"] == len(lines)
    assert len(report["learners"]) == 60
    assert report["recorded"] + report["duplicates"] + len(report["rejected"]) == len(lines)
    assert report["duplicates"] > 0
    statuses = {r["status"] for learner in report["learners"] for r in learner["registrations"]}
    assert {"eligible", "in_progress"} <= statuses
    kinds = {d["kind"] for d in report["decisions"]}
    assert "eligible" in kinds


@pytest.mark.nats
async def test_loadgen_publishes_every_event(
    nats_server: EmbeddedNatsServer, js: JetStreamContext, tmp_path: Path
) -> None:
    await js.add_stream(name="RECORDS_IN", subjects=["records.in.>"])
    out = tmp_path / "load.jsonl"
    assert main(["loadgen", "--learners", "20", "--out", str(out), "--json"]) == 0
    expected = len(out.read_bytes().splitlines())
    # The command runs its own event loop: call it from a thread.
    status = await asyncio.to_thread(
        main, ["loadgen", "--learners", "20", "--nats-url", nats_server.url, "--json"]
    )
    assert status == 0
    info = await js.stream_info("RECORDS_IN")
    assert info.state.messages == expected
