"""How the pages say things: plain dates, UK times, unit titles, one line per event.

Registered as Jinja filters on the pages' environment, so templates render the very
JSON the API serves and only the wording lives here.
"""

from __future__ import annotations

import json
from datetime import date, datetime, tzinfo
from typing import Any

import jinja2

from domain.catalogue import Catalogue, Unit

__all__ = ["Presenter", "environment"]

# Each inbound type's effective-date field, and what the event is about.
_EFFECTIVE = ("registered_on", "achieved_on", "withdrawn_on", "issued_on")
_SUBJECT = ("unit", "qualification")
_STATUS_LABELS = {"window_expired": "window expired", "in_progress": "in progress"}


class Presenter:
    def __init__(self, catalogue: Catalogue, zone: tzinfo) -> None:
        self.catalogue = catalogue
        self.zone = zone

    def day(self, value: str | date | None) -> str:
        """``2015-09-01`` as 1 September 2015: no day/month order to misread."""
        if value is None or value == "":
            return "—"
        day = value if isinstance(value, date) else date.fromisoformat(value)
        return f"{day.day} {day:%B %Y}"

    def moment(self, value: str | datetime | None) -> str:
        """A stored moment in UK time, seconds included (arrivals are close together)."""
        if value is None or value == "":
            return "—"
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
        local = moment.astimezone(self.zone)
        return f"{self.day(local.date())}, {local:%H:%M:%S} {local.tzname()}"

    def input_moment(self, value: datetime | None) -> str:
        """The value of a datetime-local field: UK time, no offset."""
        if value is None:
            return ""
        return value.astimezone(self.zone).replace(tzinfo=None).isoformat(timespec="seconds")

    def unit(self, urn: str) -> Unit | None:
        try:
            return self.catalogue.unit(urn)
        except LookupError:  # a unit the catalogue no longer has: show its URN alone
            return None

    def unit_title(self, urn: str) -> str:
        unit = self.unit(urn)
        return unit.title if unit is not None else ""

    def group_title(self, urn: str, qualification_id: str) -> str:
        try:
            group = self.catalogue.qualification(qualification_id).group_of(urn)
        except LookupError:
            return ""
        return group.title or group.id if group is not None else ""

    def after(self, step: dict[str, Any], as_of: str) -> bool:
        """Whether a timeline step lies after the as-of day (effective, or received, later):
        the timeline lists every stored step, the statuses count none of these."""
        effective = step.get("effective_on")
        if effective and effective > as_of:
            return True
        received = step.get("received_at")
        if not received:
            return False
        return datetime.fromisoformat(received).astimezone(self.zone).date().isoformat() > as_of

    @staticmethod
    def status_label(status: str) -> str:
        return _STATUS_LABELS.get(status, status)

    @staticmethod
    def about(event: dict[str, Any] | None) -> dict[str, str]:
        """A fact's type, what it names and its effective date, read defensively: the
        event is what a publisher sent, refused ones included."""
        event = event if isinstance(event, dict) else {}
        data = event.get("data") if isinstance(event.get("data"), dict) else {}
        assert isinstance(data, dict)
        subject = next((str(data[k]) for k in _SUBJECT if data.get(k)), "")
        effective = next((str(data[k]) for k in _EFFECTIVE if data.get(k)), "")
        return {
            "type": str(event.get("type") or "unreadable event"),
            "id": str(event.get("id") or ""),
            "source": str(event.get("source") or ""),
            "subject": subject,
            "effective": effective,
            "revokes": str(data.get("revokes") or ""),
            "reason": str(data.get("reason") or ""),
        }

    @staticmethod
    def count(n: int | None, measure: str) -> str:
        """``1 unit``, ``20 credits``."""
        if n is None:
            return ""
        return f"{n} {measure.removesuffix('s') if n == 1 else measure}"

    @staticmethod
    def pretty(value: Any) -> str:
        return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)


def environment(templates: str, presenter: Presenter) -> jinja2.Environment:
    # autoescape=True everywhere, not by file extension: event ids, sources, details and
    # whole events are whatever a publisher sent.
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("services.entrypoints.web", templates),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    for name in (
        "day",
        "moment",
        "unit",
        "unit_title",
        "group_title",
        "status_label",
        "after",
        "about",
        "count",
        "pretty",
    ):
        env.filters[name] = getattr(presenter, name)
    env.globals["input_moment"] = presenter.input_moment
    env.globals["href"] = href
    return env


@jinja2.pass_context
def href(context: Any, path: str) -> str:
    """A path on this app, wherever it is mounted (the sign-in page is rendered before
    routing, where url_for cannot be used)."""
    root: str = context["request"].scope.get("root_path", "")
    return root + path
