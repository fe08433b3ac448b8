"""The dashboard's two pages: the login form, and the single-page dashboard (static files, no build).

The dashboard is ``static/dashboard.html`` with ``dashboard.js`` and ``dashboard.css``, served as they
are (under ``/static/``) and holding no inline script or style, so a Content-Security-Policy of
``'self'`` fits it. It learns the user and the session's CSRF token from ``GET /api/me``, reads the JSON
API (``/api/devices/...``) every few seconds and sends each user action as a job (``POST
/api/devices/<device>/jobs`` with the CSRF token in a header). It is laid out for a phone first: one
column, large touch targets, nothing wider than the screen. Every value shown is escaped.

The login form is rendered here, as it carries the visitor's CSRF token in a form field (the browser
posts it before any script could ask for it).
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from starlette import staticfiles
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import Scope

from system.cloud.auth import csrf_token, login, session_of
from system.cloud.handling import by_method

STATIC = Path(__file__).resolve().parent / "static"


def login_form(csrf: str, error: str = "") -> str:
    """The login form (its CSRF token is bound to the visitor's session)."""
    message = '<p class="bad" id="login-error">Wrong user name or password.</p>' if error else ""
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>Match-day controller: log in</title>
<link rel="stylesheet" href="/static/dashboard.css"></head><body><header><strong>Match-day controller</strong></header>
<main><section><h2>Log in</h2>{message}
<form method="post" action="/login" class="inline">
<input type="hidden" name="csrf" value="{escape(csrf)}">
<input name="username" id="username" placeholder="user" autocomplete="username" required>
<input name="password" id="password" type="password" placeholder="password" autocomplete="current-password" required>
<button id="login">Log in</button></form></section></main></body></html>"""


class StaticFiles(staticfiles.StaticFiles):
    """Starlette's static files, whose 405 says what is allowed (``Allow``), as HTTP asks."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        if scope["method"] not in ("GET", "HEAD"):
            raise HTTPException(405, headers={"Allow": "GET, HEAD"})
        return await super().get_response(path, scope)


async def index(request: Request) -> Response:
    """The dashboard, or the login page for a visitor without a session.
    ---
    summary: The dashboard (HTML) with a session cookie, or a redirect to /login without one.
    responses: {200: html, 303: redirect}
    """
    if session_of(request) is None:
        return RedirectResponse("/login", status_code=303)
    return FileResponse(STATIC / "dashboard.html", media_type="text/html; charset=utf-8")


async def login_page(request: Request) -> Response:
    """The login form, with the visitor's CSRF token.
    ---
    summary: The login form (HTML), with the visitor's CSRF token in a hidden field.
    query: {error: string}
    responses: {200: html}
    """
    return HTMLResponse(login_form(csrf_token(request), request.query_params.get("error", "")))


ROUTES = (
    Route("/", index),
    # one route for the form and its POST, so that a 405 on /login allows both
    Route("/login", by_method({"GET": login_page, "POST": login}), methods=["GET", "POST"]),
)
