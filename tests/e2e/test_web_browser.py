"""The auditors' pages in a real browser: Debian's headless chromium, driven by Playwright.

``learner-records web`` serves a store built by ``replay --store``; the browser signs in,
finds learners, reads their progress, moves the as-of date and the as-known-at moment,
and reads the timeline and the refusals. Each page is kept as a PNG in
tests/artifacts/screenshots/ (or $LEARNER_RECORDS_SCREENSHOTS), named in the summary.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from web_support import (
    COMPLETER,
    HOSTILE_ID,
    HOSTILE_LEARNER,
    LATE_EVENT_ID,
    LATE_LEARNER,
    WebProcess,
    build_store,
)

from contracts.uln import make_uln
from devtools.chromium import LAUNCH_ARGS, find_chromium
from domain.catalogue import Catalogue
from services.adapters.catalogue_files import load_catalogue

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.slow]

TOKEN = "browser-token"
# The learner on two NVQs whose transferred unit is revoked: in progress, units missing.
REVOKED_LEARNER = make_uln(11)
SCREENSHOTS_ENV = "LEARNER_RECORDS_SCREENSHOTS"
SCREENSHOTS = Path(__file__).resolve().parents[1] / "artifacts" / "screenshots"


class Notes:
    """Lines for the end of the pytest run: where the screenshots went, browser timing."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        terminalreporter.section("auditors' pages in chromium")
        for line in self.lines:
            terminalreporter.write_line(line)


@pytest.fixture(scope="module")
def notes(request: pytest.FixtureRequest) -> Notes:
    notes = Notes()
    request.config.pluginmanager.register(notes, "web-browser-notes")
    return notes


@pytest.fixture(scope="module")
def shots(notes: Notes) -> Path:
    directory = Path(os.environ.get(SCREENSHOTS_ENV) or SCREENSHOTS)
    directory.mkdir(parents=True, exist_ok=True)
    notes.lines.append(f"screenshots: {directory}")
    return directory


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, catalogue: Catalogue) -> Iterator[str]:
    store = build_store(tmp_path_factory.mktemp("web-browser"), catalogue)
    with WebProcess(store, token=TOKEN) as web:
        yield web.url


@pytest.fixture(scope="module")
def browser(notes: Notes) -> Iterator[Browser]:
    # Debian's chromium, never a browser Playwright downloads; missing, this fails (with
    # what to install), it does not skip: `make test` installs it.
    executable = find_chromium()
    started = time.monotonic()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(executable), args=LAUNCH_ARGS)
        notes.lines.append(
            f"chromium {browser.version} ({executable}) started in "
            f"{time.monotonic() - started:.2f}s"
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(
        locale="en-GB", timezone_id="Europe/London", viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def signed_in(page: Page, site: str) -> Page:
    page.goto(f"{site}?token={TOKEN}")
    expect(page.locator("#search")).to_be_visible()
    return page


def shot(page: Page, shots: Path, name: str) -> None:
    page.screenshot(path=shots / f"{name}.png", full_page=True)


def test_without_the_token_the_pages_refuse_then_the_form_signs_in(
    page: Page, site: str, shots: Path
) -> None:
    page.goto(f"{site}learners/{LATE_LEARNER}")
    expect(page.locator("h1")).to_have_text("Sign in")
    expect(page.locator("#registrations")).to_have_count(0)
    page.fill("#token", "not-the-token")
    page.click("#signin button")
    expect(page.locator("#message")).to_contain_text("not the auditor token")
    shot(page, shots, "01-sign-in-refused")
    page.fill("#token", TOKEN)
    page.click("#signin button")
    # Back on the page first asked for, signed in.
    expect(page.locator("h1")).to_contain_text(f"Learner {LATE_LEARNER}")
    assert page.url == f"{site}learners/{LATE_LEARNER}"


def test_find_a_learner_and_read_their_progress_by_rule(
    signed_in: Page, shots: Path, catalogue: Catalogue
) -> None:
    page = signed_in
    shot(page, shots, "02-find-a-learner")
    page.fill("#uln", REVOKED_LEARNER)
    page.click("#search button")
    expect(page.locator("h1")).to_contain_text(f"Learner {REVOKED_LEARNER}")
    cards = page.locator("article.registration")
    expect(cards).to_have_count(2)  # OCR's and NCFE's level 4 NVQs
    ocr = page.locator('article[data-qualification="500/9203/0"]')
    expect(ocr.locator("[data-status]")).to_have_text("in progress")
    expect(ocr.locator(".claim-by")).to_have_text("31 December 2029")
    rules = ocr.locator("tr.rule")
    expect(rules.first).to_be_visible()
    assert rules.count() >= 4
    expect(ocr.locator("tr.rule.unmet .description").first).to_contain_text("at least")
    expect(ocr.locator("tr.rule.met").first).to_contain_text("✓ met")
    units = ocr.locator("tr.unit")
    assert units.count() >= 5
    first_urn = units.first.get_attribute("data-urn")
    assert first_urn is not None
    expect(units.first).to_contain_text(catalogue.unit(first_urn).title)
    # The revoked transfer no longer counts: it is what is missing, and the cheapest way.
    missing = ocr.locator(".missing")
    expect(missing).to_contain_text("more credits")
    expect(missing).to_contain_text("GLH")
    expect(missing.locator("li[data-urn]")).not_to_have_count(0)
    shot(page, shots, "03-learner-progress")


def test_moving_the_as_of_date_re_renders_the_status_at_a_shareable_address(
    signed_in: Page, shots: Path
) -> None:
    page = signed_in
    page.goto(page.url + f"learners/{COMPLETER}")
    status = page.locator("article.registration [data-status]")
    expect(status).to_have_text("eligible")
    page.fill("#as_of", "2015-10-01")  # a month after registration: few units yet
    page.click("#controls button")
    expect(status).to_have_text("in progress")
    assert "as_of=2015-10-01" in page.url
    expect(page.locator("#asked")).to_contain_text("1 October 2015")
    shot(page, shots, "04-as-of-earlier")
    shared = page.context.new_page()
    shared.goto(page.url)  # the address alone says what was shown
    expect(shared.locator("article.registration [data-status]")).to_have_text("in progress")
    shared.close()


def test_as_known_at_before_a_late_achievement_takes_its_fact_out_of_the_timeline(
    signed_in: Page, shots: Path
) -> None:
    page = signed_in
    page.goto(page.url + f"learners/{LATE_LEARNER}?as_of=2024-05-01")
    late = page.locator(f'tr.step[data-event-id="{LATE_EVENT_ID}"]')
    status = page.locator("article.registration [data-status]")
    expect(late).to_have_count(1)
    expect(late).to_contain_text("3 June 2024, 17:30:00 BST")  # received
    expect(late).to_contain_text("20 February 2024")  # effective
    expect(status).to_have_text("eligible")
    shot(page, shots, "05-as-of-with-late-achievement")
    page.fill("#as_known_at", "2024-05-01T12:00:00")
    page.click("#controls button")
    expect(late).to_have_count(0)
    expect(status).to_have_text("in progress")
    expect(page.locator("#asked")).to_contain_text("1 May 2024, 12:00:00 BST")
    assert "as_known_at=2024-05-01T12%3A00" in page.url  # chromium drops :00 seconds
    shot(page, shots, "06-as-known-at-before-late-achievement")


def test_the_timeline_shows_decisions_and_the_refusals_their_reasons(
    signed_in: Page, shots: Path
) -> None:
    page = signed_in
    site = page.url
    page.goto(f"{site}learners/{REVOKED_LEARNER}")
    revocation = page.locator("tr.step", has_text="achievement.revoked.v1")
    expect(revocation.locator('[data-decision="eligibility_withdrawn"]')).to_have_count(2)
    expect(page.locator("tr.step", has_text="credit.transferred.v1")).to_contain_text("1 May 2023")
    shot(page, shots, "07-timeline-with-decisions")
    page.goto(f"{site}learners/{HOSTILE_LEARNER}")
    refusal = page.locator("#refusals tr.refusal")
    expect(refusal).to_have_count(1)
    expect(refusal).to_contain_text("unknown_unit")
    expect(refusal).to_contain_text("no unit Z/999/9999 in the catalogue")
    # The publisher's markup is text on the page, never an element or a script.
    expect(refusal.locator("code").first).to_have_text(HOSTILE_ID)
    expect(page.locator("main img")).to_have_count(0)
    assert page.evaluate("document.body.dataset.pwned") is None
    shot(page, shots, "08-refusals")


def test_a_bad_uln_and_an_unknown_learner_are_explained(signed_in: Page, shots: Path) -> None:
    page = signed_in
    page.fill("#uln", "12345")
    page.click("#search button")
    expect(page.locator("#message")).to_contain_text("is not a ULN")
    expect(page.locator("#uln")).to_have_value("12345")
    shot(page, shots, "09-bad-uln")
    page.fill("#uln", make_uln(99))
    page.click("#search button")
    expect(page.locator("h1")).to_have_text("Learner not found")
    expect(page.locator("#message")).to_contain_text(f"no record of learner {make_uln(99)}")
    shot(page, shots, "10-unknown-learner")
