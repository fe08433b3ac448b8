"""Who may do what: device tokens, user sessions, CSRF tokens and the login limit, in one place.

- **Devices** authenticate with ``Authorization: Bearer <token>`` (``hilsim cloud --add-device``) on
  ``/api/device/<name>/...`` only, and only under their own name (:func:`device_of`): a device writes its
  own mirror, metrics and logs and reads its own jobs. A session cookie is never looked at there, so a
  user can never act as a device.
- **Users** log in with a password (``POST /login``, Argon2) and get a signed session cookie (HttpOnly,
  SameSite=Strict), a new session at each login (no fixation). The dashboard API (``/api/devices/...``)
  takes only that session (:func:`user_of`); a device token is refused there (403). Every state-changing
  user request carries the session's CSRF token (form field ``csrf`` or header ``X-CSRF-Token``). Failed
  logins are rate-limited per client address and per user name (:class:`LoginLimiter`).
- Missing or wrong credentials: 401; a valid credential used where it does not belong: 403. A refused
  request changes nothing.

Trace: ``login.succeeded``, ``login.failed``, ``login.limited``.
"""

from __future__ import annotations

import secrets
from collections import defaultdict, deque
from typing import Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from system.cloud.handling import Refused, parts, refuse


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


def device_of(request: Request) -> str:
    """The device this request authenticates as, which must be the one in the path."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Refused(401, "no_credentials", "send Authorization: Bearer <device token>")
    device = parts(request).store.device_for_token(token.strip())
    if device is None:
        raise Refused(401, "bad_credentials", "unknown device token")
    if device != request.path_params.get("device"):
        raise Refused(403, "other_device", "a device acts on its own name only")
    return device


def user_of(request: Request, *, write: bool = False) -> str:
    """The logged-in user; with ``write``, the request must carry the session's CSRF token."""
    user = request.session.get("user")
    if not user:
        if request.headers.get("authorization", "").lower().startswith("bearer "):
            raise Refused(403, "device_not_user", "devices cannot use the dashboard API")
        raise Refused(401, "not_logged_in", "log in at /login")
    if write:
        token = request.headers.get("x-csrf-token", "")
        if not token or not secrets.compare_digest(token, request.session.get("csrf", "")):
            raise Refused(403, "csrf", "missing or wrong X-CSRF-Token")
    return user


def csrf_token(request: Request) -> str:
    """The session's CSRF token, made on first use (the login form carries it before anyone logs in)."""
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(24)
    return token


async def login(request: Request) -> Response:
    form = await request.form()
    if not secrets.compare_digest(str(form.get("csrf", "")), request.session.get("csrf", "") or "-"):
        return refuse(403, "csrf", "reload the login page")
    user = str(form.get("username", ""))[:64]
    password = str(form.get("password", ""))[:256]
    client = request.client.host if request.client else "?"
    keys = (f"addr:{client}", f"user:{user}")
    cloud = parts(request)
    wait = cloud.limiter.blocked(*keys)
    if wait > 0:
        cloud.rt.trace("login.limited", user=user)
        return JSONResponse({"error": "rate_limited", "detail": f"try again in {int(wait) + 1} s"},
                            status_code=429, headers={"Retry-After": str(int(wait) + 1)})
    if not cloud.store.check_user(user, password):
        cloud.limiter.failed(*keys)
        cloud.rt.trace("login.failed", user=user)
        return RedirectResponse("/login?error=1", status_code=303)
    request.session.clear()
    request.session.update({"user": user, "csrf": secrets.token_urlsafe(24)})  # new session: no fixation
    cloud.rt.trace("login.succeeded", user=user)
    return RedirectResponse("/", status_code=303)


async def logout(request: Request) -> Response:
    form = await request.form()
    if not request.session.get("user"):
        return RedirectResponse("/login", status_code=303)
    if not secrets.compare_digest(str(form.get("csrf", "")), request.session.get("csrf", "")):
        return refuse(403, "csrf", "reload the page")
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


ROUTES = (
    Route("/login", login, methods=["POST"], include_in_schema=False),
    Route("/logout", logout, methods=["POST"], include_in_schema=False),
)
