"""Links between parties: latency, loss, and going down and up.

A link joins two parties (``node-1~broker``). A message sent over it arrives after
the link's latency, in order, unless the link is down when it is sent or goes
down while it is in flight (the connection over it breaks). Faults: ``loss`` (a fraction
of messages vanish), ``jitter`` (up to that many seconds more per message, order kept, as
TCP keeps it), ``duplicate`` (a fraction of messages arrive twice), and ``clog()`` (what is
sent waits, the connection stays open, until ``unclog()``). Everything a link
does is a world event, traced as ``link.down``, ``link.up``, ``link.changed``, ``link.clogged``,
``link.unclogged``. HTTP crosses a link through :class:`HttpOverLink`.
"""

from __future__ import annotations

from collections import deque
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
        self.jitter = 0.0
        self.duplicate = 0.0
        self.clogged = False
        self._held: list[tuple[Any, Callable[[Any], None]]] = []  # sent while clogged, in order
        self._last_due = 0.0  # with jitter: no message overtakes the one before
        self._noisy: deque = deque()  # (due, generation, message, deliver) in sending order
        self._noisy_armed = False  # a timer is set for the head of _noisy

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
        if self.clogged:
            self._held.append((message, deliver))
            return True
        if self.jitter or self.duplicate:
            self._send_noisy(message, deliver)
            return True
        if self.latency <= 0:
            deliver(message)
        else:
            # A timer, not a task: one kernel event per message instead of three.
            self._rt.call_later(self.latency, self._arrive, self._generation, message, deliver)
        return True

    def _send_noisy(self, message: Any, deliver: Callable[[Any], None]) -> None:
        # One queue, one timer at a time: a message never overtakes the one before (as on TCP), however the
        # jitter falls, and equal arrival times cannot be reordered by float rounding.
        rng = self._rt.rng(f"link/{self.name}/noise")
        now = self._rt.now()
        due = max(self._last_due, now + self.latency + rng.uniform(0, self.jitter))
        self._last_due = due
        copies = 2 if self.duplicate and rng.random() < self.duplicate else 1
        for _ in range(copies):
            self._noisy.append((due, self._generation, message, deliver))
        self._arm()

    def _arm(self) -> None:
        if self._noisy and not self._noisy_armed:
            self._noisy_armed = True
            self._rt.call_later(max(0.0, self._noisy[0][0] - self._rt.now()), self._noisy_next)

    def _noisy_next(self) -> None:
        self._noisy_armed = False
        _, generation, message, deliver = self._noisy.popleft()
        self._arrive(generation, message, deliver)  # may send on this link again: _arm() sees the timer's state
        self._arm()

    def _arrive(self, generation: int, message: Any, deliver: Callable[[Any], None]) -> None:
        if self.up and generation == self._generation:
            deliver(message)

    def set_down(self, reason: str = "fault") -> None:
        if not self.up:
            return
        self.up = False
        self._generation += 1
        self._held = []  # the connection broke: what waited in a clog is gone with it
        self._rt.trace("link.down", reason=reason)
        for on_down in list(self._watchers):
            on_down()

    def set_up(self) -> None:
        if self.up:
            return
        self.up = True
        self._rt.trace("link.up")

    def configure(self, *, latency: float | None = None, loss: float | None = None, jitter: float | None = None,
                  duplicate: float | None = None) -> None:
        if latency is not None:
            self.latency = latency
        if loss is not None:
            self.loss = loss
        noise = {}  # traced only when asked for: a plain latency or loss change traces as it always did
        if jitter is not None or duplicate is not None:
            self.jitter = self.jitter if jitter is None else jitter
            self.duplicate = self.duplicate if duplicate is None else duplicate
            noise = {"jitter": self.jitter, "duplicate": self.duplicate}
        self._rt.trace("link.changed", latency=self.latency, loss=self.loss, **noise)

    def clog(self) -> None:
        """Hold what is sent from now on, connections open, until :meth:`unclog`."""
        if not self.clogged:
            self.clogged = True
            self._rt.trace("link.clogged")

    def unclog(self) -> None:
        """Let what waited go, in order, each after the latency."""
        if not self.clogged:
            return
        self.clogged = False
        held, self._held = self._held, []
        self._rt.trace("link.unclogged", held=len(held))
        for message, deliver in held:
            self._rt.call_later(max(self.latency, 0.0), self._arrive, self._generation, message, deliver)


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
