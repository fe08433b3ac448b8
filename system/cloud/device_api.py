"""The device API (``/api/device/<name>/...``): what a controller sends the cloud, and its jobs for inspection.

Every handler first checks the device's bearer token (:func:`system.cloud.auth.device_of`), then the
body's shape (400 with a reason, nothing changed), then hands the body to the store
(:mod:`system.adapters.cloud_store`). A sync is applied in outbox order, each change once.
Trace: ``sync.applied``, ``sync.resync``, ``sync.snapshot``, ``metrics.received``.
"""

from __future__ import annotations

from typing import Any

from prometheus_client.parser import text_string_to_metric_families
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from system.cloud.auth import device_of
from system.cloud.handling import Refused, handler, json_body, parts, raw_body

MAX_CHANGES = 1000
MAX_LOG_LINES = 1000


async def sync(request: Request) -> Response:
    """---
    summary: Apply a batch of outbox changes to the device's mirror (idempotent).
    security: [{device: []}]
    requestBody: {content: {application/json: {schema: {type: object}}}}
    responses: {200: {description: applied position}, 409: {description: full resync needed}, 401: {description: no credentials}, 403: {description: other device}}
    """
    device = device_of(request)
    body = await json_body(request)
    base, last, changes = body.get("base"), body.get("last"), body.get("changes")
    if not (_int(base) and _int(last) and isinstance(changes, list) and len(changes) <= MAX_CHANGES):
        raise Refused(400, "bad_sync", "expected {base: int, last: int, changes: [...]}")
    for change in changes:
        if not _change(change):
            raise Refused(400, "bad_change", "a change is {id: int, table: str, key: str, payload: object|null}")
    ids = [c["id"] for c in changes]
    if ids != sorted(set(ids)):
        raise Refused(400, "bad_change", "change ids must ascend")
    cloud = parts(request)
    result = cloud.store.apply_sync(device, base, last, changes, cloud.rt.now())
    cloud.rt.trace("sync.applied" if result.resync is None else "sync.resync", device=device, applied=result.applied,
                   changes=len(changes), reason=result.resync)
    if result.resync:
        return JSONResponse({"applied": result.applied, "resync": result.resync}, status_code=409)
    return JSONResponse({"applied": result.applied})


async def snapshot(request: Request) -> Response:
    """---
    summary: Replace the device's mirror by a full snapshot of its store.
    security: [{device: []}]
    requestBody: {content: {application/json: {schema: {type: object}}}}
    responses: {200: {description: replaced}, 401: {description: no credentials}, 403: {description: other device}}
    """
    device = device_of(request)
    body = await json_body(request)
    upto, rows = body.get("upto"), body.get("rows")
    if not _int(upto) or not isinstance(rows, dict) or not all(
            isinstance(t, str) and isinstance(keyed, dict) and all(isinstance(r, dict) for r in keyed.values())
            for t, keyed in rows.items()):
        raise Refused(400, "bad_snapshot", "expected {upto: int, rows: {table: {key: object}}}")
    cloud = parts(request)
    cloud.store.replace_mirror(device, upto, rows, cloud.rt.now())
    cloud.rt.trace("sync.snapshot", device=device, upto=upto, rows=sum(len(k) for k in rows.values()))
    return JSONResponse({"applied": upto})


async def push_metrics(request: Request) -> Response:
    """---
    summary: Counters and heartbeat in the Prometheus text format (as pushed to a Pushgateway).
    security: [{device: []}]
    requestBody: {content: {text/plain: {schema: {type: string}}}}
    responses: {200: {description: stored}, 400: {description: unreadable}, 401: {description: no credentials}, 403: {description: other device}}
    """
    device = device_of(request)
    raw = await raw_body(request)
    try:
        samples = {s.name: float(s.value) for family in text_string_to_metric_families(raw.decode("utf-8"))
                   for s in family.samples}
    except (ValueError, UnicodeDecodeError, TypeError, KeyError, IndexError) as exc:
        raise Refused(400, "bad_exposition", str(exc)[:200]) from None
    if not samples or not all(v == v and abs(v) < 1e15 for v in samples.values()):
        raise Refused(400, "bad_exposition", "no finite samples")
    cloud = parts(request)
    cloud.store.add_metrics(device, cloud.rt.now(), samples)
    cloud.rt.trace("metrics.received", device=device, samples=len(samples))
    return JSONResponse({"stored": len(samples)})


async def push_logs(request: Request) -> Response:
    """---
    summary: A batch of log and trace lines, and how many were dropped on the device since the last batch.
    security: [{device: []}]
    requestBody: {content: {application/json: {schema: {type: object}}}}
    responses: {200: {description: stored}, 401: {description: no credentials}, 403: {description: other device}}
    """
    device = device_of(request)
    body = await json_body(request)
    lines, dropped = body.get("lines"), body.get("dropped", 0)
    if not isinstance(lines, list) or len(lines) > MAX_LOG_LINES or not _int(dropped) or not all(
            isinstance(ln, dict) and _num(ln.get("at")) and isinstance(ln.get("kind"), str)
            and isinstance(ln.get("line"), str) for ln in lines):
        raise Refused(400, "bad_logs", "expected {lines: [{at: number, kind: str, line: str}], dropped: int}")
    parts(request).store.add_logs(device, lines, dropped)
    return JSONResponse({"stored": len(lines)})


async def device_jobs(request: Request) -> Response:
    """---
    summary: The device's pending jobs (the MQTT jobs topics are the main way; this is for inspection).
    security: [{device: []}]
    responses: {200: {description: executions}, 401: {description: no credentials}, 403: {description: other device}}
    """
    device = device_of(request)
    return JSONResponse({"jobs": [j.execution() for j in parts(request).store.jobs(device, pending_only=True)]})


ROUTES = (
    Route("/api/device/{device}/sync", handler(sync), methods=["POST"]),
    Route("/api/device/{device}/snapshot", handler(snapshot), methods=["POST"]),
    Route("/api/device/{device}/metrics", handler(push_metrics), methods=["POST"]),
    Route("/api/device/{device}/logs", handler(push_logs), methods=["POST"]),
    Route("/api/device/{device}/jobs", handler(device_jobs), methods=["GET"]),
)


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2 ** 62


def _num(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value and abs(value) < 1e13


def _change(change: Any) -> bool:
    return (isinstance(change, dict) and _int(change.get("id")) and change["id"] > 0
            and isinstance(change.get("table"), str) and isinstance(change.get("key"), str)
            and (change.get("payload") is None or isinstance(change.get("payload"), dict)))
