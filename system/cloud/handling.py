"""What every handler of the cloud app shares: the cloud's parts on the app, refusals, JSON bodies.

Handlers are module-level Starlette endpoints; they find the store, the clock and trace, the
settings and the login limiter in :class:`CloudParts` (``request.app.state.cloud``, put there
by :func:`system.cloud.app.create_app`). A handler refuses a request by raising :class:`Refused`;
:func:`handler` turns it into ``{"error": reason, "detail": ...}`` with its status and traces
``request.refused``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from system.adapters.cloud_store import CloudStore

MAX_BODY = 1_000_000
MAX_DEPTH = 32  # no document of ours nests deeper; deeper ones are refused before anything walks them


@dataclass(frozen=True)
class CloudParts:
    """What the handlers use: the store, the cloud's runtime (clock and trace), the settings
    (:class:`system.cloud.app.CloudSettings`), the login throttle, ``job_created(device)`` and
    ``check_password(password, hash)`` (awaited: live, in a bounded thread pool)."""

    store: CloudStore
    rt: Any
    settings: Any
    throttle: Any
    job_created: Callable[[str], None]
    check_password: Callable[[str, str], Awaitable[bool]]


def parts(request: Request) -> CloudParts:
    """The cloud's parts for this request."""
    return request.app.state.cloud


class Refused(Exception):
    """A refused request: ``status``, a stable ``error`` code and a ``detail`` saying what to fix."""

    def __init__(self, status: int, error: str, detail: str = ""):
        super().__init__(error)
        self.status, self.error, self.detail = status, error, detail


def refuse(status: int, error: str, detail: str = "") -> JSONResponse:
    """The response of a refused request."""
    return JSONResponse({"error": error, "detail": detail}, status_code=status)


Endpoint = Callable[[Request], Awaitable[Response]]


def handler(fn: Endpoint) -> Endpoint:
    """``fn`` with its :class:`Refused` turned into a traced refusal response."""
    async def wrapped(request: Request) -> Response:
        try:
            return await fn(request)
        except Refused as refused:
            parts(request).rt.trace("request.refused", path=request.url.path, status=refused.status,
                                    reason=refused.error)
            return refuse(refused.status, refused.error, refused.detail)
    wrapped.__doc__ = fn.__doc__
    wrapped.__name__ = fn.__name__
    return wrapped


def by_method(endpoints: dict[str, Endpoint]) -> Endpoint:
    """One endpoint for a path that answers several methods (``{"GET": read, "POST": write}``), so that a 405
    from its route lists them all in ``Allow``; HEAD goes to GET. ``/openapi.json`` reads ``by_method``."""
    async def dispatch(request: Request) -> Response:
        return await endpoints["GET" if request.method == "HEAD" else request.method](request)
    dispatch.by_method = endpoints  # type: ignore[attr-defined]
    dispatch.__name__ = "_".join(fn.__name__ for fn in endpoints.values())
    return dispatch


async def raw_body(request: Request) -> bytes:
    """The request's body, at most :data:`MAX_BODY` bytes (413 otherwise)."""
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise Refused(413, "too_large", f"at most {MAX_BODY} bytes")
    return raw


async def json_body(request: Request, kind: type = dict) -> Any:
    """The request's JSON body, which must be a ``kind`` (400 otherwise)."""
    raw = await raw_body(request)
    try:
        body = json.loads(raw, parse_constant=_not_json)
    except RecursionError:
        raise Refused(400, "too_deep", f"JSON nested at most {MAX_DEPTH} deep") from None
    except (ValueError, UnicodeDecodeError):
        raise Refused(400, "not_json", "the body must be JSON") from None
    _check_shape(body)
    if not isinstance(body, kind):
        raise Refused(400, "wrong_type", f"the body must be a JSON {kind.__name__}")
    return body


def _not_json(word: str) -> None:
    raise ValueError(f"{word} is not JSON")  # json.loads would read NaN and Infinity


def _check_shape(body: Any) -> None:
    """Refuse JSON nested deeper than :data:`MAX_DEPTH`, or with a string that is not text (a lone UTF-16
    surrogate such as ``"\\udc80"`` is valid JSON but can't be stored, sent or shown as UTF-8)."""
    stack = [(body, 1)]  # without recursion: what runs after this may recurse safely
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            if not _is_text(value):
                raise Refused(400, "bad_text", "strings must be valid Unicode text (no lone surrogates)")
        elif isinstance(value, (dict, list)):
            if depth > MAX_DEPTH:
                raise Refused(400, "too_deep", f"JSON nested at most {MAX_DEPTH} deep")
            if isinstance(value, dict):
                stack.extend((k, depth) for k in value)
            stack.extend((v, depth + 1) for v in (value.values() if isinstance(value, dict) else value))


def _is_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def known_device(request: Request) -> str:
    """The ``{device}`` of the path, which must be registered (404 otherwise)."""
    device = request.path_params["device"]
    if device not in parts(request).store.devices():
        raise Refused(404, "unknown_device", device)
    return device


def number(text: str | None, default: float) -> float:
    """A query parameter as a number (``default`` when absent or NaN; 400 when not a number)."""
    try:
        value = float(text) if text is not None else default
    except ValueError:
        raise Refused(400, "bad_query", f"{text!r} is not a number") from None
    return value if value == value else default
