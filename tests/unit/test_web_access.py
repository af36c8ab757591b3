"""The auditor token: where it comes from, and that nothing is shown without it."""

from __future__ import annotations

import stat
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from contracts.uln import make_uln
from domain.learner import LearnerEvent
from services.adapters.catalogue_files import load_catalogue
from services.application.clock import FixedClock
from services.entrypoints.web import TOKEN_ENV, auditor_token, create_auditor_app
from services.entrypoints.web.access import COOKIE
from services.entrypoints.web.listen import is_loopback, parse_http_address

TOKEN = "s3cret-token"
LEARNER = make_uln(5)


class NoLearners:
    """A reader of an empty store: a page that gets past the gate answers 404."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def history(self, uln: str) -> Sequence[LearnerEvent]:
        self.asked.append(uln)
        return []


@pytest.fixture
def reader() -> NoLearners:
    return NoLearners()


@pytest.fixture
def client(reader: NoLearners) -> TestClient:
    app = create_auditor_app(reader, load_catalogue(), FixedClock(date(2025, 1, 15)), token=TOKEN)
    return TestClient(app, follow_redirects=False)


def test_a_token_is_generated_once_privately_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "var" / "web" / "auditor.token"
    first = auditor_token(path, env={})
    assert len(first) >= 40
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert auditor_token(path, env={}) == first


def test_the_environment_token_wins_and_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "auditor.token"
    assert auditor_token(path, env={TOKEN_ENV: " from-env \n"}) == "from-env"
    assert not path.exists()


def test_a_token_file_readable_by_others_is_made_private(tmp_path: Path) -> None:
    path = tmp_path / "auditor.token"
    path.write_text("kept\n")
    path.chmod(0o644)
    assert auditor_token(path, env={}) == "kept"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    "path", ["/", f"/learners/{LEARNER}", f"/learners/{LEARNER}?as_of=2020-01-01"]
)
def test_pages_without_the_token_show_a_sign_in_form_and_no_record(
    client: TestClient, reader: NoLearners, path: str
) -> None:
    response = client.get(path)
    assert response.status_code == 401
    assert 'id="signin"' in response.text
    assert reader.asked == []  # the store was never read


@pytest.mark.parametrize("path", [f"/api/learners/{LEARNER}", "/openapi.json"])
def test_the_json_without_the_token_is_a_bearer_challenge(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "token" in response.json()["detail"]


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Cookie": f"{COOKIE}=wrong"},
    ],
)
def test_a_wrong_token_is_refused(
    client: TestClient, reader: NoLearners, headers: dict[str, str]
) -> None:
    assert client.get(f"/api/learners/{LEARNER}", headers=headers).status_code == 401
    assert reader.asked == []


def test_the_bearer_token_or_the_cookie_lets_a_client_through(
    client: TestClient, reader: NoLearners
) -> None:
    bearer = client.get(f"/api/learners/{LEARNER}", headers={"Authorization": f"Bearer {TOKEN}"})
    assert bearer.status_code == 404  # through the gate; the store has no such learner
    cookie = client.get(f"/learners/{LEARNER}", headers={"Cookie": f"{COOKIE}={TOKEN}"})
    assert cookie.status_code == 404
    assert reader.asked == [LEARNER, LEARNER]


def test_a_link_with_the_token_sets_the_cookie_and_drops_the_token_from_the_address(
    client: TestClient,
) -> None:
    response = client.get(f"/learners/{LEARNER}?as_of=2024-05-01&token={TOKEN}")
    assert response.status_code == 303
    assert response.headers["location"].endswith(f"/learners/{LEARNER}?as_of=2024-05-01")
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}={TOKEN};")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert client.get(response.headers["location"]).status_code == 404  # signed in now


def test_a_link_with_a_wrong_token_is_refused(client: TestClient) -> None:
    response = client.get(f"/?token={TOKEN[:-1]}")
    assert response.status_code == 401
    assert "not the auditor token" in response.text
    assert "set-cookie" not in response.headers


def test_the_sign_in_form_sets_the_cookie_and_returns_to_the_page_asked_for(
    client: TestClient,
) -> None:
    wanted = f"/learners/{LEARNER}?as_of=2024-05-01"
    refused = client.get(wanted)
    assert f'name="next" value="{wanted}"' in refused.text
    response = client.post("/login", data={"token": TOKEN, "next": wanted})
    assert response.status_code == 303
    assert response.headers["location"] == wanted
    assert client.get(wanted).status_code == 404  # signed in


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "\\\\evil", "x"])
def test_the_sign_in_form_never_redirects_to_another_site(client: TestClient, target: str) -> None:
    response = client.post("/login", data={"token": TOKEN, "next": target})
    assert response.headers["location"] == "/"


def test_the_sign_in_form_refuses_a_wrong_token_and_still_returns_to_the_page_asked_for(
    client: TestClient,
) -> None:
    wanted = f"/learners/{LEARNER}"
    response = client.post("/login", data={"token": "nope", "next": wanted})
    assert response.status_code == 401
    assert "set-cookie" not in response.headers
    assert f'name="next" value="{wanted}"' in response.text


def test_without_a_token_configured_the_pages_are_open(reader: NoLearners) -> None:
    app = create_auditor_app(reader, load_catalogue(), FixedClock(date(2025, 1, 15)), token=None)
    assert TestClient(app).get(f"/api/learners/{LEARNER}").status_code == 404


def test_every_answer_carries_the_security_headers(client: TestClient) -> None:
    for response in (client.get("/"), client.get("/static/style.css")):
        assert "default-src 'none'" in response.headers["content-security-policy"]
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["cache-control"] == "no-store"
    assert client.get("/static/style.css").status_code == 200  # the sign-in page's style


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:8081", ("127.0.0.1", 8081)),
        ("[::1]:0", ("::1", 0)),
        ("localhost:80", ("localhost", 80)),
    ],
)
def test_http_addresses_are_read(text: str, expected: tuple[str, int]) -> None:
    assert parse_http_address(text) == expected


@pytest.mark.parametrize("text", ["8081", ":8081", "127.0.0.1:", "127.0.0.1:http", "h:70000"])
def test_bad_http_addresses_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="HOST:PORT"):
        parse_http_address(text)


def test_only_loopback_addresses_count_as_loopback() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.0.2.1")
    assert not is_loopback("example.org")
