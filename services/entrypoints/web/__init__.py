"""The read-only pages for auditors and centres, and the same data as JSON (issue 13)."""

from services.entrypoints.web.access import TOKEN_ENV, auditor_token
from services.entrypoints.web.app import create_auditor_app
from services.entrypoints.web.audits import LearnerReader

__all__ = ["TOKEN_ENV", "LearnerReader", "auditor_token", "create_auditor_app"]
