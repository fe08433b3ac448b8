"""The cloud service as an ASGI app (Starlette), assembled from its parts: :func:`create_app`.
Its description, ``/openapi.json``, is made from the same routes by :mod:`system.cloud.openapi`.

The handlers live at module level in :mod:`system.cloud.auth` (login, logout, who may do what),
:mod:`system.cloud.pages` (the login form and the dashboard), :mod:`system.cloud.dashboard_api` (users)
and :mod:`system.cloud.device_api` (devices); they read what they need from ``app.state.cloud``
(:class:`system.cloud.handling.CloudParts`). The app only touches the runtime's clock and trace, the
:class:`~system.adapters.cloud_store.CloudStore` and a ``job_created(device)`` callback (the MQTT jobs
service publishes the device's next job), so the same app runs behind uvicorn live and behind httpx's
ASGI transport in sim.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from system.adapters.cloud_store import CloudStore
from system.adapters.passwords import verify_inline
from system.cloud import auth, dashboard_api, device_api, openapi, pages
from system.cloud.handling import CloudParts
from system.decisions.localtime import DEFAULT_TZ

@dataclass(frozen=True)
class CloudSettings:
    """``secure_cookies``: the session cookie is ``Secure`` even on plain HTTP (behind a TLS proxy); over TLS
    it always is; ``login_failures``: failed logins of a (user, address) before each next try waits,
    ``login_delay`` seconds doubling up to ``login_delay_cap``; ``trusted_proxies``: addresses whose
    ``X-Forwarded-For`` and ``X-Forwarded-Proto`` are believed; ``job_timeout``: seconds a job may stay
    IN_PROGRESS before it is TIMED_OUT; ``session_max_age``: seconds a session lasts; ``timezone``: the
    club's IANA zone, in which the dashboard shows every time (24-hour clock)."""

    secure_cookies: bool = False
    login_failures: int = 5
    login_delay: float = 1.0
    login_delay_cap: float = 900.0
    trusted_proxies: frozenset[str] = frozenset()
    job_timeout: float = 600.0
    session_max_age: int = 8 * 3600
    timezone: str = DEFAULT_TZ


# script-src 'self': the dashboard's script is a static file; no inline script or handler runs.
SECURITY_HEADERS = (
    (b"content-security-policy", b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                                 b"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
)
HSTS = (b"strict-transport-security", b"max-age=31536000")


class SecurityHeaders:
    """Every response gets :data:`SECURITY_HEADERS`; over TLS (or a trusted proxy's HTTPS), HSTS too.
    The session cookie is ``Secure`` on the same condition, or always with ``secure_cookies``."""

    def __init__(self, app: Any, secret: str, settings: CloudSettings):
        options = {"secret_key": secret, "same_site": "strict", "max_age": settings.session_max_age}
        self.secure = SessionMiddleware(app, https_only=True, **options)
        self.plain = self.secure if settings.secure_cookies else SessionMiddleware(app, https_only=False, **options)
        self.trusted = settings.trusted_proxies

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.plain(scope, receive, send)
            return
        tls = self._tls(scope)

        async def with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS, *((HSTS,) if tls else ())]
            await send(message)
        await (self.secure if tls else self.plain)(scope, receive, with_headers)

    def _tls(self, scope: dict) -> bool:
        if scope.get("scheme") == "https":
            return True
        peer = (scope.get("client") or ("?",))[0]
        return peer in self.trusted and dict(scope.get("headers", [])).get(b"x-forwarded-proto") == b"https"


async def healthz(request: Request) -> Response:
    """Liveness check.
    ---
    summary: Liveness check.
    responses: {200: Health}
    """
    return JSONResponse({"ok": True})


async def openapi_json(request: Request) -> Response:
    """This API's description (OpenAPI 3.1).
    ---
    summary: This API's description (OpenAPI 3.1), made from the app's routes.
    responses: {200: OpenAPI}
    """
    return JSONResponse(request.app.state.openapi)


def create_app(store: CloudStore, rt: Any, *, settings: CloudSettings = CloudSettings(),
               job_created: Callable[[str], None] | None = None,
               check_password: Callable[[str, str], Awaitable[bool]] = verify_inline) -> Starlette:
    """The cloud ASGI app over ``store``; ``rt`` gives the clock and the trace (``rt.child("cloud")``);
    ``check_password`` is awaited for each login (live: a :class:`~system.adapters.passwords.PasswordPool`)."""
    cloud = rt.child("cloud") if hasattr(rt, "child") else rt
    throttle = auth.LoginThrottle(cloud.now, free=settings.login_failures, base=settings.login_delay,
                                  cap=settings.login_delay_cap)
    routes = [
        Route("/healthz", healthz),
        Route("/openapi.json", openapi_json),
        *pages.ROUTES,
        *auth.ROUTES,
        *dashboard_api.ROUTES,
        *device_api.ROUTES,
        Mount("/static", pages.StaticFiles(directory=pages.STATIC), name="static"),
    ]
    middleware = [Middleware(SecurityHeaders, secret=store.secret("session"), settings=settings)]
    app = Starlette(routes=routes, middleware=middleware)
    app.state.store = store
    app.state.openapi = openapi.document(app.routes)
    app.state.cloud = CloudParts(store, cloud, settings, throttle, job_created or (lambda device: None),
                                 check_password)
    return app
