"""structlog, configured once per process: a console on a terminal, JSON lines otherwise.

The standard library's loggers (FastStream, nats-py, eventsourcing) go through the same
renderer, so a log collector reading stdout sees one format. Every line names the
process that wrote it: the replica, the host and the version (``set_identity``), so lines
of several replicas gathered in one place can be told apart.
"""

from __future__ import annotations

import logging
import socket
import sys
from typing import Any

import structlog

from services.adapters.redaction import redact_event

__all__ = ["apply_logging_settings", "configure_logging", "logging_settings", "set_identity"]

_configured = False
# As configured here: a child process started afresh (spawn) configures itself the same.
_settings: dict[str, Any] = {}
# Module state rather than contextvars: lines from worker threads, stdlib loggers and a
# child process carry it too.
_identity: dict[str, str] = {}


def set_identity(**fields: str) -> None:
    """Fields every log line of this process carries from now on (e.g. ``replica``)."""
    _identity.update(fields)


def _add_identity(logger: Any, name: str, event: Any) -> Any:
    for key, value in _identity.items():
        event.setdefault(key, value)
    return event


def configure_logging(*, level: str = "INFO", json: bool | None = None) -> None:
    """Set up structlog and stdlib logging; later calls change nothing.

    ``json=None`` chooses by whether stderr is a terminal.
    """
    global _configured
    if _configured:
        return
    _configured = True
    as_json = not sys.stderr.isatty() if json is None else json
    _settings.update(level=level, json=as_json)
    from services import __version__

    _identity.setdefault("host", socket.gethostname())
    _identity.setdefault("version", __version__)
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        _add_identity,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if as_json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            *shared,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info if as_json else _keep,
                # Last before rendering: no password or seed reaches a log line.
                redact_event,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


def logging_settings() -> dict[str, Any]:
    """How this process logs (``configure_logging``'s arguments, resolved, and the identity
    every line carries), for a child process to log the same: ``apply_logging_settings``."""
    return {**_settings, "identity": dict(_identity)}


def apply_logging_settings(settings: dict[str, Any]) -> None:
    settings = dict(settings)
    identity = settings.pop("identity", {})
    set_identity(**identity)
    configure_logging(**settings)


def _keep(logger: Any, name: str, event: Any) -> Any:
    # The console renderer formats exceptions itself, with colour and locals.
    return event
