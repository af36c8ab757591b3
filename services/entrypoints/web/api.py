"""The JSON: ``GET /api/learners/{uln}``, the audit the learner's page shows."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse

from services.entrypoints.web.audits import (
    Auditor,
    BadQueryError,
    StoreDownError,
    UnknownLearnerError,
)
from services.entrypoints.web.schema import AuditDocument, Problem

__all__ = ["api_router"]


def api_router(auditor: Auditor) -> APIRouter:
    router = APIRouter(prefix="/api", tags=["audit"])

    @router.get(
        "/learners/{uln}",
        name="learner_json",
        operation_id="learner_audit",
        summary="A learner's audit: timeline, registrations and refusals",
        description=(
            "What `learner-records audit ULN --json` prints. `as_of` is valid time (statuses "
            "from facts effective by that day; default today, in UK days); `as_known_at` is "
            "transaction time (only what the service had stored by that moment; a moment "
            "without an offset is UK time). They combine."
        ),
        response_model=AuditDocument,
        responses={
            400: {"model": Problem, "description": "not a ULN, date or moment"},
            401: {"model": Problem, "description": "no auditor token, or the wrong one"},
            404: {"model": Problem, "description": "no record of the learner"},
            503: {"model": Problem, "description": "the store cannot be read now"},
        },
    )
    def learner(
        uln: Annotated[str, Path(description="the learner's ULN", examples=["1000000018"])],
        as_of: Annotated[
            str | None, Query(description="YYYY-MM-DD", examples=["2025-09-01"])
        ] = None,
        as_known_at: Annotated[
            str | None,
            Query(description="ISO 8601 moment", examples=["2025-03-03T12:00:00Z"]),
        ] = None,
    ) -> Any:
        # Plain `def`: FastAPI runs it in a worker thread, where the store's blocking
        # reads belong (never on the event loop the health checks also answer on).
        try:
            query = auditor.query(uln, as_of, as_known_at)
            return JSONResponse(auditor.audit(query).to_json())
        except BadQueryError as error:
            return JSONResponse({"detail": str(error)}, status_code=400)
        except UnknownLearnerError as error:
            return JSONResponse({"detail": str(error)}, status_code=404)
        except StoreDownError as error:
            return JSONResponse({"detail": str(error)}, status_code=503)

    return router
