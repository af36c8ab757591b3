"""The learner record: facts in, statuses and decisions out."""

from contracts.outbound import DecisionKind
from domain.learner.aggregate import Learner, Receipt
from domain.learner.decisions import Decision, counted_unit, derive_decisions, rejection
from domain.learner.facts import Evidence, Fact, decode_fact
from domain.learner.record import LearnerRecord
from domain.learner.refusals import FactRefusedError, RefusalReason
from domain.learner.status import (
    RegistrationStatus,
    RegistrationView,
    registration_view,
    registration_views,
)
from domain.learner.unattributed import Unattributed, identity_of

__all__ = [
    "Decision",
    "DecisionKind",
    "Evidence",
    "Fact",
    "FactRefusedError",
    "Learner",
    "LearnerRecord",
    "Receipt",
    "RefusalReason",
    "RegistrationStatus",
    "RegistrationView",
    "Unattributed",
    "counted_unit",
    "decode_fact",
    "derive_decisions",
    "identity_of",
    "registration_view",
    "registration_views",
    "rejection",
]
