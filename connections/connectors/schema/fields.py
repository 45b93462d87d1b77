"""The scalar types of the unified entities and the configuration every model shares.

The rules are in docs/entities.md: money and quantities are decimal strings, dates and times are
ISO 8601 text and times carry an offset, enumerations are closed, unknown fields are refused.
Each type is checked inside pydantic-core (no Python call per value): the engine validates every
record it stores, so a Python validator here would be paid millions of times a run.
"""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from pydantic_core import core_schema

# strict: an int is not a string, "10" is not an int and 1 is not True. The engine stores the
# connector's dict as it is, so a value the schema would only coerce would be stored wrong.
UNIFIED_CONFIG = ConfigDict(extra="forbid", strict=True)


class Unified(BaseModel):
    """Base of every unified model: unknown fields refused, no coercion."""

    model_config = UNIFIED_CONFIG


class _IsoText:
    """ISO 8601 text, checked twice in Rust: its shape by a pattern (so a number or a Unix time in
    a string is refused), its value by parsing (so 2026-02-30 is refused)."""

    def __init__(self, pattern: str, parsed: core_schema.CoreSchema, json_format: str):
        self.pattern, self.parsed, self.json_format = pattern, parsed, json_format

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> core_schema.CoreSchema:
        return core_schema.chain_schema([core_schema.str_schema(strict=True, pattern=self.pattern), self.parsed])

    def __get_pydantic_json_schema__(self, schema: Any, handler: Any) -> dict:
        return {"type": "string", "format": self.json_format}


IsoDate = Annotated[str, _IsoText(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$", core_schema.date_schema(strict=False), "date")]
# The offset is what places a time: "10:00" alone is a different instant in Houston and Osaka.
OffsetDatetime = Annotated[str, _IsoText(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T",
                                         core_schema.datetime_schema(tz_constraint="aware", strict=False), "date-time")]
# Floats cannot hold 0.1 exactly; money and quantities travel as text and are summed as decimals.
DecimalString = Annotated[str, StringConstraints(pattern=r"^-?[0-9]+(\.[0-9]+)?$"),
                          Field(json_schema_extra={"format": "decimal"})]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Country = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]

PurchaseOrderStatus = Literal["draft", "pending_approval", "approved", "open", "partially_received", "received",
                              "closed", "cancelled"]
PurchaseOrderLineStatus = Literal["open", "partially_received", "received", "closed", "cancelled"]
WorkOrderStatus = Literal["open", "in_progress", "on_hold", "completed", "cancelled"]
WorkOrderPriority = Literal["none", "low", "medium", "high", "urgent"]
WorkOrderType = Literal["preventive", "corrective", "inspection", "emergency", "other"]
AssetStatus = Literal["operational", "down", "maintenance", "standby", "decommissioned"]
ActiveStatus = Literal["active", "inactive"]

# What a type means, in the words docs/entities.md uses; keyed by the JSON schema's format.
FORMAT_NAMES = {"date": "date", "date-time": "date-time with offset", "decimal": "decimal string"}
