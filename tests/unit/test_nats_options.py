"""NatsOptions: one description of a NATS connection, turned into nats-py's settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.adapters.nats.connection import (
    NatsOptions,
    connect_settings,
    describe_error,
)


def test_a_comma_separated_url_is_a_list_of_servers() -> None:
    options = NatsOptions.from_url("nats://a:4222, nats://b:4222")
    assert options.servers == ("nats://a:4222", "nats://b:4222")
    assert connect_settings(options)["servers"] == ["nats://a:4222", "nats://b:4222"]


def test_the_password_is_in_no_repr_and_masked_in_the_display_url() -> None:
    options = NatsOptions.from_url("nats://svc:pw1@h:4222", user="u", password="pw2")
    assert "pw1" not in options.display_url and "pw2" not in repr(options)
    assert options.display_url == "nats://svc:***@h:4222"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"nkey_file": Path("a.nk"), "user": "u"}, "one of"),
        ({"creds_file": Path("a.creds"), "nkey_file": Path("a.nk")}, "one of"),
        ({"password": "p"}, "needs a user"),
        ({"tls_cert": Path("c.pem")}, "go together"),
        ({"servers": ()}, "no NATS server"),
    ],
)
def test_contradictory_options_are_refused(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        NatsOptions(**fields)  # type: ignore[arg-type]


def test_each_way_of_authenticating_reaches_nats_py(tmp_path: Path) -> None:
    seed = tmp_path / "service.nk"
    nkey = NatsOptions(nkey_file=seed)
    assert connect_settings(nkey)["nkeys_seed"] == str(seed)

    password = NatsOptions(user="u", password="p")
    assert (connect_settings(password)["user"], connect_settings(password)["password"]) == (
        "u",
        "p",
    )

    assert "tls" not in connect_settings(NatsOptions())


def test_errors_are_described_for_an_operator() -> None:
    assert describe_error(ConnectionRefusedError()).startswith("connection refused")
    assert "authorization violation" in describe_error(Exception("nats: 'Authorization Violation'"))
    assert describe_error(OSError("dial nats://u:secret@h failed")) == "dial nats://u:***@h failed"
