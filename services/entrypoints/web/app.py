"""The auditors' app: the pages and their JSON, behind the auditor token.

``create_auditor_app`` builds an ASGI app on any ``LearnerReader``: ``serve --http``
mounts it at ``/`` beside its health and metrics routes, ``learner-records web`` serves
it alone on a copy of a store, and the tests run it on a store of their own.

FastAPI rather than bare Starlette: it is Starlette underneath (the same routing,
templates and middleware), and it derives the OpenAPI document of the JSON from the
typed routes and pydantic models (``/openapi.json``), which we would otherwise write by
hand and keep in step. Its interactive /docs page is off: it loads scripts from a CDN,
which neither the pages' security policy nor an offline auditor allows.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from domain.catalogue import Catalogue
from services import __version__
from services.application.clock import Clock
from services.entrypoints.web.access import TokenGate
from services.entrypoints.web.api import api_router
from services.entrypoints.web.audits import Auditor, LearnerReader
from services.entrypoints.web.pages import pages_router
from services.entrypoints.web.present import Presenter, environment

__all__ = ["create_auditor_app"]

PACKAGE = "services.entrypoints.web"

# Nothing but this origin's stylesheet and forms: a script that slipped past escaping
# would not run. Records are personal: never cached, never framed, no referrer sent.
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cache-control": "no-store",
}


def create_auditor_app(
    reader: LearnerReader, catalogue: Catalogue, clock: Clock, *, token: str | None
) -> FastAPI:
    """The pages and JSON on ``reader``; ``token=None`` leaves them open (loopback only:
    the ``web`` command allows it nowhere else)."""
    auditor = Auditor(reader, catalogue, clock)
    templates = Jinja2Templates(env=environment("templates", Presenter(catalogue, auditor.zone)))
    app = FastAPI(
        title="learner-records: audits for auditors and centres",
        version=__version__,
        description=(
            "Read-only. A learner's stored history as a timeline of facts and decisions, "
            "every registration's status and progress by rule, and the refusals naming "
            "the learner; as of any day and as known at any moment. Send the auditor "
            "token as `Authorization: Bearer TOKEN`."
        ),
        docs_url=None,
        redoc_url=None,
    )
    app.include_router(pages_router(auditor, templates))
    app.include_router(api_router(auditor))
    app.mount("/static", StaticFiles(packages=[(PACKAGE, "static")]), name="static")
    if token is not None:

        def sign_in(request: Request, message: str, status: int, back: str) -> Response:
            root = request.scope.get("root_path", "")
            context = {"message": message, "next": back, "login_path": f"{root}/login"}
            return templates.TemplateResponse(request, "signin.html", context, status_code=status)

        app.add_middleware(TokenGate, token=token, sign_in=sign_in)
    app.add_middleware(SecurityHeaders)
    return app


class SecurityHeaders:
    """Adds SECURITY_HEADERS to every response, refusals and errors included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                for name, value in SECURITY_HEADERS.items():
                    if name.encode() not in present:
                        headers.append((name.encode(), value.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
