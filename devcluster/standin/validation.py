"""Collection schemas: JSON Schema (draft 4) rules applied on writes, with ArangoDB's levels.

`none` never validates; `new` validates inserts only; `moderate` validates inserts and changes
to documents that were valid before; `strict` validates every insert and change. System
attributes are not part of what the rule sees. Restores (isRestore) are not validated.
"""
from __future__ import annotations

import functools

import jsonschema
import orjson

from . import errors

VALIDATION_FAILED = 1620
VALIDATION_BAD_PARAMETER = 1621
_LEVELS = ("none", "new", "moderate", "strict")
_SYSTEM = ("_key", "_id", "_rev", "_from", "_to")


def normalise(schema: object) -> dict | None:
    """The stored form of a collection's `schema` property (None removes the schema)."""
    if schema is None or schema == {}:
        return None
    if not isinstance(schema, dict) or not isinstance(schema.get("rule"), dict):
        raise errors.ArangoError(VALIDATION_BAD_PARAMETER, "Validation: schema needs a rule object", 400)
    level = schema.get("level", "strict")
    if level not in _LEVELS:
        raise errors.ArangoError(VALIDATION_BAD_PARAMETER, f"Validation: invalid level '{level}'", 400)
    try:
        jsonschema.Draft4Validator.check_schema(schema["rule"])
    except jsonschema.SchemaError as exc:
        raise errors.ArangoError(VALIDATION_BAD_PARAMETER, f"Validation: invalid rule: {exc.message}", 400)
    return {"rule": schema["rule"], "level": level, "message": schema.get("message") or "",
            "type": "json"}


@functools.lru_cache(maxsize=256)
def _validator(rule_json: bytes) -> jsonschema.Draft4Validator:
    return jsonschema.Draft4Validator(orjson.loads(rule_json))


def _valid(schema: dict, doc: dict) -> bool:
    visible = {k: v for k, v in doc.items() if k not in _SYSTEM}
    return _validator(orjson.dumps(schema["rule"], option=orjson.OPT_SORT_KEYS)).is_valid(visible)


def check(schema: dict | None, new: dict, old: dict | None) -> None:
    """Raise 1620 when `new` (replacing `old`, None for an insert) violates the schema."""
    if not schema:
        return
    level = schema["level"]
    if level == "none" or (level == "new" and old is not None):
        return
    if level == "moderate" and old is not None and not _valid(schema, old):
        return
    if not _valid(schema, new):
        raise errors.ArangoError(VALIDATION_FAILED, schema["message"] or "Schema violation", 400)
