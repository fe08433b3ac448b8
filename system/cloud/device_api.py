"""The device API (``/api/device/<name>/...``): what a controller sends the cloud, and its jobs for inspection.

Every handler first checks the device's bearer token (:func:`system.cloud.auth.device_of`), then the
body against its schema (:mod:`system.cloud.bodies`; 400 with a reason, nothing changed), then hands the body to the store
(:mod:`system.adapters.cloud_store`). A sync is applied in outbox order, each change once.
Trace: ``sync.applied``, ``sync.resync``, ``sync.snapshot``, ``metrics.received``.
"""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from system.adapters.cloud_store import SyncResult
from system.cloud.auth import device_of
from system.cloud.bodies import checked_body
from system.cloud.handling import Refused, handler, parts, raw_body


async def sync(request: Request) -> Response:
    """Apply a batch of outbox changes to the device's mirror, each once (a replayed batch changes nothing).
    ---
    summary: Apply a batch of outbox changes to the device's mirror (idempotent).
    auth: device
    body: Sync
    responses: {200: SyncApplied, 409: SyncResync}
    """
    device = device_of(request)
    body = await checked_body(request, "Sync", "bad_sync")
    base, last = int(body["base"]), int(body["last"])
    changes = [{**change, "id": int(change["id"])} for change in body["changes"]]
    cloud = parts(request)
    ids = [c["id"] for c in changes]
    if ids != sorted(set(ids)):  # not the outbox's order: the device's view can't be trusted, ask for all of it
        result = SyncResult(cloud.store.sync_state(device)["applied"], "unordered")
    else:
        result = cloud.store.apply_sync(device, base, last, changes, cloud.rt.now())
    cloud.rt.trace("sync.applied" if result.resync is None else "sync.resync", device=device, applied=result.applied,
                   changes=len(changes), reason=result.resync)
    if result.resync:
        return JSONResponse({"applied": result.applied, "resync": result.resync}, status_code=409)
    return JSONResponse({"applied": result.applied})


async def snapshot(request: Request) -> Response:
    """Replace the device's mirror by a full snapshot of its store.
    ---
    summary: Replace the device's mirror by a full snapshot of its store.
    auth: device
    body: Snapshot
    responses: {200: SnapshotApplied}
    """
    device = device_of(request)
    body = await checked_body(request, "Snapshot", "bad_snapshot")
    upto, rows = int(body["upto"]), body["rows"]
    cloud = parts(request)
    cloud.store.replace_mirror(device, upto, rows, cloud.rt.now())
    cloud.rt.trace("sync.snapshot", device=device, upto=upto, rows=sum(len(k) for k in rows.values()))
    return JSONResponse({"applied": upto})


async def push_metrics(request: Request) -> Response:
    """Counters and heartbeat in the Prometheus text format.
    ---
    summary: Counters and heartbeat in the Prometheus text format (as pushed to a Pushgateway).
    auth: device
    body: metrics-text
    responses: {200: Stored}
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
    """A batch of log and trace lines, and how many were dropped on the device since the last batch.
    ---
    summary: A batch of log and trace lines, and how many the device dropped since the last batch.
    auth: device
    body: Logs
    responses: {200: Stored}
    """
    device = device_of(request)
    body = await checked_body(request, "Logs", "bad_logs")
    lines = body["lines"]
    parts(request).store.add_logs(device, lines, int(body.get("dropped", 0)))
    return JSONResponse({"stored": len(lines)})


async def device_jobs(request: Request) -> Response:
    """The device's pending jobs (the MQTT jobs topics are the main way; this is for inspection).
    ---
    summary: The device's pending jobs (the MQTT jobs topics are the main way; this is for inspection).
    auth: device
    responses: {200: Executions}
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
