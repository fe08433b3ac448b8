"""The cloud service as an ASGI app (Starlette), assembled from its parts: :func:`create_app`.

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
from typing import Any, Callable

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.schemas import SchemaGenerator
from starlette.staticfiles import StaticFiles

from system.adapters.cloud_store import CloudStore
from system.cloud import auth, dashboard_api, device_api, pages
from system.cloud.handling import CloudParts
from system.decisions.localtime import DEFAULT_TZ

SCHEMAS = SchemaGenerator({"openapi": "3.0.0", "info": {"title": "hilsim cloud", "version": "1"},
                           "components": {"securitySchemes": {
                               "device": {"type": "http", "scheme": "bearer"},
                               "session": {"type": "apiKey", "in": "cookie", "name": "session"}}}})


@dataclass(frozen=True)
class CloudSettings:
    """``secure_cookies``: send the session cookie over HTTPS only (set it behind TLS);
    ``login_failures``/``login_window``: failed logins allowed per window and client before 429;
    ``job_timeout``: seconds a job may stay IN_PROGRESS before it is TIMED_OUT;
    ``timezone``: the club's IANA zone, in which the dashboard shows every time (24-hour clock)."""

    secure_cookies: bool = False
    login_failures: int = 5
    login_window: float = 300.0
    job_timeout: float = 600.0
    session_max_age: int = 8 * 3600
    timezone: str = DEFAULT_TZ


async def healthz(request: Request) -> Response:
    """---
    summary: Liveness check.
    responses: {200: {description: the service runs}}
    """
    return JSONResponse({"ok": True})


async def openapi(request: Request) -> Response:
    return JSONResponse(SCHEMAS.get_schema(routes=request.app.routes))


def create_app(store: CloudStore, rt: Any, *, settings: CloudSettings = CloudSettings(),
               job_created: Callable[[str], None] | None = None) -> Starlette:
    """The cloud ASGI app over ``store``; ``rt`` gives the clock and the trace (``rt.child("cloud")``)."""
    cloud = rt.child("cloud") if hasattr(rt, "child") else rt
    limiter = auth.LoginLimiter(cloud.now, settings.login_failures, settings.login_window)
    routes = [
        Route("/healthz", healthz),
        Route("/openapi.json", openapi, include_in_schema=False),
        *pages.ROUTES,
        *auth.ROUTES,
        *dashboard_api.ROUTES,
        *device_api.ROUTES,
        Mount("/static", StaticFiles(directory=pages.STATIC), name="static"),
    ]
    middleware = [Middleware(SessionMiddleware, secret_key=store.secret("session"), same_site="strict",
                             https_only=settings.secure_cookies, max_age=settings.session_max_age)]
    app = Starlette(routes=routes, middleware=middleware)
    app.state.store = store
    app.state.cloud = CloudParts(store, cloud, settings, limiter, job_created or (lambda device: None))
    return app
