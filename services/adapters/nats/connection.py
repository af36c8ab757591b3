"""The one way to open a NATS connection: options (servers, credentials, TLS) and connect.

``connect`` is for long-running work: it never gives up reconnecting and logs through
structlog, throttled, with passwords redacted. ``connect_once`` is for a command: one
short try, then ``NatsUnavailableError`` with a message fit for one line on stderr.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nats
import nats.errors
import structlog
from nats.aio.client import Client

from services.adapters.redaction import redact

__all__ = [
    "DEFAULT_URL",
    "RECONNECT_FOREVER",
    "ConnectionEvents",
    "NatsOptions",
    "NatsUnavailableError",
    "connect",
    "connect_once",
    "connect_settings",
    "describe_error",
]

DEFAULT_URL = "nats://127.0.0.1:4222"
# A failing connection is retried every reconnect_time_wait; one log line per failure
# would be two a second for as long as an outage lasts.
_REPEAT_LOG_AFTER_S = 30.0

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class NatsOptions:
    """Where NATS is and who we are there. At most one of creds, nkey, user/password."""

    servers: tuple[str, ...] = (DEFAULT_URL,)
    creds_file: Path | None = None  # a JWT .creds file (operator mode)
    nkey_file: Path | None = None  # an nkey seed file (what the embedded default uses)
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    tls_ca: Path | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    name: str = "learner-records"

    def __post_init__(self) -> None:
        if not self.servers:
            raise ValueError("no NATS server given")
        ways = [self.creds_file is not None, self.nkey_file is not None, self.user is not None]
        if sum(ways) > 1:
            raise ValueError("give one of a creds file, an nkey seed file, or a user")
        if self.password is not None and self.user is None:
            raise ValueError("a NATS password needs a user")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("a TLS client certificate and its key go together")

    @classmethod
    def from_url(cls, url: str, **fields: Any) -> NatsOptions:
        """``nats://a:4222,nats://b:4222`` -> one option per server."""
        servers = tuple(part.strip() for part in url.split(",") if part.strip())
        return cls(servers=servers, **fields)

    @property
    def url(self) -> str:
        return ",".join(self.servers)

    @property
    def display_url(self) -> str:
        """The servers with any password masked: for logs and messages."""
        return redact(self.url)

    def replace(self, **changes: Any) -> NatsOptions:
        return dataclasses.replace(self, **changes)

    def ssl_context(self) -> ssl.SSLContext | None:
        """A context verifying the server against ``tls_ca`` (else the system's CAs)."""
        if self.tls_ca is None and self.tls_cert is None:
            return None  # a tls:// URL still gets nats-py's default context
        context = ssl.create_default_context(
            cafile=str(self.tls_ca) if self.tls_ca is not None else None
        )
        if self.tls_cert is not None and self.tls_key is not None:
            context.load_cert_chain(str(self.tls_cert), str(self.tls_key))
        return context


def connect_settings(options: NatsOptions) -> dict[str, Any]:
    """The keyword arguments of ``nats.connect`` for these servers, credentials and TLS."""
    settings: dict[str, Any] = {"servers": list(options.servers), "name": options.name}
    if options.creds_file is not None:
        settings["user_credentials"] = str(options.creds_file)
    if options.nkey_file is not None:
        settings["nkeys_seed"] = str(options.nkey_file)
    if options.user is not None:
        settings["user"] = options.user
        if options.password is not None:
            settings["password"] = options.password
    context = options.ssl_context()
    if context is not None:
        settings["tls"] = context
    return settings


class ConnectionEvents:
    """nats-py's connection callbacks, logged through structlog, so every connection
    reports an outage the same way.

    A failing connection is retried every ``reconnect_time_wait``; its error is logged
    at the first failure, when it changes, and every 30 s while it lasts, never as a
    traceback per attempt.
    """

    def __init__(
        self,
        options: NatsOptions,
        *,
        client: Callable[[], Client | None] = lambda: None,
        on_reconnected: Callable[[], None] = lambda: None,
    ) -> None:
        self._options = options
        self._client = client
        self._on_reconnected = on_reconnected
        self._throttle = _Throttle()

    def callbacks(self) -> dict[str, Any]:
        return {
            "error_cb": self.error,
            "disconnected_cb": self.disconnected,
            "reconnected_cb": self.reconnected,
            "closed_cb": self.closed,
        }

    async def error(self, exc: Exception) -> None:
        message = describe_error(exc)
        if self._throttle.due(message):
            log.warning(
                "nats.connection_problem",
                servers=self._options.display_url,
                error=message,
                retrying=True,
            )

    async def disconnected(self) -> None:
        client = self._client()
        if client is None or not client.is_closed:  # closing reports a disconnection too
            log.warning("nats.disconnected", servers=self._options.display_url)

    async def reconnected(self) -> None:
        self._throttle.reset()
        client = self._client()
        url = client.connected_url.geturl() if client and client.connected_url else ""
        log.info("nats.reconnected", url=redact(url))
        self._on_reconnected()

    async def closed(self) -> None:
        log.info("nats.closed")


# Reconnect for ever, soon: nats-py's defaults give up after 60 attempts, and an outage
# of any length must not end the service.
RECONNECT_FOREVER: dict[str, Any] = {
    "allow_reconnect": True,
    "max_reconnect_attempts": -1,
    "reconnect_time_wait": 0.5,
}


async def connect(options: NatsOptions, **overrides: Any) -> Client:
    """Connect, and reconnect for ever, logging through ConnectionEvents.

    A first connection that fails is retried the same way (nats-py does so when
    ``max_reconnect_attempts`` is -1), so a service started before its NATS waits for it.
    """
    client: Client | None = None
    events = ConnectionEvents(options, client=lambda: client)
    settings = RECONNECT_FOREVER | events.callbacks() | connect_settings(options)
    client = await nats.connect(**(settings | overrides))
    return client


class NatsUnavailableError(ConnectionError):
    """A command could not connect: ``str()`` is one line saying where and why."""

    def __init__(self, options: NatsOptions, cause: BaseException) -> None:
        self.cause = cause
        super().__init__(
            f"cannot connect to NATS at {options.display_url}: {describe_error(cause)}"
        )


async def connect_once(options: NatsOptions, *, timeout: float = 5.0, **overrides: Any) -> Client:
    """One short attempt, for a command: NatsUnavailableError within ``timeout`` seconds."""
    problems: list[BaseException] = []

    async def remember(exc: Exception) -> None:
        problems.append(exc)  # reported once, by the caller, not as a traceback per try

    settings: dict[str, Any] = {
        "allow_reconnect": False,
        # nats-py's 0 means "try forever": 1 is one retry per server, then NoServersError.
        "max_reconnect_attempts": 1,
        "reconnect_time_wait": 0.2,
        "connect_timeout": max(0.5, timeout / 2),
        "error_cb": remember,
    }
    try:
        async with asyncio.timeout(timeout):
            return await nats.connect(**(settings | connect_settings(options) | overrides))
    except (TimeoutError, OSError, nats.errors.Error) as error:
        raise NatsUnavailableError(options, _first_telling(problems, error)) from None


def describe_error(exc: BaseException) -> str:
    """What went wrong, in words an operator can act on; no password."""
    if (
        isinstance(exc, nats.errors.AuthorizationError)
        or "authorization violation" in str(exc).lower()
    ):
        return "authorization violation: the server refused these credentials"
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed: {exc.reason or exc}"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is nats-server running there?)"
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    if isinstance(exc, nats.errors.NoServersError):
        return "no server could be reached"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return redact(str(exc) or type(exc).__name__)


def _first_telling(problems: list[BaseException], fallback: BaseException) -> BaseException:
    """The most useful cause: refused credentials over a generic 'no servers'."""
    for problem in problems:
        if "authorization" in describe_error(problem):
            return problem
    for problem in problems:
        if not isinstance(problem, nats.errors.NoServersError):
            return problem
    return fallback


@dataclass(slots=True)
class _Throttle:
    """True for a new message, or for the same one again after a while."""

    last_message: str = ""
    last_at: float = -_REPEAT_LOG_AFTER_S

    def due(self, message: str) -> bool:
        now = time.monotonic()
        if message != self.last_message or now - self.last_at >= _REPEAT_LOG_AFTER_S:
            self.last_message, self.last_at = message, now
            return True
        return False

    def reset(self) -> None:
        self.last_message, self.last_at = "", -_REPEAT_LOG_AFTER_S
