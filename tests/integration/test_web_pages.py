"""The auditors' pages and their JSON on a real SQLite store built by ``replay --store``."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route
from web_support import (
    AS_OF,
    COMPLETER,
    HOSTILE_ID,
    HOSTILE_LEARNER,
    LATE_ARRIVAL,
    LATE_EVENT_ID,
    LATE_LEARNER,
    build_store,
    web_history,
)

from contracts.uln import make_uln
from domain.catalogue import Catalogue
from domain.learner import LearnerEvent
from services.adapters.catalogue_files import load_catalogue
from services.adapters.store import StoreUnavailableError
from services.application.audit import timeline
from services.application.clock import FixedClock, calendar_zone
from services.application.records import LearnerRecords
from services.entrypoints.cli import main
from services.entrypoints.web import create_auditor_app
from services.entrypoints.web.schema import AuditDocument
from services.entrypoints.wiring import open_records

TOKEN = "integration-token"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
UNKNOWN = make_uln(99)


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, catalogue: Catalogue) -> Path:
    return build_store(tmp_path_factory.mktemp("web"), catalogue)


@pytest.fixture(scope="module")
def records(store: Path, catalogue: Catalogue) -> Iterator[LearnerRecords]:
    records = open_records(str(store), catalogue, create=False)
    yield records
    records.close()


@pytest.fixture(scope="module")
def client(records: LearnerRecords, catalogue: Catalogue) -> TestClient:
    app = create_auditor_app(records, catalogue, FixedClock(AS_OF), token=TOKEN)
    return TestClient(app, headers=BEARER, follow_redirects=False)


def statuses(html: str) -> list[str]:
    """The final statuses on a learner's page, in order (the timeline's are not marked)."""
    return re.findall(r'data-status="([a-z_]+)"', html)


def event_ids(html: str) -> list[str]:
    return [event_id for _, event_id in steps(html)]


def steps(html: str) -> list[tuple[str, str]]:
    """(" later" or "", event id) for each row of the timeline."""
    row = r'<tr class="step step-\w+( later)?" data-kind="\w+" data-event-id="([^"]*)"'
    return re.findall(row, html)


def test_finding_a_learner_opens_their_page_keeping_the_time_controls(client: TestClient) -> None:
    spaced = f"{LATE_LEARNER[:4]} {LATE_LEARNER[4:7]} {LATE_LEARNER[7:]}"  # as on a letter
    response = client.get("/", params={"uln": spaced, "as_of": "2024-05-01"})
    assert response.status_code == 303
    assert response.headers["location"] == f"/learners/{LATE_LEARNER}?as_of=2024-05-01"


def test_a_bad_uln_is_answered_with_a_clear_message_and_kept_in_the_form(
    client: TestClient,
) -> None:
    response = client.get("/", params={"uln": "12345<b>"})
    assert response.status_code == 400
    assert "is not a ULN: a ULN is 10 digits" in response.text
    assert 'value="12345&lt;b&gt;"' in response.text


def test_an_unknown_learner_is_a_404_page(client: TestClient) -> None:
    response = client.get(f"/learners/{UNKNOWN}")
    assert response.status_code == 404
    assert f"no record of learner {UNKNOWN} in this store" in response.text


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ({"as_of": "01/03/2024"}, "is not a date such as"),
        ({"as_known_at": "yesterday"}, "is not a moment such as"),
    ],
)
def test_a_bad_date_or_moment_is_a_400_page(
    client: TestClient, query: dict[str, str], says: str
) -> None:
    response = client.get(f"/learners/{LATE_LEARNER}", params=query)
    assert response.status_code == 400
    assert says in response.text


def test_the_page_shows_progress_by_rule_the_counted_units_and_what_is_missing(
    client: TestClient, records: LearnerRecords, catalogue: Catalogue
) -> None:
    day = date(2024, 2, 10)  # five units in: some rules met, most not
    html = client.get(f"/learners/{LATE_LEARNER}", params={"as_of": day.isoformat()}).text
    expected = timeline(LATE_LEARNER, records.history(LATE_LEARNER), catalogue, day)
    (registration,) = expected.registrations
    assert statuses(html) == ["in_progress"]
    rows = re.findall(r'<tr class="rule (met|unmet)">\s*<td class="description">([^<]*)<', html)
    assert rows == [
        ("met" if rule["satisfied"] else "unmet", rule["description"])
        for rule in registration["rules"]
    ]
    assert {"met", "unmet"} <= {verdict for verdict, _ in rows}
    counted = re.findall(r'<tr class="unit" data-urn="([^"]+)">', html)
    assert counted == registration["counted_units"] and len(counted) == 4
    for urn in counted:
        assert catalogue.unit(urn).title in html
    missing = registration["missing"]
    assert f"At least <strong>{missing['fewest_credits']}</strong> more credits" in html
    assert f"<strong>{missing['cheapest_glh']} GLH</strong>" in html
    cheapest = re.findall(r'<li data-urn="([^"]+)">', html)
    assert cheapest == missing["cheapest_units"]
    claim_by = date.fromisoformat(registration["claim_by"])
    assert f'<dd class="claim-by">{claim_by.day} {claim_by:%B %Y}</dd>' in html


def test_claim_by_and_dates_are_shown_plainly(client: TestClient) -> None:
    html = client.get(f"/learners/{COMPLETER}").text
    assert re.search(r'<dd class="claim-by">\d{1,2} [A-Z][a-z]+ \d{4}</dd>', html)
    assert "1 September 2015" in html  # registered_on 2015-09-01


def test_as_of_moves_valid_time_and_as_known_at_moves_transaction_time(
    client: TestClient,
) -> None:
    page = f"/learners/{LATE_LEARNER}"
    everything = client.get(page, params={"as_of": "2024-05-01"}).text
    assert statuses(everything) == ["eligible"]
    assert LATE_EVENT_ID in event_ids(everything)
    earlier = client.get(page, params={"as_of": "2024-01-20"}).text
    assert statuses(earlier) == ["in_progress"]
    before_arrival = client.get(
        page, params={"as_of": "2024-05-01", "as_known_at": "2024-05-01T12:00:00Z"}
    ).text
    assert statuses(before_arrival) == ["in_progress"]
    assert LATE_EVENT_ID not in event_ids(before_arrival)
    assert len(event_ids(before_arrival)) == len(event_ids(everything)) - 1


def test_a_moment_without_an_offset_is_uk_time(client: TestClient) -> None:
    # Received at 16:30 UTC on 3 June 2024, which was 17:30 in the UK (BST).
    assert LATE_ARRIVAL.astimezone(calendar_zone()).hour == 17
    page = f"/learners/{LATE_LEARNER}"
    before = client.get(page, params={"as_known_at": "2024-06-03T17:29:59"}).text
    at = client.get(page, params={"as_known_at": "2024-06-03T17:30:00"}).text
    assert LATE_EVENT_ID not in event_ids(before)
    assert LATE_EVENT_ID in event_ids(at)
    assert 'value="2024-06-03T17:30:00"' in at  # the field shows what was asked, in UK time
    assert "3 June 2024, 17:30:00 BST" in at


def test_the_timeline_shows_received_and_effective_times_and_the_decisions_caused(
    client: TestClient,
) -> None:
    html = client.get(f"/learners/{LATE_LEARNER}", params={"as_of": "2024-07-01"}).text
    late_row = html.split(f'data-event-id="{LATE_EVENT_ID}"')[1].split("</tr>")[0]
    assert "3 June 2024, 17:30:00 BST" in late_row  # received
    assert "20 February 2024" in late_row  # effective
    earlier_row = html.split('data-event-id="web-2"')[1].split("</tr>")[0]
    assert "15 January 2024, 17:00:00 GMT" in earlier_row
    # The last unit on time made the learner eligible: that fact carries the decision.
    assert html.count('data-decision="eligible"') == 1


def test_refusals_are_listed_with_their_reasons_and_user_text_is_escaped(
    client: TestClient,
) -> None:
    html = client.get(f"/learners/{HOSTILE_LEARNER}").text
    refusals = re.findall(r'<tr class="refusal" data-reason="([^"]+)">', html)
    assert refusals == ["unknown_unit"]
    assert "no unit Z/999/9999 in the catalogue" in html
    assert "<img" not in html and "<b>C</b>" not in html
    assert str(escape(HOSTILE_ID)) in html  # shown, as text
    assert "&lt;b&gt;C&lt;/b&gt;" in html  # the centre, in the event as received


def test_the_json_is_what_audit_json_prints(
    client: TestClient, store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    query = {"as_of": "2024-05-01", "as_known_at": "2024-05-01T12:00:00+00:00"}
    response = client.get(f"/api/learners/{LATE_LEARNER}", params=query)
    assert response.status_code == 200
    argv = ["audit", LATE_LEARNER, "--store", str(store), "--json", "--as-of", query["as_of"]]
    assert main([*argv, "--as-known-at", query["as_known_at"]]) == 0
    printed = json.loads(capsys.readouterr().out)
    printed.pop("store")
    assert response.json() == printed
    assert response.json()["as_known_at"] == "2024-05-01T12:00:00+00:00"


def test_every_learners_json_fits_the_openapi_models(client: TestClient) -> None:
    learners = {json.loads(line)["subject"] for line in _events()}
    kinds: set[str] = set()
    for uln in sorted(learners):
        document = client.get(f"/api/learners/{uln}").json()
        AuditDocument.model_validate(document)
        kinds |= {step["kind"] for step in document["timeline"]}
    assert kinds >= {"fact", "refused", "decision"}  # every kind of step was checked


def test_the_openapi_document_describes_the_json(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert list(document["paths"]) == ["/api/learners/{uln}"]
    operation = document["paths"]["/api/learners/{uln}"]["get"]
    assert {p["name"] for p in operation["parameters"]} == {"uln", "as_of", "as_known_at"}
    assert set(operation["responses"]) >= {"200", "400", "401", "404", "503"}
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema["$ref"].endswith("/AuditDocument")
    assert {"timeline", "registrations", "refusals"} <= set(
        document["components"]["schemas"]["AuditDocument"]["properties"]
    )


@pytest.mark.parametrize(
    ("path", "status"),
    [
        (f"/api/learners/{UNKNOWN}", 404),
        ("/api/learners/123", 400),
        (f"/api/learners/{LATE_LEARNER}?as_of=tomorrow", 400),
    ],
)
def test_json_errors_say_what_is_wrong(client: TestClient, path: str, status: int) -> None:
    response = client.get(path)
    assert response.status_code == status
    assert response.json()["detail"]


class DownStore:
    def history(self, uln: str) -> Sequence[LearnerEvent]:
        raise StoreUnavailableError("cannot open the store postgresql://lr:***@db/lr: refused")


def test_a_store_that_cannot_be_read_is_a_503_not_a_crash(catalogue: Catalogue) -> None:
    app = create_auditor_app(DownStore(), catalogue, FixedClock(AS_OF), token=None)
    client = TestClient(app)
    page = client.get(f"/learners/{LATE_LEARNER}")
    assert page.status_code == 503 and "cannot open the store" in page.text
    assert client.get(f"/api/learners/{LATE_LEARNER}").status_code == 503


def test_an_erased_learner_reads_erased_and_keeps_their_statuses(
    tmp_path: Path, catalogue: Catalogue
) -> None:
    records = open_records(str(tmp_path / "erased.sqlite"), catalogue, FixedClock(AS_OF))
    try:
        records.receive_batch(
            [line for line in web_history(catalogue) if LATE_LEARNER.encode() in line]
        )
        assert records.erase(LATE_LEARNER, "learner asked")
        app = create_auditor_app(records, catalogue, FixedClock(AS_OF), token=None)
        html = TestClient(app).get(f"/learners/{LATE_LEARNER}").text
    finally:
        records.close()
    assert 'id="erased"' in html and "(erased)" in html
    assert "1990-05-17" not in html  # the date of birth
    assert statuses(html) == ["eligible"]


def test_mounted_at_the_root_beside_health_routes(
    records: LearnerRecords, catalogue: Catalogue
) -> None:
    """As serve --http will: its own routes first, the pages at / behind the token."""

    def healthz(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    pages = create_auditor_app(records, catalogue, FixedClock(AS_OF), token=TOKEN)
    server = Starlette(routes=[Route("/healthz", healthz), Mount("/", app=pages)])
    client = TestClient(server, follow_redirects=False)
    assert client.get("/healthz").text == "ok"  # no token needed
    assert client.get(f"/learners/{LATE_LEARNER}").status_code == 401
    response = client.get(f"/learners/{LATE_LEARNER}?token={TOKEN}")
    assert response.headers["location"].endswith(f"/learners/{LATE_LEARNER}")
    html = client.get(f"/learners/{LATE_LEARNER}").text
    assert statuses(html) == ["eligible"]
    stylesheet = re.search(r'<link rel="stylesheet" href="([^"]+)"', html)
    assert stylesheet is not None and client.get(stylesheet[1]).status_code == 200
    assert client.get("/api/learners/" + LATE_LEARNER).json()["uln"] == LATE_LEARNER


def _events() -> list[bytes]:
    lines = web_history(load_catalogue())
    return [
        line for line in lines if line.startswith(b"{") and b'"subject"' in line and _is_json(line)
    ]


def _is_json(line: bytes) -> bool:
    try:
        json.loads(line)
    except ValueError:
        return False
    return True


def test_timeline_steps_after_the_as_of_day_are_marked(client: TestClient) -> None:
    html = client.get(f"/learners/{LATE_LEARNER}", params={"as_of": "2024-02-01"}).text
    rows = steps(html)
    later = [event_id for mark, event_id in rows if mark]
    # Registered 8 January, then units on 15, 22 and 29 January.
    assert [event_id for mark, event_id in rows if not mark] == ["web-1", "web-2", "web-3", "web-4"]
    assert LATE_EVENT_ID in later  # effective 20 February
