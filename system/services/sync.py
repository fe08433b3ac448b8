"""Cloud sync: the store's outbox copied to the cloud mirror, in order, in batches, each change once.

The protocol (the cloud side is :meth:`system.adapters.cloud_store.CloudStore.apply_sync`):

- ``POST <cloud>/api/device/<name>/sync`` with ``{"base": acked, "last": newest, "changes": [...]}``:
  the oldest unacknowledged outbox changes, ids ascending. The cloud applies those above its last
  applied position, in order, and answers that position; the device then drops the outbox up to it.
  A replayed batch (the answer was lost, the device restarted) changes nothing, so nothing is lost and
  nothing applied twice, however the link or the process fails in between.
- The cloud answers 409 ``{"resync": reason}`` when the mirror cannot follow: it lost changes the
  device already dropped (the mirror was reset or restored from a backup) or it is ahead of the device
  (the device's store was replaced). The device then sends ``POST .../snapshot`` with the whole store
  and the outbox position it includes, and carries on with the changes after it.

The service syncs when the store changes (after a scrape that changed something, after a job, after an
alert fired) and at least every ``every`` seconds; failures are retried with capped, jittered backoff.
Trace: ``sync.pushed`` (a batch the cloud took), ``sync.resynced``, ``sync.failed``.
"""

from __future__ import annotations

from typing import Any

import httpx

from firmware.backoff import next_backoff
from system.errors import BackendError
from system.ports import OutboxStore


class HttpMirror:
    """The hilsim cloud as the sync's transport: ``POST .../sync`` and ``.../snapshot`` over ``client``.

    Another transport (:class:`system.adapters.aws_cloud.DynamoMirror`) has the same two methods.
    """

    def __init__(self, client: httpx.AsyncClient, url: str, device: str, token: str):
        self.client = client
        self.base = url.rstrip("/") + f"/api/device/{device}"
        self.headers = {"Authorization": f"Bearer {token}"}

    async def sync(self, body: dict) -> tuple[int, dict]:
        """Send a batch; answers (200, {"applied": n}) or (409, {"resync": reason})."""
        response = await self._post("/sync", body)
        return response.status_code, _json(response)

    async def snapshot(self, body: dict) -> int:
        return (await self._post("/snapshot", body)).status_code

    async def _post(self, path: str, body: dict) -> httpx.Response:
        try:
            response = await self.client.post(self.base + path, json=body, headers=self.headers)
        except httpx.HTTPError as exc:
            raise BackendError(f"cloud unreachable: {type(exc).__name__}: {exc}") from exc
        if response.status_code not in (200, 409):
            raise BackendError(f"cloud answered {response.status_code}: {response.text[:200]}")
        return response


class Sync:
    """Service: keeps the cloud mirror of ``store`` current over ``client`` (an ``httpx.AsyncClient``), or
    through another ``mirror`` transport (DynamoDB)."""

    def __init__(self, rt: Any, store: OutboxStore, client: httpx.AsyncClient | None, url: str, device: str,
                 token: str, *, batch: int = 200, every: float = 300.0, retry_cap: float = 300.0,
                 mirror: Any = None):
        self.rt = rt
        self.store = store
        self.client = client
        self.mirror = mirror if mirror is not None else HttpMirror(client, url, device, token)
        self.batch = batch
        self.every = every
        self.retry_cap = retry_cap
        self.pushed = 0
        self.resyncs = 0
        self.failures = 0
        self.last_ok: float | None = None
        self._wake = rt.event()
        store.on_change(self._wake.set)

    def wake(self) -> None:
        """Sync soon (a job finished, a scrape changed something)."""
        self._wake.set()

    async def sync_once(self) -> bool:
        """Push everything pending (a full snapshot if the cloud asks); True when the outbox is empty."""
        while True:
            acked, last = self.store.outbox_position()
            changes = self.store.outbox_pending(self.batch)
            body = {"base": acked, "last": last,
                    "changes": [{"id": c.id, "table": c.table, "key": c.key, "payload": c.payload} for c in changes]}
            status, answer = await self.mirror.sync(body)
            if status == 409:
                await self._resync(str(answer.get("resync")))
                continue
            applied = answer.get("applied")
            if not isinstance(applied, int):
                raise BackendError(f"cloud answer without a position: {str(answer)[:200]}")
            if changes:
                self.store.outbox_ack(min(applied, changes[-1].id))
                self.pushed += 1
                self.rt.trace("sync.pushed", changes=len(changes), applied=applied)
            if len(changes) < self.batch:
                self.last_ok = self.rt.now()
                return True

    async def _resync(self, reason: str) -> None:
        upto, rows = self.store.snapshot()
        status = await self.mirror.snapshot({"upto": upto, "rows": rows})
        if status != 200:
            raise BackendError(f"snapshot refused: HTTP {status}")
        self.store.outbox_ack(upto)
        self.resyncs += 1
        self.rt.trace("sync.resynced", reason=reason, upto=upto, rows=sum(len(k) for k in rows.values()))

    async def run(self) -> None:
        attempt = 0
        rng = self.rt.rng("controller/sync")
        while True:
            self._wake.clear()
            try:
                await self.sync_once()
                attempt = 0
            except BackendError as exc:
                attempt += 1
                self.failures += 1
                wait = next_backoff(attempt, rng, base=5.0, cap=self.retry_cap)
                self.rt.trace("sync.failed", error=str(exc)[:200], retry_in=wait)
                await self.rt.sleep(wait)  # changes meanwhile wait for the retry: no hammering a dead link
                continue
            try:
                await self.rt.wait_for(self._wake.wait(), self.every)
            except TimeoutError:
                pass


def _json(response: httpx.Response) -> dict:
    try:
        body = response.json()
    except ValueError as exc:
        raise BackendError(f"cloud answer is not JSON: {response.text[:200]}") from exc
    if not isinstance(body, dict):
        raise BackendError("cloud answer is not an object")
    return body
