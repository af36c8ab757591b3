"""Stable identifiers of the committed JSON Schemas, and of each event's data schema.

A schema's ``$id`` is a URN: it names the contract, not a place to fetch it from, so
it never breaks when a host moves. An event's data follows the subschema at
``/properties/data`` of its event's schema, so ``<schema $id>#/properties/data`` (a
JSON Pointer fragment, which every JSON Schema dialect resolves) identifies it: what
an outbound event puts in ``dataschema`` (CloudEvents 1.0). The pointer names no
class, so renaming a model never changes it.
"""

from __future__ import annotations

from typing import Final

__all__ = ["DATA_POINTER", "SCHEMA_ID_PREFIX", "data_schema_id", "schema_id"]

SCHEMA_ID_PREFIX: Final = "urn:learner-records:schema:"
DATA_POINTER: Final = "/properties/data"


def schema_id(message: str) -> str:
    """The ``$id`` of ``contracts/schemas/<message>.json``."""
    return SCHEMA_ID_PREFIX + message


def data_schema_id(event_type: str) -> str:
    """The URI of the schema an event's ``data`` follows (its ``dataschema``)."""
    return f"{schema_id(event_type)}#{DATA_POINTER}"
