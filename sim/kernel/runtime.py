"""The deterministic runtime: system coroutines driven as simpy processes.

A coroutine awaits a *trap*; a trap's ``__await__`` yields a simpy event, the
driver yields that event to simpy, and simpy sends the event's value back in.
Virtual time starts at the scenario's start (``rt.now()`` is epoch seconds), ties
break by simpy's insertion counter, so a run depends on nothing but its inputs.

Failures never vanish: an exception raised in a spawned task that nobody awaits
makes ``env.run`` raise it, so ``SimRuntime.run`` raises it too.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Awaitable, Callable, Coroutine

import simpy
from simpy.events import Timeout

from system.errors import QueueEmpty, QueueFull
from system.runtime import RuntimeBase
from system.trace import Trace


class Cancelled(BaseException):
    """Raised inside a cancelled task at its pending await (like asyncio.CancelledError)."""


_CANCELLED = object()  # a cancelled task's process value


class _Trap:
    """Awaitable wrapper around any simpy event."""

    __slots__ = ("event",)

    def __init__(self, event: simpy.Event):
        self.event = event

    def __await__(self):
        return (yield self.event)

    __iter__ = __await__


class _Sleep(Timeout):
    """A simpy timeout that can be awaited directly: the hot path of every loop.

    Its value is always None, so the awaiting coroutine can delegate to a C-level
    one-item iterator instead of a generator frame (simpy sends None back in; a
    thrown exception surfaces at the ``await``, as it would from a generator).
    """

    def __await__(self):
        return iter((self,))

    __iter__ = __await__


class SimTask:
    """A spawned coroutine; ``await task`` gives its result or raises its exception."""

    def __init__(self, rt: "SimRuntime", coro: Coroutine, name: str):
        self.name = name
        self._coro = coro
        self._cancel_before_start = False
        self._proc = rt.env.process(self._drive(coro))

    def _drive(self, coro):
        if self._cancel_before_start:
            coro.close()
            return _CANCELLED
        send, throw = coro.send, coro.throw
        value: Any = None
        exc: BaseException | None = None
        while True:
            try:
                event = throw(exc) if exc is not None else send(value)
            except StopIteration as stop:
                return stop.value
            except Cancelled:
                return _CANCELLED
            try:
                value = yield event
                exc = None
            except simpy.Interrupt as interrupt:
                _abandon(event)
                value, exc = None, interrupt.cause
            except GeneratorExit:  # the environment is being discarded with this task pending
                coro.close()
                raise
            except BaseException as failure:  # a failed event is thrown into the awaiting task
                value, exc = None, failure

    def cancel(self) -> None:
        """Raise ``Cancelled`` in the task at its pending await; no-op once it has finished."""
        proc = self._proc
        if not proc.is_alive:
            return
        if isinstance(proc.target, simpy.events.Initialize):
            self._cancel_before_start = True
            return
        proc.interrupt(Cancelled())

    def done(self) -> bool:
        return not self._proc.is_alive

    def cancelled(self) -> bool:
        return self.done() and self._proc.ok and self._proc.value is _CANCELLED

    def __await__(self):
        value = yield self._proc
        if value is _CANCELLED:
            raise Cancelled()
        return value

    __iter__ = __await__


def _abandon(event: simpy.Event) -> None:
    """Withdraw an interrupted task's claim on a queue so no item is swallowed."""
    if isinstance(event, _QueueGet):
        event.queue._withdraw(event)


class _Ready:
    """An awaitable whose value is already there: ``await`` returns it without a kernel event."""

    __slots__ = ("value",)

    def __init__(self, value: Any):
        self.value = value

    def __await__(self):
        return self.value
        yield  # a generator that returns at once: the awaiting task does not yield to the kernel

    __iter__ = __await__


class _QueueGet(simpy.Event):
    """A task waiting for a queue item; the queue succeeds it with the item."""

    def __init__(self, env: simpy.Environment, queue: "SimQueue"):
        super().__init__(env)
        self.queue = queue


class SimQueue:
    """FIFO queue: ``put_nowait(item)``, ``get_nowait()`` and ``await get()``; bounded when maxsize > 0.

    A put hands the item straight to the oldest waiting task (one kernel event); a get
    finds an item already queued and returns it without any kernel event.
    """

    def __init__(self, env: simpy.Environment, maxsize: int = 0):
        self.maxsize = maxsize
        self._env = env
        self._items: deque = deque()
        self._getters: deque[_QueueGet] = deque()  # non-empty only while _items is empty

    def put_nowait(self, item: Any) -> None:
        if self._getters:
            self._getters.popleft().succeed(item)
            return
        if self.maxsize > 0 and len(self._items) >= self.maxsize:
            raise QueueFull(f"queue full ({self.maxsize} items)")
        self._items.append(item)

    def get(self) -> Awaitable[Any]:
        if self._items:
            return _Ready(self._items.popleft())
        getter = _QueueGet(self._env, self)
        self._getters.append(getter)
        return _Trap(getter)

    def get_nowait(self) -> Any:
        """The oldest item, without waiting; raises QueueEmpty when there is none."""
        if not self._items:
            raise QueueEmpty("queue empty")
        return self._items.popleft()

    def _withdraw(self, getter: _QueueGet) -> None:
        """A waiting task was interrupted: forget it, and pass on an item it was handed but never took."""
        if not getter.triggered:
            self._getters.remove(getter)
        elif getter.ok:
            if self._getters:
                self._getters.popleft().succeed(getter.value)
            else:
                self._items.appendleft(getter.value)

    def qsize(self) -> int:
        return len(self._items)

    def empty(self) -> bool:
        return not self._items


class SimEvent:
    """A flag tasks can wait for: ``set()``, ``is_set()``, ``clear()``, ``await wait()``."""

    def __init__(self, env: simpy.Environment):
        self._env = env
        self._event = env.event()

    def set(self) -> None:
        if not self._event.triggered:
            self._event.succeed()

    def is_set(self) -> bool:
        return self._event.triggered

    def clear(self) -> None:
        if self._event.triggered:
            self._event = self._env.event()

    def wait(self) -> Awaitable[bool]:
        return _Trap(self._event if not self._event.triggered else self._env.timeout(0, True))


class SimRuntime(RuntimeBase):
    """The runtime API on a simpy environment; ``now()`` is ``start + env.now``."""

    Cancelled = Cancelled

    def __init__(self, *, seed: int = 0, start: float = 0.0, trace: Trace | None = None,
                 src: str = "world", env: simpy.Environment | None = None):
        super().__init__(seed=seed, start=start, trace=trace, src=src)
        self.env = env or simpy.Environment()

    def now(self) -> float:
        return self.start + self.env.now

    def sleep(self, seconds: float) -> Awaitable[None]:
        return _Sleep(self.env, seconds if seconds > 0 else 0.0)

    def spawn(self, coro: Coroutine, name: str = "task") -> SimTask:
        return SimTask(self, coro, name)

    def call_later(self, seconds: float, fn: Callable[..., Any], *args: Any) -> None:
        """Call ``fn(*args)`` after ``seconds`` of virtual time: one kernel event, no task.

        For world models that only need a delay (a message in flight on a link): a spawned
        task would cost three events and a coroutine. An exception ``fn`` raises ends the run.
        """
        Timeout(self.env, seconds if seconds > 0 else 0.0).callbacks.append(lambda _event: fn(*args))

    def queue(self, maxsize: int = 0) -> SimQueue:
        return SimQueue(self.env, maxsize)

    def event(self) -> SimEvent:
        return SimEvent(self.env)

    async def wait_for(self, aw: Awaitable, timeout: float | None) -> Any:
        """Await ``aw`` for at most ``timeout`` seconds; then cancel it and raise TimeoutError."""
        if timeout is None:
            return await aw
        if type(aw) is _Trap and type(aw.event) in (simpy.Event, Timeout):
            return await self._wait_event(aw.event, timeout)
        task = aw if isinstance(aw, SimTask) else self.spawn(_as_coroutine(aw), "wait_for")
        timer = self.env.timeout(max(0.0, timeout))
        try:
            await _Trap(self.env.any_of([task._proc, timer]))
        except Cancelled:
            task.cancel()
            raise
        if task._proc.triggered:
            return await task
        task.cancel()
        raise TimeoutError(f"timed out after {timeout} s")

    async def _wait_event(self, event: simpy.Event, timeout: float) -> Any:
        """``wait_for`` on a plain event (a flag being set): no task, the first of event and timer wakes us."""
        if event.processed:
            return event.value
        wake = self.env.event()
        timer = self.env.timeout(max(0.0, timeout))

        def first(which: simpy.Event) -> None:
            if not wake.triggered:
                wake.succeed(which)

        event.callbacks.append(first)
        timer.callbacks.append(first)
        if await _Trap(wake) is timer:
            raise TimeoutError(f"timed out after {timeout} s")
        return event.value

    def run(self, main: Coroutine | None = None, until: float | None = None) -> Any:
        """Run ``main`` (and everything it spawns) until it returns or ``until`` seconds pass.

        Returns main's result if it finished. Raises the first exception of any task
        that nobody awaited.
        """
        task = self.spawn(main, "main") if main is not None else None
        if until is None:
            if task is None:
                self.env.run()
                return None
            return _unwrap(self.env.run(until=task._proc))
        self.env.run(until=self.env.now + until)
        if task is not None and task._proc.triggered:
            return _unwrap(task._proc.value)
        return None


def _unwrap(value: Any) -> Any:
    if value is _CANCELLED:
        raise Cancelled()
    return value


async def _as_coroutine(aw: Awaitable) -> Any:
    return await aw
