"""A minimal HTTP server for ``GET /metrics`` on asyncio (a live adapter, like uvicorn would be).

Prometheus scrapes with a plain GET; this answers that and nothing else (404 for
other paths, 405 for other methods), one request per connection, so no web
framework is needed. ``render`` is called per scrape and returns the exposition text.
"""

from __future__ import annotations

import asyncio
from typing import Callable

from system.services.prometheus import CONTENT_TYPE

MAX_HEAD = 8192
READ_TIMEOUT = 5.0


async def start_metrics_server(render: Callable[[], str], host: str = "127.0.0.1", port: int = 0, *,
                               path: str = "/metrics", content_type: str = CONTENT_TYPE) -> asyncio.Server:
    """Listen on ``host:port`` (0: a free port; read it from ``server.sockets[0]``) and answer ``GET path``
    (``/metrics``, or ``/healthz`` for a health check) with ``render()``."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT)
            method, _, rest = head.split(b"\r\n", 1)[0].decode("latin-1").partition(" ")
            asked = rest.split(" ", 1)[0].split("?", 1)[0]
            if method not in ("GET", "HEAD"):
                status, body, ctype = "405 Method Not Allowed", b"only GET\n", "text/plain"
            elif asked != path:
                status, body, ctype = "404 Not Found", f"try {path}\n".encode(), "text/plain"
            else:
                status, body, ctype = "200 OK", render().encode("utf-8"), content_type
            writer.write(f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
                         f"Connection: close\r\n\r\n".encode("latin-1") + (b"" if method == "HEAD" else body))
            await writer.drain()
        except (asyncio.TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass  # a client that sends nothing useful just gets closed
        finally:
            writer.close()

    return await asyncio.start_server(handle, host, port, limit=MAX_HEAD)
