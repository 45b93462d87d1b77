"""docs/entities.md, generated from the models so the page cannot drift from what is enforced.

`python manage.py entities_doc` writes it; `--check` (run by the tests) fails when the committed
page differs from what the models say.
"""

from connections.connectors.entities import entity_path
from connections.connectors.schema.entities import ENTITY_MODELS, UnifiedRecord
from connections.connectors.schema.fields import FORMAT_NAMES

INTRO = """\
# Unified entities

<!-- Generated from connections/connectors/schema by `python manage.py entities_doc`; do not edit. -->

Every connector maps its upstream records to these six entities. The models in
`connections/connectors/schema/` are the one definition: the sync engine checks every record a
connector's `normalize()` returns against them before storing it, and the API's record schemas
(`/api/v1/openapi.json`) are generated from them.

## Rules

- **Every field is present** in every record. `or null` marks a field the upstream may have no
  value for; a connector sends `null` then, never leaves the key out (only `deleted_at` is
  PlantSync's to set).
- **Unknown fields are refused.** Upstream fields with no unified home go into `custom_fields`.
- **Money and quantities are decimal strings**, such as `"1250.00"` or `"-3"`: a JSON number (float
  or integer) is refused, since a float cannot hold most decimal amounts exactly.
- **Dates and times are ISO 8601 text.** A date is `2026-11-30`; a date-time carries its UTC offset
  (`2026-11-30T08:15:00+01:00`, or `Z` for UTC). A time without an offset is refused: it would name a
  different instant in each time zone.
- **Enumerations are closed.** An upstream value with no unified equivalent is mapped to the
  nearest unified value, and `upstream_status` keeps the upstream's own code or text.
- **No coercion.** A string is not a number, `"10"` is not an integer and `1` is not `true`.
- A record that breaks a rule is a mapping failure of that record: counted in the run's
  `failed_records`, sampled with the offending field (`lines.0.quantity: ...`) and reported as a
  `RECORD_MAPPING_FAILED` incident. It is never stored half-right; a stored copy from an earlier
  run stays as it was.

The API adds to each record `id` (stable, derived from connection, entity and `remote_id`),
`modified_at` (when PlantSync's copy last changed), `deleted_at` and, with `include_raw=true`,
`raw` (the upstream record as received).
"""


def _type(prop: dict) -> str:
    """A JSON schema property in words."""
    if "anyOf" in prop:
        kinds = [p for p in prop["anyOf"] if p.get("type") != "null"]
        text = " or ".join(_type(p) for p in kinds)
        return f"{text} or null" if len(kinds) < len(prop["anyOf"]) else text
    if "$ref" in prop:
        name = prop["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{name.lower()})"
    if "enum" in prop:
        return "one of " + ", ".join(f"`{value}`" for value in prop["enum"])
    if prop.get("format") in FORMAT_NAMES:
        return FORMAT_NAMES[prop["format"]]
    if prop.get("type") == "array":
        return f"list of {_type(prop['items'])}"
    if "pattern" in prop:
        return f"string matching `{prop['pattern']}`"
    return {"string": "string", "integer": "integer", "object": "object", "boolean": "boolean"}[prop["type"]]


def _table(schema: dict, skip=()) -> list[str]:
    required = set(schema.get("required", ()))
    lines = ["| field | type | description |", "|---|---|---|"]
    for name, prop in schema["properties"].items():
        if name in skip:
            continue
        kind = _type(prop) + ("" if name in required else " (optional)")
        lines.append(f"| `{name}` | {kind} | {prop.get('description', '').replace('|', '/')} |")
    return lines


def entities_markdown() -> str:
    """The page, from the models' JSON schemas."""
    common = UnifiedRecord.model_json_schema()
    out, nested = [INTRO, "## Common fields", "", "Every entity has these, then its own.", "", *_table(common), ""], {}
    for entity, model in ENTITY_MODELS.items():
        schema = model.model_json_schema()
        nested.update(schema.pop("$defs", {}))
        out += [f"## {entity}", "", f"{schema['description']} API: `/api/v1/{entity_path(entity)}`.", "",
                *_table(schema, skip=common["properties"]), ""]
    out += ["## Nested objects", ""]
    for name in sorted(nested):
        out += [f"### {name}", "", nested[name]["description"], "", *_table(nested[name]), ""]
    return "\n".join(out).rstrip("\n") + "\n"
