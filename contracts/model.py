"""The base of every contract model: strict, immutable, closed, serialised canonically."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from contracts.jsonio import canonical_json_bytes

__all__ = ["ContractModel"]


class ContractModel(BaseModel):
    # strict: "5" is not an int and 1 is not a string. extra="forbid": a field
    # we do not know is a publisher's mistake, not something to drop silently.
    # Defaults are required in serialisation schemas because we always write them.
    model_config = ConfigDict(
        strict=True,
        frozen=True,
        extra="forbid",
        json_schema_serialization_defaults_required=True,
    )

    def to_json_bytes(self) -> bytes:
        """Compact JSON with sorted keys: the same model always gives the same bytes."""
        return canonical_json_bytes(self.model_dump(mode="json"))
