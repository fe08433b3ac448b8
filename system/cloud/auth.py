"""Who may do what: device tokens, user sessions, CSRF tokens and the login throttle, in one place.

- **Devices** authenticate with ``Authorization: Bearer <token>`` (``hilsim cloud --add-device``) on
  ``/api/device/<name>/...`` only, and only under their own name (:func:`device_of`): a device writes its
  own mirror, metrics and logs and reads its own jobs. A session cookie is never looked at there, so a
  user can never act as a device.
- **Users** log in with a password (``POST /login``, Argon2, checked off the event loop) and get a
  server-side session (:mod:`system.adapters.cloud_sessions`) whose id travels in a signed cookie
  (HttpOnly, SameSite=Strict, Secure over TLS). Each login makes a new session and a new CSRF token (no
  fixation); logout, a new password or a removed user ends it. The dashboard API (``/api/devices/...``)
  takes only that session (:func:`user_of`); a device token is refused there (403). Every state-changing
  user request carries the session's CSRF token (form field ``csrf`` or header ``X-CSRF-Token``).
- **Failed logins** slow down the next try of the same (user, client address) exponentially
  (:class:`LoginThrottle`): an attacker elsewhere can't lock the owner out. The client address is the
  connection's, or ``X-Forwarded-For``'s last hop when the connection comes from a trusted proxy
  (:func:`client_address`).
- Missing or wrong credentials: 401; a valid credential used where it does not belong: 403. A refused
  request changes nothing.

Trace: ``login.succeeded``, ``login.failed``, ``login.limited``.
"""

from __future__ import annotations

import secrets
from typing import Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from system.adapters.passwords import Busy
from system.cloud.handling import Refused, parts, refuse


class LoginThrottle:
    """Exponential delay per (user, client address): after ``free`` failures in a row, the next try waits
    ``base * 2 ** (failures - free)`` seconds (at most ``cap``) after the last failure. A success clears it.

    For example::

        >>> t = LoginThrottle(lambda: 100.0, free=2, base=1.0, cap=60.0)
        >>> for _ in range(4): t.failed("ann", "10.0.0.9")
        >>> t.wait("ann", "10.0.0.9"), t.wait("ann", "10.0.0.1")
        (4.0, 0.0)
    """

    def __init__(self, now: Callable[[], float], *, free: int = 5, base: float = 1.0, cap: float = 900.0):
        self.now, self.free, self.base, self.cap = now, free, base, cap
        self._seen: dict[tuple[str, str], tuple[int, float]] = {}

    def wait(self, user: str, address: str) -> float:
        """Seconds until a login of ``user`` from ``address`` is heard again (0: now)."""
        failures, last = self._seen.get((user, address), (0, 0.0))
        if failures < self.free:
            return 0.0
        return max(0.0, last + min(self.cap, self.base * 2 ** (failures - self.free)) - self.now())

    def failed(self, user: str, address: str) -> None:
        if len(self._seen) > 10_000:  # many pairs tried: forget the ones whose delay has passed
            cutoff = self.now() - self.cap
            for key in [k for k, (_, last) in self._seen.items() if last <= cutoff]:
                del self._seen[key]
        failures, _ = self._seen.get((user, address), (0, 0.0))
        self._seen[(user, address)] = (failures + 1, self.now())

    def succeeded(self, user: str, address: str) -> None:
        self._seen.pop((user, address), None)


def client_address(request: Request) -> str:
    """The client's address: the connection's, or the last ``X-Forwarded-For`` hop if the connection comes
    from a trusted proxy (``--trusted-proxy``); a forged header from anyone else is ignored."""
    peer = request.client.host if request.client else "?"
    if peer in parts(request).settings.trusted_proxies:
        hops = [h.strip() for h in request.headers.get("x-forwarded-for", "").split(",") if h.strip()]
        if hops:
            return hops[-1][:64]
    return peer


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


def session_of(request: Request):
    """The request's live server-side session, or None (no cookie, ended, expired, or its user removed)."""
    sid = request.session.get("sid")
    if not isinstance(sid, str) or not sid:
        return None
    cloud = parts(request)
    return cloud.store.sessions.find(sid, cloud.rt.now())


def user_of(request: Request, *, write: bool = False) -> str:
    """The logged-in user; with ``write``, the request must carry the session's CSRF token."""
    session = session_of(request)
    if session is None:
        if request.headers.get("authorization", "").lower().startswith("bearer "):
            raise Refused(403, "device_not_user", "devices cannot use the dashboard API")
        raise Refused(401, "not_logged_in", "log in at /login")
    if write:
        token = request.headers.get("x-csrf-token", "")
        if not token or not secrets.compare_digest(token.encode(), session.csrf.encode()):
            raise Refused(403, "csrf", "missing or wrong X-CSRF-Token")
    return session.user


def csrf_token(request: Request) -> str:
    """The login form's CSRF token, kept in the signed cookie before anyone logs in."""
    token = request.session.get("login_csrf")
    if not isinstance(token, str) or not token:
        token = request.session["login_csrf"] = secrets.token_urlsafe(24)
    return token


async def login(request: Request) -> Response:
    """Log in: a new session on success (303 to /), 303 back to the form on a wrong password.
    ---
    summary: Log in with the form's CSRF token; 303 to / (a new session cookie) or back to /login?error=1.
    body: login-form
    responses: {303: redirect, 400: text, 403: Error, 429: Error, 503: Error}
    """
    form = await request.form()
    expected = request.session.get("login_csrf")
    if not isinstance(expected, str) or not _same(form.get("csrf"), expected):
        return refuse(403, "csrf", "reload the login page")
    user = str(form.get("username", ""))[:64]
    password = str(form.get("password", ""))[:256]
    cloud = parts(request)
    address = client_address(request)
    wait = cloud.throttle.wait(user, address)
    if wait > 0:
        cloud.rt.trace("login.limited", user=user)
        return JSONResponse({"error": "rate_limited", "detail": f"try again in {int(wait) + 1} s"},
                            status_code=429, headers={"Retry-After": str(int(wait) + 1)})
    try:
        ok = await cloud.check_password(password, cloud.store.password_hash(user))
    except Busy:  # every password-check slot is taken (a flood): the client tries again later
        return JSONResponse({"error": "busy", "detail": "too many logins at once"}, status_code=503,
                            headers={"Retry-After": "1"})
    if not ok:
        cloud.throttle.failed(user, address)
        cloud.rt.trace("login.failed", user=user)
        return RedirectResponse("/login?error=1", status_code=303)
    cloud.throttle.succeeded(user, address)
    old = request.session.get("sid")
    if isinstance(old, str) and old:
        cloud.store.sessions.close(old)
    sid, _ = cloud.store.sessions.open(user, cloud.rt.now(), cloud.settings.session_max_age)
    request.session.clear()  # a new cookie: new session id and CSRF token, no fixation
    request.session["sid"] = sid
    cloud.rt.trace("login.succeeded", user=user)
    return RedirectResponse("/", status_code=303)


async def logout(request: Request) -> Response:
    """End the session (303 to /login).
    ---
    summary: End the session (its CSRF token in the form); 303 to /login.
    body: logout-form
    responses: {303: redirect, 400: text, 403: Error}
    """
    form = await request.form()
    session = session_of(request)
    if session is None:
        request.session.clear()
        return RedirectResponse("/login", status_code=303)
    if not _same(form.get("csrf"), session.csrf):
        return refuse(403, "csrf", "reload the page")
    parts(request).store.sessions.close(request.session["sid"])
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


def _same(given: object, expected: str) -> bool:
    return isinstance(given, str) and bool(given) and secrets.compare_digest(given.encode(), expected.encode())


ROUTES = (Route("/logout", logout, methods=["POST"]),)  # POST /login shares the form's route (system.cloud.pages)
