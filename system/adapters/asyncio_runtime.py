"""The live runtime: the same API on asyncio and the wall clock.

One of the two places asyncio is allowed (the other is the live adapters). An
exception in a spawned task that nobody awaits stops ``run`` and is raised from
it, as in the sim runtime, instead of asyncio's "exception was never retrieved".
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Awaitable, Callable, Coroutine

from system.errors import QueueEmpty, QueueFull
from system.runtime import RuntimeBase
from system.trace import Trace


class LiveTask:
    """A spawned coroutine on the running loop; awaitable like the sim task."""

    def __init__(self, rt: "AsyncioRuntime", coro: Coroutine, name: str):
        self.name = name
        self._rt = rt
        self._awaited = False
        self._task = asyncio.get_running_loop().create_task(coro, name=name)
        self._task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task) -> None:
        if task.cancelled() or self._awaited:
            return
        exc = task.exception()
        if exc is not None:
            self._rt._crash(exc)

    def cancel(self) -> None:
        self._task.cancel()

    def done(self) -> bool:
        return self._task.done()

    def cancelled(self) -> bool:
        return self._task.cancelled()

    def __await__(self):
        self._awaited = True
        return self._task.__await__()


class _Queue(asyncio.Queue):
    def put_nowait(self, item: Any) -> None:
        try:
            super().put_nowait(item)
        except asyncio.QueueFull:
            raise QueueFull(f"queue full ({self.maxsize} items)") from None

    def get_nowait(self) -> Any:
        try:
            return super().get_nowait()
        except asyncio.QueueEmpty:
            raise QueueEmpty("queue empty") from None


class AsyncioRuntime(RuntimeBase):
    """The runtime API on asyncio; ``now()`` reads ``clock`` (default ``time.time``)."""

    Cancelled = asyncio.CancelledError

    def __init__(self, *, seed: int = 0, trace: Trace | None = None, src: str = "world",
                 clock: Callable[[], float] = time.time):
        super().__init__(seed=seed, start=clock(), trace=trace, src=src)
        self._clock = clock
        self._failure: list[BaseException] = []
        self._failed: asyncio.Event | None = None

    def now(self) -> float:
        return self._clock()

    def sleep(self, seconds: float) -> Awaitable[None]:
        return asyncio.sleep(max(0.0, seconds))

    def spawn(self, coro: Coroutine, name: str = "task") -> LiveTask:
        return LiveTask(self, coro, name)

    def call_later(self, seconds: float, fn: Callable[..., Any], *args: Any) -> None:
        """Call ``fn(*args)`` after ``seconds``; an exception it raises ends ``run`` as a task's would."""
        def call() -> None:
            try:
                fn(*args)
            except Exception as exc:
                self._crash(exc)

        asyncio.get_running_loop().call_later(max(0.0, seconds), call)

    def queue(self, maxsize: int = 0) -> asyncio.Queue:
        return _Queue(maxsize)

    def event(self) -> asyncio.Event:
        return asyncio.Event()

    async def wait_for(self, aw: Awaitable, timeout: float | None) -> Any:
        return await asyncio.wait_for(aw, timeout)

    def _crash(self, exc: BaseException) -> None:
        self._failure.append(exc)
        if self._failed is not None:
            self._failed.set()

    def run(self, main: Coroutine | None = None, until: float | None = None) -> Any:
        """Run ``main`` on a new event loop until it returns or ``until`` seconds pass."""
        return asyncio.run(self.serve(main, until))

    async def serve(self, main: Coroutine | None = None, until: float | None = None) -> Any:
        """``run`` for callers already inside an event loop."""
        self.start = self.now()
        self._failed = asyncio.Event()
        if self._failure:
            self._failed.set()
        waiters = {asyncio.ensure_future(self._failed.wait())}
        main_task = None
        if main is not None:
            main_task = self.spawn(main, "main")
            main_task._awaited = True
            waiters.add(main_task._task)
        try:
            await asyncio.wait(waiters, timeout=until, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waiters:
                if w is not (main_task and main_task._task):
                    w.cancel()
        if self._failure:
            if main_task is not None:
                main_task.cancel()
            raise self._failure[0]
        if main_task is not None and main_task.done():
            return main_task._task.result()
        if main_task is not None:
            main_task.cancel()
        return None
