"""Links between parties: latency, loss, and going down and up.

A link joins two parties (``node-1~broker``). A message sent over it arrives after
the link's latency, in order, unless the link is down when it is sent or goes
down while it is in flight (the connection over it breaks). Everything a link
does is a world event, traced as ``link.down``, ``link.up``, ``link.changed``. HTTP crosses a
link through :class:`HttpOverLink`.
"""

from __future__ import annotations

from typing import Any, Callable

import httpx


def link_name(a: str, b: str) -> str:
    return f"{a}~{b}"


class Link:
    """A two-way link; ``watch(fn)`` registers a callback run when it goes down."""

    def __init__(self, rt, a: str, b: str, *, latency: float = 0.005, loss: float = 0.0):
        self.name = link_name(a, b)
        self.a, self.b = a, b
        self.latency = latency
        self.loss = loss
        self.up = True
        self._rt = rt.child(self.name)
        self._loss_rng = rt.rng(f"link/{self.name}/loss")
        self._generation = 0  # bumps on every outage; messages of older generations are dropped
        self._watchers: list[Callable[[], None]] = []

    def watch(self, on_down: Callable[[], None]) -> Callable[[], None]:
        """Call ``on_down`` when the link goes down; returns a function that unregisters it."""
        self._watchers.append(on_down)
        return lambda: self._watchers.remove(on_down) if on_down in self._watchers else None

    def send(self, message: Any, deliver: Callable[[Any], None]) -> bool:
        """Carry ``message`` to ``deliver`` after the latency; False if it was dropped at once."""
        if not self.up:
            return False
        if self.loss and self._loss_rng.random() < self.loss:
            return True  # lost on the way: the sender cannot tell
        if self.latency <= 0:
            deliver(message)
        else:
            # A timer, not a task: one kernel event per message instead of three.
            self._rt.call_later(self.latency, self._arrive, self._generation, message, deliver)
        return True

    def _arrive(self, generation: int, message: Any, deliver: Callable[[Any], None]) -> None:
        if self.up and generation == self._generation:
            deliver(message)

    def set_down(self, reason: str = "fault") -> None:
        if not self.up:
            return
        self.up = False
        self._generation += 1
        self._rt.trace("link.down", reason=reason)
        for on_down in list(self._watchers):
            on_down()

    def set_up(self) -> None:
        if self.up:
            return
        self.up = True
        self._rt.trace("link.up")

    def configure(self, *, latency: float | None = None, loss: float | None = None) -> None:
        if latency is not None:
            self.latency = latency
        if loss is not None:
            self.loss = loss
        self._rt.trace("link.changed", latency=self.latency, loss=self.loss)


class Network:
    """All links of a world, by name; a party may reach another only over its link."""

    def __init__(self, rt):
        self._rt = rt
        self.links: dict[str, Link] = {}

    def link(self, a: str, b: str, **options) -> Link:
        name = link_name(a, b)
        if name not in self.links:
            self.links[name] = Link(self._rt, a, b, **options)
        return self.links[name]

    def get(self, name: str) -> Link:
        try:
            return self.links[name]
        except KeyError:
            raise KeyError(f"no link {name!r}; links are {', '.join(sorted(self.links))}") from None


class HttpOverLink(httpx.AsyncBaseTransport):
    """HTTP that only gets through while ``link`` is up: a down link refuses to connect, as a dead
    internet connection does. Wraps the transport of whatever serves the other end."""

    def __init__(self, link: Link, inner: httpx.AsyncBaseTransport):
        self.link, self.inner = link, inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not self.link.up:
            raise httpx.ConnectError(f"{self.link.name} is down", request=request)
        return await self.inner.handle_async_request(request)
