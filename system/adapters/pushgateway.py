"""The live push target: a Prometheus Pushgateway (or any HTTP endpoint taking a POST) over httpx."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from system.errors import BackendError
from system.services.prometheus import CONTENT_TYPE


class PushgatewayTarget:
    """Live push target: ``POST <base_url>/metrics/job/<job>`` with the body, through ``client``.

    ``client`` is an ``httpx.AsyncClient`` (injected: the caller owns its lifetime and
    TLS/auth settings). Every failure, transport or HTTP status, becomes ``BackendError``.
    """

    def __init__(self, client: Any, base_url: str, *, timeout: float = 10.0):
        self.client = client
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def url(self, job: str) -> str:
        return f"{self.base_url}/metrics/job/{quote(job, safe='')}"

    async def push(self, job: str, body: str) -> None:
        url = self.url(job)
        try:
            response = await self.client.post(url, content=body.encode("utf-8"),
                                              headers={"Content-Type": CONTENT_TYPE}, timeout=self.timeout)
        except httpx.HTTPError as exc:
            raise BackendError(f"push to {url} failed: {exc!r}"[:300]) from exc
        if response.status_code >= 300:
            raise BackendError(f"push to {url} refused: HTTP {response.status_code} {response.text[:200]}")
