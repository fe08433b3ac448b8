"""One way to run a long-running live command (broker, bridge, controller, and those to come).

``run_process`` makes the asyncio runtime and its trace, calls the command's
``build(rt, stack)`` to start its parts, runs until SIGINT or SIGTERM (or ``until``
seconds), then shuts the parts down in the reverse order of their start. ``build``
registers each part's shutdown on the ``contextlib.AsyncExitStack`` it is given,
right before starting it: ``start_part`` for objects with ``start()``/``stop()``,
``spawn_service`` for service loops, ``stack.enter_async_context`` for clients. A
part that fails to start still has the parts before it stopped.

Signals are handled on the event loop (``loop.add_signal_handler``): a signal
only sets the stop event, so shutdown runs as ordinary code, never from inside
whatever ``await`` the signal happened to interrupt.

State changes go to stderr as one line each (see ``hilsim/wiring/state_lines.py``),
whether or not the trace is written anywhere; ``stopped`` is traced here, with
the reason.
"""

from __future__ import annotations

import asyncio
import secrets
import signal
import sys
from contextlib import AsyncExitStack
from typing import IO, Any, Awaitable, Callable, Coroutine, Protocol, TextIO, TypeVar

from hilsim.wiring.state_lines import JsonLines, StateLines
from system.adapters.asyncio_runtime import AsyncioRuntime, LiveTask
from system.trace import LineFlushed, Trace

SIGNALS = (signal.SIGINT, signal.SIGTERM)

Build = Callable[[AsyncioRuntime, AsyncExitStack], Awaitable[None]]


class Part(Protocol):
    """Something a process starts and stops (``LiveBridge``, ``EmbeddedBroker``)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


P = TypeVar("P", bound=Part)


async def start_part(stack: AsyncExitStack, part: P) -> P:
    """Start ``part``; its ``stop()`` runs at shutdown, and also if ``start()`` fails half-way."""
    stack.push_async_callback(part.stop)
    await part.start()
    return part


async def spawn_service(rt: AsyncioRuntime, stack: AsyncExitStack, coro: Coroutine, name: str) -> LiveTask:
    """Run a service loop as a task; at shutdown it is cancelled and waited for."""
    task = rt.spawn(coro, name)

    async def cancel() -> None:
        task.cancel()
        try:
            await task
        except BaseException:  # cancelled, as asked; a failure was already raised by the runtime
            pass

    stack.push_async_callback(cancel)
    return task


def run_process(name: str, build: Build, *, header: dict[str, Any], trace_file: IO[str] | None = None,
                until: float | None = None, stderr: TextIO | None = None, json_logs: bool = False) -> str:
    """Run the command ``name`` until SIGINT/SIGTERM or ``until`` seconds; returns why it stopped.

    ``header`` goes into the trace's first line; ``trace_file`` (``--trace``) gets every line,
    flushed one by one; ``stderr`` (default ``sys.stderr``) gets the state lines (JSON objects with ``json_logs``).
    A ConfigError or BackendError raised while building comes out of here unchanged.
    """
    trace = Trace(header, sink=LineFlushed(trace_file) if trace_file else None, keep=False)
    # A live process draws its random streams (job ids, backoff jitter) from a seed nobody can guess or share.
    rt = AsyncioRuntime(seed=secrets.randbits(64), trace=trace)
    lines = JsonLines if json_logs else StateLines
    trace.listen(lines(name, stderr or sys.stderr, epoch=lambda: rt.start))
    return rt.run(_lifetime(rt, name, build, until))


async def _lifetime(rt: AsyncioRuntime, name: str, build: Build, until: float | None) -> str:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    reasons: list[str] = []

    def on_signal(sig: signal.Signals) -> None:
        reasons.append(sig.name)
        stop.set()

    for sig in SIGNALS:
        loop.add_signal_handler(sig, on_signal, sig)
    try:
        async with AsyncExitStack() as stack:
            await build(rt, stack)
            try:
                await asyncio.wait_for(stop.wait(), until)
            except TimeoutError:
                reasons.append(f"--for {until:g} s elapsed")
    finally:
        for sig in SIGNALS:
            loop.remove_signal_handler(sig)
    reason = reasons[0]
    rt.child(name).trace("process.stopped", reason=reason)
    return reason
