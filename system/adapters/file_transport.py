"""``file://`` URLs for httpx: a controller can follow a page or feed on its own disk (a demo season, a file
another tool keeps up to date) through the same HTTP client and scraper as a club's web page."""

from __future__ import annotations

import mimetypes
from pathlib import Path
from urllib.parse import unquote

import httpx

mimetypes.add_type("text/calendar", ".ics")


class FileTransport(httpx.AsyncBaseTransport):
    """GET ``file://localhost/path`` (httpx needs the host): 200 with the file's bytes and a content type by suffix, 404 when it is missing."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method not in ("GET", "HEAD"):
            return httpx.Response(405, request=request)
        path = Path(unquote(request.url.path))
        try:
            body = path.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return httpx.Response(404, text=f"no file {path}", request=request)
        except OSError as exc:
            return httpx.Response(403, text=f"cannot read {path}: {exc.strerror}", request=request)
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return httpx.Response(200, content=body if request.method == "GET" else b"", request=request,
                              headers={"content-type": kind})
