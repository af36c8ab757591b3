"""The operators' HTTP endpoint: /healthz, /readyz and /metrics, in the service's own loop.

An ASGI application (Starlette), served by uvicorn as a task of the service's event loop,
so that every answer reads the service's state directly, at one moment, with no locks.
Starlette because FastAPI is built on it and the auditors' web pages are a Starlette or
FastAPI application: ``create_operations_app(state, mount=app)`` serves that application
at ``/`` beside these three paths, on the same port. uvicorn because it is the ASGI
server both projects document, and it can serve an already running loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog
import uvicorn
from prometheus_client.exposition import choose_encoder
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp

from services.entrypoints.operations.metrics import ServiceMetrics
from services.entrypoints.operations.readiness import assess

if TYPE_CHECKING:
    from services.entrypoints.app import RecordsService

__all__ = [
    "DEFAULT_HTTP",
    "OperationsServer",
    "ServiceState",
    "create_operations_app",
    "parse_address",
    "serve_operations",
]

log = structlog.get_logger(__name__)

# What the README suggests: loopback only; a scraper elsewhere goes through a proxy.
DEFAULT_HTTP = "127.0.0.1:8080"


@dataclass(slots=True)
class ServiceState:
    """The service once it runs, and until then why it does not."""

    metrics: ServiceMetrics
    service: RecordsService | None = None
    waiting: str | None = "starting"


def create_operations_app(state: ServiceState, *, mount: ASGIApp | None = None) -> Starlette:
    """/healthz, /readyz, /metrics; and ``mount`` (e.g. the auditors' pages) at ``/``."""

    async def healthz(request: Request) -> Response:
        # Answering at all is the point: the loop the service runs on is not stuck.
        service = state.service
        if service is not None and service.failed.is_set():
            return JSONResponse({"alive": False, "detail": "a loop of the service died"}, 503)
        return JSONResponse({"alive": True})

    async def readyz(request: Request) -> Response:
        readiness = assess(state.service, state.waiting)
        body = readiness.to_json(replica=_replica(state), version=_version())
        return JSONResponse(body, 200 if readiness.ready else 503)

    async def metrics(request: Request) -> Response:
        encoder, content_type = choose_encoder(request.headers.get("accept", ""))
        return Response(encoder(state.metrics.registry), media_type=content_type)

    routes: list[BaseRoute] = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]
    if mount is not None:
        routes.append(Mount("/", app=mount))
    return Starlette(routes=routes)


def parse_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:PORT`` for IPv6) -> (host, port); ValueError if not."""
    host, colon, port = text.rpartition(":")
    if not colon or not host or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"not HOST:PORT: {text!r} (e.g. {DEFAULT_HTTP})")
    return host.strip("[]"), int(port)


class _Uvicorn(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # The service owns SIGINT and SIGTERM (a clean shutdown hands its leases back);
        # uvicorn's own handlers would take them from it.
        yield


class OperationsServer:
    """uvicorn serving ``app`` as a task of the running loop, on a socket bound here, so
    that a port in use is an error to report rather than uvicorn's ``sys.exit``."""

    def __init__(self, app: ASGIApp, host: str, port: int) -> None:
        self.app = app
        self.host = host
        self.requested_port = port
        self._socket: socket.socket | None = None
        self._server: _Uvicorn | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        assert self._socket is not None, "start() first"
        return int(self._socket.getsockname()[1])

    async def start(self) -> None:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.requested_port))
        except OSError:
            sock.close()
            raise
        sock.setblocking(False)
        self._socket = sock
        config = uvicorn.Config(
            self.app,
            log_config=None,  # our logging, configured once (services.entrypoints.logging)
            access_log=False,  # a scrape every few seconds is not news
            lifespan="off",
            timeout_graceful_shutdown=2,
        )
        self._server = _Uvicorn(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]), name="http")
        async with asyncio.timeout(10):
            while not self._server.started:
                if self._task.done():
                    await self._task  # raises what stopped it
                    raise RuntimeError("the HTTP server stopped while starting")
                await asyncio.sleep(0.01)
        log.info("operations.listening", url=f"http://{self._display_host()}:{self.port}")

    async def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._task, 10)
        if self._socket is not None:
            self._socket.close()

    def _display_host(self) -> str:
        return f"[{self.host}]" if ":" in self.host else self.host


async def serve_operations(
    address: str, state: ServiceState, *, mount: ASGIApp | None = None
) -> OperationsServer:
    """The operators' endpoint, listening at ``address`` (HOST:PORT); OSError if it cannot.

    ``mount``: an ASGI application to serve at ``/`` beside it (the auditors' pages).
    """
    host, port = parse_address(address)
    server = OperationsServer(create_operations_app(state, mount=mount), host, port)
    await server.start()
    return server


def _replica(state: ServiceState) -> str | None:
    return state.service.settings.replica if state.service is not None else None


def _version() -> str:
    from services import __version__

    return __version__
