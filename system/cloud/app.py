"""The cloud service as an ASGI app (Starlette): the device API, the dashboard API, the dashboard.

Who may do what, in one place:

- **Devices** authenticate with ``Authorization: Bearer <token>`` (``hilsim cloud --add-device``) on
  ``/api/device/<name>/...`` only, and only under their own name: a device writes its own mirror,
  metrics and logs and reads its own jobs. A session cookie is never looked at there, so a user can
  never act as a device.
- **Users** log in with a password (``/login``, Argon2) and get a signed session cookie (HttpOnly,
  SameSite=Strict). The dashboard API (``/api/devices/...``) takes only that session; a device token is
  refused there (403). Every state-changing user request carries the session's CSRF token (form field
  ``csrf`` or header ``X-CSRF-Token``). Failed logins are rate-limited per client address and per user name.
- Missing or wrong credentials: 401; a valid credential used where it does not belong: 403. A refused
  request changes nothing. Malformed bodies: 400 with ``{"error": reason, "detail": ...}``.

The app only touches the runtime's clock (``rt.now()``), the :class:`~system.adapters.cloud_store.CloudStore` and
a ``job_created(device)`` callback (the MQTT jobs service publishes ``notify-next``), so the same app runs
behind uvicorn live and behind httpx's ASGI transport in sim.
"""

from __future__ import annotations

import json
import secrets
from collections import defaultdict, deque
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.schemas import SchemaGenerator

from system.cloud import pages
from system.adapters.cloud_store import CloudStore
from system.cloud.views import upcoming
from system.decisions.jobs_protocol import Refusal, validate_job

MAX_BODY = 1_000_000
MAX_CHANGES = 1000
MAX_LOG_LINES = 1000


@dataclass(frozen=True)
class CloudSettings:
    """``secure_cookies``: send the session cookie over HTTPS only (set it behind TLS);
    ``login_failures``/``login_window``: failed logins allowed per window and client before 429;
    ``job_timeout``: seconds a job may stay IN_PROGRESS before it is TIMED_OUT."""

    secure_cookies: bool = False
    login_failures: int = 5
    login_window: float = 300.0
    job_timeout: float = 600.0
    session_max_age: int = 8 * 3600


class _Refused(Exception):
    def __init__(self, status: int, error: str, detail: str = ""):
        self.status, self.error, self.detail = status, error, detail


def _refuse(status: int, error: str, detail: str = "") -> JSONResponse:
    return JSONResponse({"error": error, "detail": detail}, status_code=status)


class LoginLimiter:
    """At most ``failures`` failed logins per ``window`` seconds per key (client address, user name)."""

    def __init__(self, now: Callable[[], float], failures: int, window: float):
        self.now, self.failures, self.window = now, failures, window
        self._seen: dict[str, deque] = defaultdict(deque)

    def blocked(self, *keys: str) -> float:
        """Seconds until a login from these keys is heard again (0: now)."""
        now = self.now()
        wait = 0.0
        for key in keys:
            times = self._seen[key]
            while times and times[0] <= now - self.window:
                times.popleft()
            if len(times) >= self.failures:
                wait = max(wait, times[0] + self.window - now)
        return wait

    def failed(self, *keys: str) -> None:
        if len(self._seen) > 10_000:  # many names tried: forget the ones whose window has passed
            cutoff = self.now() - self.window
            for key in [k for k, times in self._seen.items() if not times or times[-1] <= cutoff]:
                del self._seen[key]
        for key in keys:
            self._seen[key].append(self.now())


def create_app(store: CloudStore, rt: Any, *, settings: CloudSettings = CloudSettings(),
               job_created: Callable[[str], None] | None = None) -> Starlette:
    """The cloud ASGI app over ``store``; ``rt`` gives the clock and the trace (``rt.child("cloud")``)."""
    cloud = rt.child("cloud") if hasattr(rt, "child") else rt
    limiter = LoginLimiter(cloud.now, settings.login_failures, settings.login_window)
    notify = job_created or (lambda device: None)

    # -- credentials -------------------------------------------------------------------

    def device_of(request: Request) -> str:
        """The device this request authenticates as, which must be the one in the path."""
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise _Refused(401, "no_credentials", "send Authorization: Bearer <device token>")
        device = store.device_for_token(token.strip())
        if device is None:
            raise _Refused(401, "bad_credentials", "unknown device token")
        if device != request.path_params.get("device"):
            raise _Refused(403, "other_device", "a device acts on its own name only")
        return device

    def user_of(request: Request, *, write: bool = False) -> str:
        user = request.session.get("user")
        if not user:
            if request.headers.get("authorization", "").lower().startswith("bearer "):
                raise _Refused(403, "device_not_user", "devices cannot use the dashboard API")
            raise _Refused(401, "not_logged_in", "log in at /login")
        if write:
            token = request.headers.get("x-csrf-token", "")
            if not token or not secrets.compare_digest(token, request.session.get("csrf", "")):
                raise _Refused(403, "csrf", "missing or wrong X-CSRF-Token")
        return user

    def known_device(request: Request) -> str:
        device = request.path_params["device"]
        if device not in store.devices():
            raise _Refused(404, "unknown_device", device)
        return device

    async def json_body(request: Request, kind: type = dict) -> Any:
        raw = await request.body()
        if len(raw) > MAX_BODY:
            raise _Refused(413, "too_large", f"at most {MAX_BODY} bytes")
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise _Refused(400, "not_json", "the body must be JSON") from None
        if not isinstance(body, kind):
            raise _Refused(400, "wrong_type", f"the body must be a JSON {kind.__name__}")
        return body

    def handler(fn: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        async def wrapped(request: Request) -> Response:
            try:
                return await fn(request)
            except _Refused as refused:
                cloud.trace("request.refused", path=request.url.path, status=refused.status, reason=refused.error)
                return _refuse(refused.status, refused.error, refused.detail)
        wrapped.__doc__ = fn.__doc__
        wrapped.__name__ = fn.__name__
        return wrapped

    # -- public --------------------------------------------------------------------------

    async def healthz(request: Request) -> Response:
        """---
        summary: Liveness check.
        responses: {200: {description: the service runs}}
        """
        return JSONResponse({"ok": True})

    schemas = SchemaGenerator({"openapi": "3.0.0", "info": {"title": "hilsim cloud", "version": "1"},
                               "components": {"securitySchemes": {
                                   "device": {"type": "http", "scheme": "bearer"},
                                   "session": {"type": "apiKey", "in": "cookie", "name": "session"}}}})

    async def openapi(request: Request) -> Response:
        return JSONResponse(schemas.get_schema(routes=request.app.routes))

    async def index(request: Request) -> Response:
        if not request.session.get("user"):
            return RedirectResponse("/login", status_code=303)
        return HTMLResponse(pages.dashboard(request.session["user"], _csrf(request)))

    async def login_page(request: Request) -> Response:
        return HTMLResponse(pages.login(_csrf(request), request.query_params.get("error", "")))

    async def login(request: Request) -> Response:
        form = await request.form()
        if not secrets.compare_digest(str(form.get("csrf", "")), request.session.get("csrf", "") or "-"):
            return _refuse(403, "csrf", "reload the login page")
        user = str(form.get("username", ""))[:64]
        password = str(form.get("password", ""))[:256]
        client = request.client.host if request.client else "?"
        keys = (f"addr:{client}", f"user:{user}")
        wait = limiter.blocked(*keys)
        if wait > 0:
            cloud.trace("login.limited", user=user)
            return JSONResponse({"error": "rate_limited", "detail": f"try again in {int(wait) + 1} s"},
                                status_code=429, headers={"Retry-After": str(int(wait) + 1)})
        if not store.check_user(user, password):
            limiter.failed(*keys)
            cloud.trace("login.failed", user=user)
            return RedirectResponse("/login?error=1", status_code=303)
        request.session.clear()
        request.session.update({"user": user, "csrf": secrets.token_urlsafe(24)})  # new session: no fixation
        cloud.trace("login.succeeded", user=user)
        return RedirectResponse("/", status_code=303)

    async def logout(request: Request) -> Response:
        form = await request.form()
        if not request.session.get("user"):
            return RedirectResponse("/login", status_code=303)
        if not secrets.compare_digest(str(form.get("csrf", "")), request.session.get("csrf", "")):
            return _refuse(403, "csrf", "reload the page")
        request.session.clear()
        return RedirectResponse("/login", status_code=303)

    # -- dashboard API (users) -------------------------------------------------------------

    async def me(request: Request) -> Response:
        """---
        summary: The logged-in user and the CSRF token for state-changing requests.
        security: [{session: []}]
        responses: {200: {description: user}, 401: {description: not logged in}}
        """
        return JSONResponse({"user": user_of(request), "csrf": request.session.get("csrf")})

    async def devices(request: Request) -> Response:
        """---
        summary: The registered devices.
        security: [{session: []}]
        responses: {200: {description: device names}, 401: {description: not logged in}}
        """
        user_of(request)
        return JSONResponse({"devices": store.devices()})

    async def events(request: Request) -> Response:
        """---
        summary: Upcoming events of a device with their alerts (from the mirror).
        security: [{session: []}]
        responses: {200: {description: events}, 401: {description: not logged in}}
        """
        user_of(request)
        device = known_device(request)
        return JSONResponse({"now": cloud.now(), "events": upcoming(store.mirror(device), cloud.now())})

    async def list_jobs(request: Request) -> Response:
        """---
        summary: A device's jobs, pending first, each with its history.
        security: [{session: []}]
        responses: {200: {description: jobs}, 401: {description: not logged in}}
        """
        user_of(request)
        device = known_device(request)
        jobs = store.jobs(device)[:200]
        return JSONResponse({"jobs": [{**_job_json(j), "history": store.history(j.id)} for j in jobs]})

    async def create_job(request: Request) -> Response:
        """---
        summary: Queue a job for a device (snoozeAlert, updateAlert, createEvent, createAlert, updateApplication).
        security: [{session: []}]
        requestBody: {content: {application/json: {schema: {type: object}}}}
        responses: {201: {description: queued}, 400: {description: refused document}, 401: {description: not logged in}, 403: {description: CSRF}}
        """
        user = user_of(request, write=True)
        device = known_device(request)
        body = await json_body(request)
        verdict = validate_job(body)
        if isinstance(verdict, Refusal):
            cloud.trace("job.refused", device=device, reason=verdict.reason)
            return _refuse(400, verdict.reason, verdict.detail)
        document = {"operation": verdict.operation, **verdict.fields}
        job = store.create_job(device, document, cloud.now(), timeout=settings.job_timeout, created_by=user)
        cloud.trace("job.queued", device=device, job=job.id, operation=verdict.operation, by=user)
        notify(device)
        return JSONResponse(_job_json(job), status_code=201)

    async def cancel_job(request: Request) -> Response:
        """---
        summary: Cancel a pending job.
        security: [{session: []}]
        responses: {200: {description: canceled}, 409: {description: already finished}, 401: {description: not logged in}}
        """
        user = user_of(request, write=True)
        device = known_device(request)
        done = store.cancel_job(device, request.path_params["job_id"], cloud.now(), user)
        if isinstance(done, Refusal):
            return _refuse(404 if done.reason == "ResourceNotFound" else 409, done.reason, done.detail)
        cloud.trace("job.canceled", device=device, job=done.id, by=user)
        return JSONResponse(_job_json(done))

    async def metrics(request: Request) -> Response:
        """---
        summary: The device's pushed counters and heartbeat over time.
        security: [{session: []}]
        responses: {200: {description: samples}, 401: {description: not logged in}}
        """
        user_of(request)
        device = known_device(request)
        since = _number(request.query_params.get("since"), 0.0)
        return JSONResponse({"samples": store.metrics(device, since), "last_heartbeat": store.last_heartbeat(device)})

    async def alarm(request: Request) -> Response:
        """---
        summary: The heartbeat alarm's state and history.
        security: [{session: []}]
        responses: {200: {description: alarm}, 401: {description: not logged in}}
        """
        user_of(request)
        return JSONResponse(store.alarm(known_device(request)))

    async def status(request: Request) -> Response:
        """---
        summary: Last sync, mirror lag (changes and seconds), last heartbeat, alarm.
        security: [{session: []}]
        responses: {200: {description: status}, 401: {description: not logged in}}
        """
        user_of(request)
        device = known_device(request)
        state = store.sync_state(device)
        now = cloud.now()
        return JSONResponse({**state, "now": now, "since_sync": None if state["at"] is None else now - state["at"],
                             "last_heartbeat": store.last_heartbeat(device), "alarm": store.alarm(device)["raised"]})

    async def logs(request: Request) -> Response:
        """---
        summary: The device's log and trace lines, newest first; filter by time (since, until) and kind.
        security: [{session: []}]
        responses: {200: {description: lines}, 401: {description: not logged in}}
        """
        user_of(request)
        device = known_device(request)
        q = request.query_params
        return JSONResponse(store.logs(device, _number(q.get("since"), 0.0), _number(q.get("until"), float("inf")),
                                       q.get("kind") or None))

    async def mirror(request: Request) -> Response:
        """---
        summary: The raw mirror of a device's store.
        security: [{session: []}]
        responses: {200: {description: mirror}, 401: {description: not logged in}}
        """
        user_of(request)
        return JSONResponse(store.mirror(known_device(request)))

    # -- device API -------------------------------------------------------------------------

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
            raise _Refused(400, "bad_sync", "expected {base: int, last: int, changes: [...]}")
        for change in changes:
            if not _change(change):
                raise _Refused(400, "bad_change", "a change is {id: int, table: str, key: str, payload: object|null}")
        ids = [c["id"] for c in changes]
        if ids != sorted(set(ids)):
            raise _Refused(400, "bad_change", "change ids must ascend")
        result = store.apply_sync(device, base, last, changes, cloud.now())
        cloud.trace("sync.applied" if result.resync is None else "sync.resync", device=device, applied=result.applied,
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
            raise _Refused(400, "bad_snapshot", "expected {upto: int, rows: {table: {key: object}}}")
        store.replace_mirror(device, upto, rows, cloud.now())
        cloud.trace("sync.snapshot", device=device, upto=upto, rows=sum(len(k) for k in rows.values()))
        return JSONResponse({"applied": upto})

    async def push_metrics(request: Request) -> Response:
        """---
        summary: Counters and heartbeat in the Prometheus text format (as pushed to a Pushgateway).
        security: [{device: []}]
        requestBody: {content: {text/plain: {schema: {type: string}}}}
        responses: {200: {description: stored}, 400: {description: unreadable}, 401: {description: no credentials}, 403: {description: other device}}
        """
        device = device_of(request)
        raw = await request.body()
        if len(raw) > MAX_BODY:
            raise _Refused(413, "too_large", f"at most {MAX_BODY} bytes")
        try:
            samples = {s.name: float(s.value) for family in text_string_to_metric_families(raw.decode("utf-8"))
                       for s in family.samples}
        except (ValueError, UnicodeDecodeError, TypeError, KeyError, IndexError) as exc:
            raise _Refused(400, "bad_exposition", str(exc)[:200]) from None
        if not samples or not all(v == v and abs(v) < 1e15 for v in samples.values()):
            raise _Refused(400, "bad_exposition", "no finite samples")
        store.add_metrics(device, cloud.now(), samples)
        cloud.trace("metrics.received", device=device, samples=len(samples))
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
            raise _Refused(400, "bad_logs", "expected {lines: [{at: number, kind: str, line: str}], dropped: int}")
        store.add_logs(device, lines, dropped)
        return JSONResponse({"stored": len(lines)})

    async def device_jobs(request: Request) -> Response:
        """---
        summary: The device's pending jobs (the MQTT jobs topics are the main way; this is for inspection).
        security: [{device: []}]
        responses: {200: {description: executions}, 401: {description: no credentials}, 403: {description: other device}}
        """
        device = device_of(request)
        return JSONResponse({"jobs": [j.execution() for j in store.jobs(device, pending_only=True)]})

    api = [
        Route("/api/me", handler(me)),
        Route("/api/devices", handler(devices)),
        Route("/api/devices/{device}/events", handler(events)),
        Route("/api/devices/{device}/jobs", handler(list_jobs), methods=["GET"]),
        Route("/api/devices/{device}/jobs", handler(create_job), methods=["POST"]),
        Route("/api/devices/{device}/jobs/{job_id}/cancel", handler(cancel_job), methods=["POST"]),
        Route("/api/devices/{device}/metrics", handler(metrics)),
        Route("/api/devices/{device}/alarm", handler(alarm)),
        Route("/api/devices/{device}/status", handler(status)),
        Route("/api/devices/{device}/logs", handler(logs)),
        Route("/api/devices/{device}/mirror", handler(mirror)),
        Route("/api/device/{device}/sync", handler(sync), methods=["POST"]),
        Route("/api/device/{device}/snapshot", handler(snapshot), methods=["POST"]),
        Route("/api/device/{device}/metrics", handler(push_metrics), methods=["POST"]),
        Route("/api/device/{device}/logs", handler(push_logs), methods=["POST"]),
        Route("/api/device/{device}/jobs", handler(device_jobs), methods=["GET"]),
    ]
    routes = [
        Route("/healthz", healthz),
        Route("/openapi.json", openapi, include_in_schema=False),
        Route("/", index, include_in_schema=False),
        Route("/login", login_page, methods=["GET"], include_in_schema=False),
        Route("/login", login, methods=["POST"], include_in_schema=False),
        Route("/logout", logout, methods=["POST"], include_in_schema=False),
        *api,
    ]
    middleware = [Middleware(SessionMiddleware, secret_key=store.secret("session"), same_site="strict",
                             https_only=settings.secure_cookies, max_age=settings.session_max_age)]
    app = Starlette(routes=routes, middleware=middleware)
    app.state.store = store
    return app


def _csrf(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(24)
    return token


def _job_json(job: Any) -> dict:
    return {"id": job.id, "device": job.device, "document": job.document, "status": job.status,
            "version": job.version, "created": job.created, "updated": job.updated, "details": job.details,
            "created_by": job.created_by}


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2 ** 62


def _num(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value and abs(value) < 1e13


def _number(text: str | None, default: float) -> float:
    try:
        value = float(text) if text is not None else default
    except ValueError:
        raise _Refused(400, "bad_query", f"{text!r} is not a number") from None
    return value if value == value else default


def _change(change: Any) -> bool:
    return (isinstance(change, dict) and _int(change.get("id")) and change["id"] > 0
            and isinstance(change.get("table"), str) and isinstance(change.get("key"), str)
            and (change.get("payload") is None or isinstance(change.get("payload"), dict)))
