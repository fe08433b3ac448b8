"""An in-process cloud for tests: the real app over httpx's ASGI transport, a user and two devices."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

import httpx

from system.adapters.asyncio_runtime import AsyncioRuntime
from system.cloud.app import CloudSettings, create_app
from system.adapters.cloud_store import CloudStore

PASSWORD = "correct horse"


@dataclass
class Cloud:
    store: CloudStore
    app: object
    tokens: dict
    loop: asyncio.AbstractEventLoop

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app, client=("10.0.0.9", 1234)),
                                 base_url="http://cloud")

    def run(self, coro):
        return self.loop.run_until_complete(coro)

    def fingerprint(self) -> list[str]:
        """Everything the store holds (the session secret row included)."""
        return list(self.store.db.iterdump())


def make_cloud(loop, **settings) -> Cloud:
    store = CloudStore()
    store.add_user("ann", PASSWORD, time_cost=1, memory_cost=1024)
    tokens = {name: store.add_device(name, 0.0) for name in ("pi", "cam")}
    app = create_app(store, AsyncioRuntime(), settings=CloudSettings(**settings))
    return Cloud(store, app, tokens, loop)


async def login(client: httpx.AsyncClient, user: str = "ann", password: str = PASSWORD) -> httpx.Response:
    page = await client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    return await client.post("/login", data={"csrf": csrf, "username": user, "password": password})


async def logged_in(cloud: Cloud) -> tuple[httpx.AsyncClient, str]:
    """A client with a session, and the session's CSRF token."""
    client = cloud.client()
    await login(client)
    me = await client.get("/api/me")
    return client, me.json()["csrf"]
