"""structlog, configured once per process: a console on a terminal, JSON lines otherwise.

The standard library's loggers (FastStream, nats-py, eventsourcing) go through the same
renderer, so a log collector reading stdout sees one format.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

from services.adapters.redaction import redact_event

__all__ = ["configure_logging", "logging_settings"]

_configured = False
# As configured here: a child process started afresh (spawn) configures itself the same.
_settings: dict[str, Any] = {}


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
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
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
    """The arguments ``configure_logging`` was given (resolved), for a child process."""
    return dict(_settings)


def _keep(logger: Any, name: str, event: Any) -> Any:
    # The console renderer formats exceptions itself, with colour and locals.
    return event
