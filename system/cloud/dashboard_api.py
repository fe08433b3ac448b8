"""The dashboard API (``/api/me``, ``/api/devices/...``): what a logged-in user reads and the jobs they queue.

Every handler first checks the session (:func:`system.cloud.auth.user_of`; a state-changing one the
CSRF token too), then the device in the path (404 if unknown). Reads come from the store
(:mod:`system.adapters.cloud_store`) and :func:`system.cloud.views.upcoming`; a job document is checked
by :func:`system.decisions.jobs_protocol.validate_job` before it is queued. Trace: ``job.queued``,
``job.refused``, ``job.canceled``.

How a dashboard snooze reaches the relay, one hand-over per arrow::

    POST /api/devices/<device>/jobs {"operation": "snoozeAlert", "local_alert_id": ...}
    -> system.cloud.dashboard_api.create_job             session, CSRF, validate_job
    -> system.adapters.cloud_store.CloudStore.create_job  QUEUED (trace job.queued)
    -> system.cloud.jobs_api.JobsService.notify           the app's job_created(device): onto its outbox
    -> JobsService.notify_next                            publishes notify-next (topics: jobs_protocol)
    -> MQTT broker
    -> system.services.job_agent.JobAgent.handle          notify-next: publishes start-next
    -> JobsService.handle -> CloudStore.start_next        IN_PROGRESS; publishes start-next/accepted
    -> JobAgent.handle -> JobAgent.run_job -> JobAgent.execute
                                                          validate_job against the device's own plan
    -> system.services.scheduler.Scheduler.snooze         in one Store.atomic() with the job's id
    -> system.adapters.controller_store.Store.add_snooze  committed; listeners run: Scheduler.changed
    -> Scheduler.run -> Scheduler.step                    plan_alerts/is_lit: nothing lit
    -> system.services.relay.RelayDriver.off              set(False): the driver's loop wakes
    -> RelayDriver.run -> backend.off()                   GpiodRelay.off live, SimRelay.off in sim

(then ``JobAgent._report`` publishes ``<jobId>/update`` SUCCEEDED and ``JobsService.handle`` stores it
with ``CloudStore.update_job``). Each hop is the protocol's or a layer's own: the outbox lets the HTTP
answer go out without waiting for the broker, and start-next is how AWS IoT Jobs hands a job over.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from system.cloud.auth import session_of, user_of
from system.cloud.handling import by_method, handler, json_body, known_device, number, parts, refuse
from system.cloud.views import upcoming
from system.decisions.jobs_protocol import Refusal, new_job_id, validate_job


async def me(request: Request) -> Response:
    """The logged-in user, the CSRF token for state-changing requests, and the club's time zone.
    ---
    summary: The logged-in user, the CSRF token for state-changing requests, and the club's time zone.
    auth: session
    responses: {200: Me}
    """
    user_of(request)
    session = session_of(request)
    return JSONResponse({"user": session.user, "csrf": session.csrf, "timezone": parts(request).settings.timezone})


async def devices(request: Request) -> Response:
    """The registered devices.
    ---
    summary: The registered devices.
    auth: session
    responses: {200: Devices}
    """
    user_of(request)
    return JSONResponse({"devices": parts(request).store.devices()})


async def events(request: Request) -> Response:
    """Upcoming events of a device with their alerts (from the mirror).
    ---
    summary: Upcoming events of a device with their alerts (from the mirror).
    auth: session
    responses: {200: Events}
    """
    user_of(request)
    device = known_device(request)
    cloud = parts(request)
    return JSONResponse({"now": cloud.rt.now(), "events": upcoming(cloud.store.mirror(device), cloud.rt.now())})


async def list_jobs(request: Request) -> Response:
    """A device's jobs, pending first, each with its history.
    ---
    summary: A device's jobs, pending first, each with its history (at most 200).
    auth: session
    responses: {200: Jobs}
    """
    user_of(request)
    device = known_device(request)
    store = parts(request).store
    jobs = store.jobs(device)[:200]
    return JSONResponse({"jobs": [{**_job_json(j), "history": store.history(j.id)} for j in jobs]})


async def create_job(request: Request) -> Response:
    """Queue a job for a device.
    ---
    summary: Queue a job for a device (snoozeAlert, updateAlert, createEvent, createAlert, updateApplication).
    auth: session-write
    body: JobDocument
    responses: {201: Job}
    """
    user = user_of(request, write=True)
    device = known_device(request)
    body = await json_body(request)
    cloud = parts(request)
    verdict = validate_job(body)
    if isinstance(verdict, Refusal):
        cloud.rt.trace("job.refused", device=device, reason=verdict.reason)
        return refuse(400, verdict.reason, verdict.detail)
    document = {"operation": verdict.operation, **verdict.fields}
    now = cloud.rt.now()
    # a ULID from the runtime's clock and random stream: unique across stores, deterministic in sim
    job_id = new_job_id(int(now * 1000), cloud.rt.rng("cloud/job-ids").getrandbits(80))
    job = cloud.store.create_job(device, document, now, timeout=cloud.settings.job_timeout,
                                 created_by=user, job_id=job_id)
    cloud.rt.trace("job.queued", device=device, job=job.id, operation=verdict.operation, by=user)
    cloud.job_created(device)
    return JSONResponse(_job_json(job), status_code=201)


async def cancel_job(request: Request) -> Response:
    """Cancel a pending job.
    ---
    summary: Cancel a pending job (404 if the device has no such job; 409 once it has finished).
    auth: session-write
    responses: {200: Job, 404: Error, 409: Error}
    """
    user = user_of(request, write=True)
    device = known_device(request)
    cloud = parts(request)
    done = cloud.store.cancel_job(device, request.path_params["job_id"], cloud.rt.now(), user)
    if isinstance(done, Refusal):
        return refuse(404 if done.reason == "ResourceNotFound" else 409, done.reason, done.detail)
    cloud.rt.trace("job.canceled", device=device, job=done.id, by=user)
    return JSONResponse(_job_json(done))


async def metrics(request: Request) -> Response:
    """The device's pushed counters and heartbeat over time.
    ---
    summary: The device's pushed counters and heartbeat over time (from `since`, or only what is newer than
      `after`, the newest time the caller already has); older history comes downsampled.
    auth: session
    query: {since: number, after: number}
    responses: {200: Metrics}
    """
    user_of(request)
    device = known_device(request)
    q = request.query_params
    after = number(q.get("after"), 0.0) if q.get("after") is not None else None
    store = parts(request).store
    return JSONResponse({"samples": store.metrics(device, number(q.get("since"), 0.0), after=after),
                         "last_heartbeat": store.last_heartbeat(device)})


async def alarm(request: Request) -> Response:
    """The heartbeat alarm's state and history.
    ---
    summary: The heartbeat alarm's state and history.
    auth: session
    responses: {200: Alarm}
    """
    user_of(request)
    return JSONResponse(parts(request).store.alarm(known_device(request)))


async def status(request: Request) -> Response:
    """Last sync, mirror lag (changes and seconds), last heartbeat, alarm.
    ---
    summary: Last sync, mirror lag (changes and seconds), last heartbeat, alarm.
    auth: session
    responses: {200: Status}
    """
    user_of(request)
    device = known_device(request)
    cloud = parts(request)
    state = cloud.store.sync_state(device)
    now = cloud.rt.now()
    return JSONResponse({**state, "now": now, "since_sync": None if state["at"] is None else now - state["at"],
                         "last_heartbeat": cloud.store.last_heartbeat(device),
                         "alarm": cloud.store.alarm(device)["raised"]})


async def logs(request: Request) -> Response:
    """The device's log and trace lines, newest first.
    ---
    summary: The device's log and trace lines, newest first (at most 500); filter by time (since, until) and
      by the start of their kind.
    auth: session
    query: {since: number, until: number, kind: string}
    responses: {200: LogLines}
    """
    user_of(request)
    device = known_device(request)
    q = request.query_params
    return JSONResponse(parts(request).store.logs(device, number(q.get("since"), 0.0),
                                                  number(q.get("until"), float("inf")), q.get("kind") or None))


async def mirror(request: Request) -> Response:
    """The raw mirror of a device's store.
    ---
    summary: The raw mirror of a device's store.
    auth: session
    responses: {200: Mirror}
    """
    user_of(request)
    return JSONResponse(parts(request).store.mirror(known_device(request)))


ROUTES = (
    Route("/api/me", handler(me)),
    Route("/api/devices", handler(devices)),
    Route("/api/devices/{device}/events", handler(events)),
    Route("/api/devices/{device}/jobs", by_method({"GET": handler(list_jobs), "POST": handler(create_job)}),
          methods=["GET", "POST"]),
    Route("/api/devices/{device}/jobs/{job_id}/cancel", handler(cancel_job), methods=["POST"]),
    Route("/api/devices/{device}/metrics", handler(metrics)),
    Route("/api/devices/{device}/alarm", handler(alarm)),
    Route("/api/devices/{device}/status", handler(status)),
    Route("/api/devices/{device}/logs", handler(logs)),
    Route("/api/devices/{device}/mirror", handler(mirror)),
)


def _job_json(job: Any) -> dict:
    return {"id": job.id, "device": job.device, "document": job.document, "status": job.status,
            "version": job.version, "created": job.created, "updated": job.updated, "details": job.details,
            "created_by": job.created_by}
