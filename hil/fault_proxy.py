"""A TCP fault proxy in front of the broker: one link of the world, with real bytes on it.

Clients connect to the proxy's port instead of the broker's; every connection is
piped to the broker. The link's faults act on the bytes:

- ``cut()``: open connections are aborted and new ones are accepted and closed at once
  (the board sees a dead link, as when the access point's uplink fails), until
  ``restore()``;
- ``delay(seconds)``: each chunk is delivered that much later, in order; ``jitter`` adds up to that
  many seconds more to each chunk (drawn from a seeded stream), still in order;
- ``clog()``: chunks wait, connections stay open, until ``unclog()``;
- ``throttle(bytes_per_second)``: each direction is paced to that rate;
- ``reset()``: open connections get a TCP RST now; new ones are let through.

``configure(latency=None, rate=None)`` clears delay and throttle. Link state changes are
traced as ``link.down`` / ``link.up`` / ``link.degraded`` / ``link.reset`` with the link's name.

:class:`ProxyLink` is the proxy as the world's link control (``sim.scenario.controls.LinkControl``), so
the scenario's link faults apply to it exactly as to a simulated link. TCP carries no loss: the proxy
cannot drop or duplicate packets, so a scenario asking for loss or duplication on it is refused when it
loads (``PROXY``).
"""

from __future__ import annotations

import asyncio
import random
import socket
import struct
from typing import Any

from sim.scenario.controls import Backend
from system.errors import BackendError

PROXY = Backend("a TCP fault proxy", cannot={
    "packet loss": "TCP carries no loss: the fault proxy cannot drop packets (latency, down and up work)",
    "duplication": "TCP delivers each byte once: the fault proxy cannot duplicate packets"})


class FaultProxy:
    """One link (e.g. ``node-1~broker``) as a TCP proxy to ``target``; ``await start()``, ``await stop()``."""

    def __init__(self, link: str, target_host: str, target_port: int, *, listen_host: str = "127.0.0.1",
                 listen_port: int = 0, rt: Any = None):
        self.link = link
        self.target = (target_host, target_port)
        self.listen = (listen_host, listen_port)
        self.rt = rt
        self.is_cut = False
        self.latency = 0.0
        self.rate: float | None = None
        self.jitter = 0.0
        self._jitter_rng = random.Random(f"jitter/{link}")  # a wall-clock run is not replayed: any fixed seed
        self._flowing = asyncio.Event()  # cleared while clogged
        self._flowing.set()
        self.accepted = 0
        self.refused = 0
        self._server: asyncio.Server | None = None
        self._conns: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self._tasks: set[asyncio.Task] = set()

    @property
    def port(self) -> int:
        assert self._server is not None, "start() first"
        return self._server.sockets[0].getsockname()[1]

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._client, *self.listen)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        self._abort_all()
        for task in list(self._tasks):
            task.cancel()
        if self._server is not None:
            await self._server.wait_closed()

    # --- faults -------------------------------------------------------------------------

    def cut(self, reason: str = "cut") -> None:
        if not self.is_cut:
            self.is_cut = True
            self._trace("link.down", reason=reason)
        self._abort_all()

    def restore(self) -> None:
        if self.is_cut:
            self.is_cut = False
            self._trace("link.up")

    def delay(self, seconds: float) -> None:
        self.configure(latency=seconds, rate=self.rate)

    def throttle(self, bytes_per_second: float) -> None:
        self.configure(latency=self.latency, rate=bytes_per_second)

    def configure(self, latency: float | None = None, rate: float | None = None) -> None:
        self.latency = latency or 0.0
        self.rate = rate
        self._trace("link.degraded", latency=self.latency, rate=self.rate)

    def clog(self) -> None:
        if self._flowing.is_set():
            self._flowing.clear()
            self._trace("link.clogged")

    def unclog(self) -> None:
        if not self._flowing.is_set():
            self._flowing.set()
            self._trace("link.unclogged")

    def reset(self) -> None:
        self._trace("link.reset", connections=len(self._conns))
        self._abort_all()

    # --- plumbing -----------------------------------------------------------------------

    def _trace(self, kind: str, **fields: Any) -> None:
        if self.rt is not None:
            self.rt.trace(kind, link=self.link, **fields)

    def _abort_all(self) -> None:
        for pair in list(self._conns):
            for writer in pair:
                _abort(writer)
        self._conns.clear()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.is_cut:
            self.refused += 1
            _abort(writer)
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            self.refused += 1
            _abort(writer)
            return
        self.accepted += 1
        pair = (writer, up_writer)
        self._conns.add(pair)
        pumps = [asyncio.ensure_future(self._pump(reader, up_writer, pair)),
                 asyncio.ensure_future(self._pump(up_reader, writer, pair))]
        self._tasks.update(pumps)
        try:
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            pass  # the run is ending: Python 3.11's asyncio.streams logs a cancelled handler as an error
        finally:
            for task in pumps:
                task.cancel()
                self._tasks.discard(task)
            self._conns.discard(pair)
            for w in pair:
                w.close()

    async def _pump(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, pair) -> None:
        # Chunks are queued with their due time, so a delay shifts the stream without reordering it.
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()

        async def deliver() -> None:
            while True:
                due, data = await queue.get()
                if data is None:
                    return
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                await self._flowing.wait()
                if self.rate:  # paced: a chunk leaves when the link would have carried it
                    await asyncio.sleep(len(data) / self.rate)
                if pair not in self._conns:
                    return
                dst.write(data)
                await dst.drain()

        writer_task = asyncio.ensure_future(deliver())
        last = 0.0  # the due time of the chunk before: jitter never reorders
        try:
            while True:
                data = await src.read(4096)
                if not data:
                    break
                last = max(last, loop.time() + self.latency + self._jitter_rng.uniform(0, self.jitter))
                await queue.put((last, data))
            await queue.put((loop.time() + self.latency, None))
            await writer_task
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            writer_task.cancel()


class ProxyLink:
    """A fault proxy as the world's link control: down and up, latency and jitter, clogging (no loss, no
    duplication)."""

    loss = 0.0
    duplicate = 0.0

    def __init__(self, proxy: FaultProxy):
        self.proxy = proxy
        self.name = proxy.link

    @property
    def latency(self) -> float:
        return self.proxy.latency

    def set_down(self, reason: str = "fault") -> None:
        self.proxy.cut(reason)

    def set_up(self) -> None:
        self.proxy.restore()

    @property
    def jitter(self) -> float:
        return self.proxy.jitter

    def configure(self, *, latency: float | None = None, loss: float | None = None, jitter: float | None = None,
                  duplicate: float | None = None) -> None:
        if loss:
            raise BackendError(f"{self.name}: {PROXY.cannot['packet loss']}")  # refused when loading
        if duplicate:
            raise BackendError(f"{self.name}: {PROXY.cannot['duplication']}")  # refused when loading
        if jitter is not None:
            self.proxy.jitter = jitter
        self.proxy.configure(latency=self.proxy.latency if latency is None else latency, rate=self.proxy.rate)

    def clog(self) -> None:
        self.proxy.clog()

    def unclog(self) -> None:
        self.proxy.unclog()


def _abort(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP RST (SO_LINGER 0), as a dropped link looks to the peer."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    writer.transport.abort()
