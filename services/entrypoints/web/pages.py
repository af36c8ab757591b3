"""The HTML pages: find a learner, then the learner's audit as of a day and a moment."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.datastructures import URL

from services.entrypoints.web.audits import (
    Auditor,
    AuditQuery,
    BadQueryError,
    StoreDownError,
    UnknownLearnerError,
)

__all__ = ["pages_router"]


def pages_router(auditor: Auditor, templates: Jinja2Templates) -> APIRouter:
    # The pages are not part of the OpenAPI document: it describes the JSON.
    router = APIRouter(include_in_schema=False)

    def page(request: Request, name: str, status: int = 200, **context: Any) -> Response:
        return templates.TemplateResponse(request, name, context, status_code=status)

    @router.get("/", name="search", response_class=HTMLResponse)
    def search(
        request: Request,
        uln: str | None = None,
        as_of: str | None = None,
        as_known_at: str | None = None,
    ) -> Response:
        if uln is None:
            return page(request, "search.html", message="", entered="")
        try:
            query = auditor.query(uln, as_of, as_known_at)
        except BadQueryError as error:
            return page(request, "search.html", 400, message=str(error), entered=uln)
        return RedirectResponse(learner_url(request, query, as_of, as_known_at), 303)

    @router.get("/learners/{uln}", name="learner", response_class=HTMLResponse)
    def learner(
        request: Request, uln: str, as_of: str | None = None, as_known_at: str | None = None
    ) -> Response:
        # Plain `def`: run in a worker thread, as the store's reads block.
        try:
            query = auditor.query(uln, as_of, as_known_at)
            audit = auditor.audit(query).to_json()
        except BadQueryError as error:
            return page(request, "problem.html", 400, title="Not understood", message=str(error))
        except UnknownLearnerError as error:
            return page(request, "problem.html", 404, title="Learner not found", message=str(error))
        except StoreDownError as error:
            return page(request, "problem.html", 503, title="Store unavailable", message=str(error))
        json_url = _relative(
            request.url_for("learner_json", uln=query.uln), _given(as_of, as_known_at)
        )
        return page(
            request,
            "learner.html",
            audit=audit,
            query=query,
            json_url=json_url,
            # Shown as the form's values: what was asked, or (as_of) the day it defaulted to.
            as_of=query.as_of.isoformat(),
            known_at=query.known_at,
        )

    return router


def learner_url(
    request: Request, query: AuditQuery, as_of: str | None, as_known_at: str | None
) -> str:
    return _relative(request.url_for("learner", uln=query.uln), _given(as_of, as_known_at))


def _relative(url: URL, params: dict[str, str]) -> str:
    # A path, not the absolute URL url_for gives: right behind a proxy that rewrites hosts.
    query = url.include_query_params(**params).query
    return url.path + (f"?{query}" if query else "")


def _given(as_of: str | None, as_known_at: str | None) -> dict[str, str]:
    """The time controls that were set: a link without them means today and everything."""
    given = {"as_of": as_of, "as_known_at": as_known_at}
    return {k: v for k, v in given.items() if v}
