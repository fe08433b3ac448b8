"""The request bodies of the cloud's JSON API as JSON Schemas: one declaration, used both to check a body
(:func:`checked_body`) and to describe it in ``/openapi.json`` (:mod:`system.cloud.openapi`), so the two
cannot drift.

The device API's bodies are checked here with ``jsonschema`` (draft 2020-12, as OpenAPI 3.1 uses). A job
document is checked by :func:`system.decisions.jobs_protocol.validate_job`, the one check the device runs
too; :data:`JOB` is its schema, made from the same table (``OPERATIONS``) and rules. Schemathesis' positive
and negative runs (``tests/test_openapi_fuzz.py``) hold the two to each other.

What JSON Schema cannot say, the description says in words (its ``info``, a schema's ``description``), and
:func:`system.cloud.handling.json_body` refuses: a body over :data:`~system.cloud.handling.MAX_BODY` bytes
(413); nesting deeper than :data:`~system.cloud.handling.MAX_DEPTH`, a lone UTF-16 surrogate,
``NaN``/``Infinity`` (400); a sync whose change ids do not ascend gets a 409 (``unordered``: send a snapshot).
"""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator
from starlette.requests import Request

from system.cloud.handling import Refused, json_body
from system.decisions.jobs_protocol import EVENT_KINDS, MAX_TEXT, OPERATIONS

MAX_CHANGES = 1000
MAX_LOG_LINES = 1000
MAX_LOG_LINE = 2000  # characters of one log line (the device cuts its lines to this)
MAX_LOG_KIND = 200
POSITION = {"type": "integer", "minimum": 0, "maximum": 2 ** 62 - 1}
TIME = {"type": "number", "exclusiveMinimum": -1e13, "exclusiveMaximum": 1e13}

SYNC = {
    "type": "object", "additionalProperties": False, "required": ["base", "last", "changes"],
    "description": "A batch of outbox changes, ids ascending: `base` is the device's acknowledged position, "
                   "`last` its newest change. Changes whose ids do not ascend get a 409 `unordered` (resync).",
    "properties": {
        "base": POSITION, "last": POSITION,
        "changes": {"type": "array", "maxItems": MAX_CHANGES, "items": {
            "type": "object", "additionalProperties": False, "required": ["id", "table", "key", "payload"],
            "properties": {"id": {**POSITION, "minimum": 1}, "table": {"type": "string"}, "key": {"type": "string"},
                           "payload": {"type": ["object", "null"],
                                       "description": "the row (merged into the mirror), or null: deleted"}}}},
    },
}
SNAPSHOT = {
    "type": "object", "additionalProperties": False, "required": ["upto", "rows"],
    "description": "The device's whole store at outbox position `upto`: table -> key -> row.",
    "properties": {"upto": POSITION, "rows": {"type": "object", "additionalProperties": {
        "type": "object", "additionalProperties": {"type": "object"}}}},
}
LOGS = {
    "type": "object", "additionalProperties": False, "required": ["lines"],
    "description": "Log and trace lines, and how many the device dropped since its last batch.",
    "properties": {
        "lines": {"type": "array", "maxItems": MAX_LOG_LINES, "items": {
            "type": "object", "additionalProperties": False, "required": ["at", "kind", "line"],
            "properties": {"at": TIME, "kind": {"type": "string", "maxLength": MAX_LOG_KIND},
                           "line": {"type": "string", "maxLength": MAX_LOG_LINE}}}},
        "dropped": {**POSITION, "default": 0},
    },
}

# A job document's text: 1-MAX_TEXT characters, not all blank, no control character (C0, DEL, C1).
_CONTROL = {"pattern": r"[\x00-\x1f\x7f-\x9f]"}
TEXT = {"type": "string", "minLength": 1, "maxLength": MAX_TEXT, "pattern": r"\S", "not": _CONTROL}
_SECONDS = {"type": "number", "minimum": -1e12, "maximum": 1e12}
_FIELD = {"text": TEXT, "number": _SECONDS, "flag": {"type": "boolean"}}
# The rules of validate_job beyond each field's type (jobs_protocol._rules), field by field.
_NARROWER = {
    "duration": {"exclusiveMinimum": 0}, "for_seconds": {"exclusiveMinimum": 0}, "before": {"minimum": 0},
    "kind": {"enum": list(EVENT_KINDS)}, "sha256": {"pattern": "^[0-9a-f]{64}$"},
    "version": {"pattern": "^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$"}, "url": {"pattern": "^https?://"},
}
_EXTRA = {"snoozeAlert": {"not": {"required": ["until", "for_seconds"]}},
          "updateAlert": {"anyOf": [{"required": ["before"]}, {"required": ["duration"]}]}}


def _operation(name: str, fields: dict[str, tuple[str, bool]]) -> dict:
    properties: dict[str, Any] = {"operation": {"const": name}}
    for field, (kind, _) in fields.items():
        properties[field] = {**_FIELD[kind], **_NARROWER.get(field, {})}
    required = ["operation", *(field for field, (_, needed) in fields.items() if needed)]
    return {"title": name, "type": "object", "additionalProperties": False, "required": required,
            "properties": properties, **_EXTRA.get(name, {})}


JOB = {"description": "A job document: its `operation` and that operation's fields.",
       "oneOf": [_operation(name, fields) for name, fields in OPERATIONS.items()]}

BODIES = {"Sync": SYNC, "Snapshot": SNAPSHOT, "Logs": LOGS, "JobDocument": JOB}

# JSON Schema's integers include 3.0: a handler takes a position as int(value).
_VALIDATORS = {name: Draft202012Validator(schema) for name, schema in BODIES.items()}


def refusal(name: str, body: Any) -> str | None:
    """Why ``body`` is not a ``name`` body (the first error, with where it is), or None."""
    error = next(iter(_VALIDATORS[name].iter_errors(body)), None)
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path)
    return f"{where or 'body'}: {error.message}"[:300]


async def checked_body(request: Request, name: str, error: str) -> dict:
    """The request's JSON body, which must be a ``name`` body (400 ``error`` otherwise)."""
    body = await json_body(request)
    why = refusal(name, body)
    if why is not None:
        raise Refused(400, error, why)
    return body
