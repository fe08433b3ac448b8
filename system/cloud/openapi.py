"""``/openapi.json``: the cloud's API described as OpenAPI 3.1, made from the app's own routes.

Each endpoint says what is its own in a short YAML block at the end of its docstring (after ``---``)::

    summary: what it does
    auth: none | device | session | session-write
    body: Sync            # a schema of system.cloud.bodies, or metrics-text, login-form, logout-form
    query: {since: number}
    responses: {200: Status, 409: SyncResync}   # a schema of RESPONSES, or html, redirect, text

and :func:`document` adds what every endpoint of a kind shares, as the handlers really answer it: the
path parameters (``{device}``), 400 and 413 for a body (:func:`system.cloud.handling.json_body`), 400
for a number in the query, 401 and 403 for each credential (:mod:`system.cloud.auth`), 404 for an
unknown ``{device}`` of the dashboard API. Request bodies are :data:`system.cloud.bodies.BODIES`, the
schemas the handlers check them with. ``tests/test_openapi.py`` holds routes and description to each
other; ``tests/test_openapi_fuzz.py`` runs Schemathesis against both.
"""

from __future__ import annotations

from typing import Any, Iterable

import yaml
from starlette.routing import BaseRoute, Mount, Route

from system.cloud.bodies import BODIES
from system.cloud.handling import MAX_BODY, MAX_DEPTH
from system.decisions.jobs_protocol import STATES

NUMBER = {"type": "number"}
NULLABLE_TIME = {"type": ["number", "null"]}
COUNT = {"type": "integer", "minimum": 0}


def _object(required: dict[str, Any], description: str) -> dict:
    return {"type": "object", "description": description, "required": list(required), "properties": required}


_JOB = _object({"id": {"type": "string"}, "device": {"type": "string"}, "document": {"type": "object"},
                "status": {"enum": list(STATES)}, "version": COUNT, "created": NUMBER, "updated": NUMBER,
                "details": {"type": "object"}, "created_by": {"type": ["string", "null"]}}, "a job")
_ALERT = _object({"id": {"type": "string"}, "at": NUMBER, "until": NUMBER, "duration": NUMBER,
                  "origin": {"type": "string"}, "snoozed": {"type": "boolean"}, "snoozed_until": NULLABLE_TIME,
                  "outcome": {"type": ["string", "null"]}, "lit": {"type": "boolean"}}, "an alert")
_EVENT = _object({"key": {"type": "string"}, "title": {"type": "string"}, "start": NUMBER, "kind": {"type": "string"},
                  "status": {"type": "string"}, "cancelled": {"type": "boolean"},
                  "alerts": {"type": "array", "items": _ALERT}}, "an event")
_ALARM = _object({"raised": {"type": "boolean"}, "since": NULLABLE_TIME, "history": {"type": "array", "items": _object(
    {"at": NUMBER, "state": {"enum": ["raised", "cleared"]}, "detail": {"type": "string"}}, "a change")}},
    "the heartbeat alarm")
_EXECUTION = _object({"jobId": {"type": "string"}, "thingName": {"type": "string"}, "status": {"enum": list(STATES)},
                      "jobDocument": {"type": "object"}, "queuedAt": NUMBER, "lastUpdatedAt": NUMBER,
                      "startedAt": NULLABLE_TIME, "versionNumber": COUNT, "executionNumber": COUNT,
                      "statusDetails": {"type": "object"}}, "a job execution (AWS IoT Jobs)")

RESPONSES: dict[str, dict] = {
    "Error": _object({"error": {"type": "string"}, "detail": {"type": "string"}},
                     "refused: `error` is a stable code, `detail` says what to fix"),
    "Health": _object({"ok": {"const": True}}, "the service runs"),
    "OpenAPI": {"type": "object", "description": "this description"},
    "Me": _object({"user": {"type": "string"}, "csrf": {"type": "string"}, "timezone": {"type": "string"}},
                  "the user, the session's CSRF token (send it as X-CSRF-Token) and the club's time zone"),
    "Devices": _object({"devices": {"type": "array", "items": {"type": "string"}}}, "the registered devices"),
    "Events": _object({"now": NUMBER, "events": {"type": "array", "items": _EVENT}}, "upcoming events"),
    "Job": _JOB,
    "Jobs": _object({"jobs": {"type": "array", "maxItems": 200, "items": {
        **_JOB, "required": [*_JOB["required"], "history"],
        "properties": {**_JOB["properties"], "history": {"type": "array", "items": {"type": "object"}}}}}},
        "the device's jobs, pending first, at most 200"),
    "Metrics": _object({"samples": {"type": "array", "items": _object(
        {"at": NUMBER, "name": {"type": "string"}, "value": NUMBER}, "a sample")}, "last_heartbeat": NULLABLE_TIME},
        "samples, oldest first"),
    "Alarm": _ALARM,
    "Status": _object({"applied": COUNT, "device_last": COUNT, "at": NULLABLE_TIME, "resyncs": COUNT, "behind": COUNT,
                       "now": NUMBER, "since_sync": NULLABLE_TIME, "last_heartbeat": NULLABLE_TIME,
                       "alarm": {"type": "boolean"}}, "sync position and lag, heartbeat, alarm"),
    "LogLines": _object({"lines": {"type": "array", "items": _object(
        {"at": NUMBER, "kind": {"type": "string"}, "line": {"type": "string"}}, "a line")}, "dropped": COUNT},
        "lines, newest first, and how many the device dropped"),
    "Mirror": {"type": "object", "description": "table -> key -> row",
               "additionalProperties": {"type": "object", "additionalProperties": {"type": "object"}}},
    "SyncApplied": _object({"applied": COUNT}, "applied up to this outbox position"),
    "SyncResync": _object({"applied": COUNT, "resync": {"enum": ["mirror_behind", "mirror_ahead", "gap", "unordered"]}},
                          "the mirror can't take this batch: send a snapshot (changes before a gap are kept)"),
    "SnapshotApplied": _object({"applied": COUNT}, "the mirror is the snapshot"),
    "Stored": _object({"stored": COUNT}, "stored"),
    "Executions": _object({"jobs": {"type": "array", "items": _EXECUTION}}, "pending job executions"),
}

# The Prometheus text format as the device pushes it: one "name value" line per sample.
METRICS_TEXT = {"type": "string", "pattern": r"^([a-zA-Z_:][a-zA-Z0-9_:]{0,63} -?[0-9]{1,14}(\.[0-9]{1,6})?\n)*"
                                             r"[a-zA-Z_:][a-zA-Z0-9_:]{0,63} -?[0-9]{1,14}(\.[0-9]{1,6})?\n?$",
                "description": "Prometheus text exposition format (comments, TYPE and labels are read too); at "
                               "least one sample, every value finite and under 1e15 in size."}
FORMS = {
    "login-form": _object({"csrf": {"type": "string"}, "username": {"type": "string"},
                           "password": {"type": "string"}}, "the login form (csrf: the token in the form's page)"),
    "logout-form": {"type": "object", "properties": {"csrf": {"type": "string"}},
                    "description": "csrf: the session's token (403 without it while a session lives)"},
}
SECURITY_SCHEMES = {
    "device": {"type": "http", "scheme": "bearer",
               "description": "the device's token (`hilsim cloud --add-device`), on its own /api/device/{device}/ only"},
    "session": {"type": "apiKey", "in": "cookie", "name": "session",
                "description": "the signed session cookie that POST /login sets"},
    "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token",
             "description": "the session's CSRF token (GET /api/me), on every state-changing dashboard request"},
}
SECURITY = {"none": [], "device": [{"device": []}], "session": [{"session": []}],
            "session-write": [{"session": [], "csrf": []}]}
_CREDENTIAL_REFUSALS = {
    "device": {401: "no or unknown device token", 403: "a device token used under another device's name"},
    "session": {401: "not logged in", 403: "a device token on the dashboard API"},
    "session-write": {401: "not logged in", 403: "a missing or wrong X-CSRF-Token (or a device token)"},
}
STATIC = {"summary": "The dashboard's static files (HTML, JS, CSS).", "auth": "none",
          "responses": {200: "file", 404: "text"}}


def document(routes: Iterable[BaseRoute]) -> dict:
    """The OpenAPI document of ``routes`` (the app's)."""
    paths: dict[str, dict] = {}
    for path, method, spec in operations(routes):
        paths.setdefault(path, {})[method.lower()] = _operation(path, method, spec)
    return {"openapi": "3.1.0",
            "info": {"title": "hilsim cloud", "version": "1",
                     "description": f"Bodies: at most {MAX_BODY} bytes, JSON nested at most {MAX_DEPTH} deep, "
                                    "strings valid Unicode (no lone surrogates), no NaN or Infinity."},
            "paths": paths,
            "components": {"schemas": _schemas(), "securitySchemes": SECURITY_SCHEMES}}


def _schemas() -> dict:
    clash = set(BODIES) & set(RESPONSES)
    if clash:
        raise ValueError(f"a request and a response schema share the name {sorted(clash)}")
    return {**BODIES, **RESPONSES}


def operations(routes: Iterable[BaseRoute]) -> list[tuple[str, str, dict]]:
    """(path, method, the endpoint's YAML block) of every route; HEAD goes with GET, as HTTP has it."""
    found = []
    for route in routes:
        if isinstance(route, Mount) and route.routes == []:
            found.append((route.path + "/{path}", "GET", STATIC))
        elif isinstance(route, Route) and route.include_in_schema:
            by_method = getattr(route.endpoint, "by_method", None)
            for method in sorted((route.methods or {"GET"}) - {"HEAD"}):
                endpoint = by_method[method] if by_method else route.endpoint
                found.append((route.path, method, _spec(endpoint)))
    return found


def _spec(endpoint: Any) -> dict:
    doc = endpoint.__doc__ or ""
    if "---" not in doc:
        raise ValueError(f"{endpoint.__name__}: its docstring has no '---' block for /openapi.json")
    return yaml.safe_load(doc.split("---", 1)[1])


def _operation(path: str, method: str, spec: dict) -> dict:
    auth = spec.get("auth", "none")
    responses = {int(code): _response(kind) for code, kind in spec["responses"].items()}
    op: dict[str, Any] = {"summary": spec["summary"], "operationId": f"{method.lower()}{_camel(path)}",
                          "security": SECURITY[auth]}
    params = [_path_param(name) for name in _path_names(path)]
    params += [{"name": name, "in": "query", "required": False, "schema": {"type": kind}}
               for name, kind in spec.get("query", {}).items()]
    if any(kind == "number" for kind in spec.get("query", {}).values()):
        responses.setdefault(400, _response("Error", "a query number that is not a number"))
    if params:
        op["parameters"] = params
    body = spec.get("body")
    if body:
        op["requestBody"] = _body(body)
        if body not in FORMS:
            responses.setdefault(400, _response("Error", "not JSON, not such a body, nested too deep, or not text"))
            responses.setdefault(413, _response("Error", f"a body over {MAX_BODY} bytes"))
    for code, why in _CREDENTIAL_REFUSALS.get(auth, {}).items():
        responses.setdefault(code, _response("Error", why))
    if "{device}" in path and auth.startswith("session"):
        responses.setdefault(404, _response("Error", "no such device"))
    op["responses"] = {str(code): responses[code] for code in sorted(responses)}
    return op


def _response(kind: str, description: str = "") -> dict:
    if kind == "html":
        return {"description": description or "an HTML page", "content": {"text/html": {"schema": {"type": "string"}}}}
    if kind == "text":
        return {"description": description or "plain text", "content": {"text/plain": {"schema": {"type": "string"}}}}
    if kind == "file":
        return {"description": "the file", "content": {"*/*": {"schema": {}}}}
    if kind == "redirect":
        return {"description": description or "go to Location",
                "headers": {"Location": {"schema": {"type": "string"}, "required": True}}}
    schema = RESPONSES[kind]
    return {"description": description or schema["description"],
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{kind}"}}}}


def _body(kind: str) -> dict:
    if kind in FORMS:
        media = {"application/x-www-form-urlencoded": {"schema": FORMS[kind]}}
        return {"required": "required" in FORMS[kind], "content": media}
    elif kind == "metrics-text":
        media = {"text/plain": {"schema": METRICS_TEXT}}
    else:
        media = {"application/json": {"schema": {"$ref": f"#/components/schemas/{kind}"}}}
    return {"required": True, "content": media}


def _path_names(path: str) -> list[str]:
    return [part[1:-1].split(":")[0] for part in path.split("/") if part.startswith("{") and part.endswith("}")]


def _path_param(name: str) -> dict:
    about = {"device": "the device's name", "job_id": "the job's id", "path": "the file's name"}[name]
    return {"name": name, "in": "path", "required": True, "description": about, "schema": {"type": "string"}}


def _camel(path: str) -> str:
    words = [w.strip("{}") for w in path.replace(".", "/").replace("_", "/").split("/") if w]
    return "".join(w[:1].upper() + w[1:] for w in words) or "Root"
