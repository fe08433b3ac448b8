# The runtime API (see DESIGN.md) on asyncio: MicroPython's on the board, CPython's elsewhere.
#
# now, sleep, spawn, event, queue, wait_for, rng, trace: the subset the node uses, so the
# same node coroutines that run on the sim runtime run here. ``trace`` hands each line to
# a sink (the console). MicroPython's asyncio has no Queue and its random module no
# Random class, so both are small classes here.

import asyncio
import random
import time

MICROPYTHON = not hasattr(asyncio, "Queue")  # the one capability difference that matters here


class Rng:
    # A stream with .random(), drawing from the board's random module (hardware RNG on ESP32).
    def __init__(self, seed_text):
        self.name = seed_text

    def random(self):
        return random.getrandbits(24) / 16777216.0


class Queue:
    # put_nowait(item), await get(): enough for the console command queue.
    def __init__(self, maxsize=0):
        self.items = []
        self.maxsize = maxsize
        self._ready = asyncio.Event()

    def put_nowait(self, item):
        if self.maxsize and len(self.items) >= self.maxsize:
            raise OverflowError("queue full")
        self.items.append(item)
        self._ready.set()

    async def get(self):
        while not self.items:
            self._ready.clear()
            await self._ready.wait()
        return self.items.pop(0)


class BoardRuntime:
    def __init__(self, trace_sink=None, clock=None):
        self._sink = trace_sink
        self._clock = clock
        self._mono = 0.0
        self._ticks = time.ticks_ms() if MICROPYTHON else 0
        self.start = self.now()
        self.failures = []  # exceptions of spawned tasks, reported by the sink too

    def now(self):
        # Seconds on a clock that only moves forward: on the board, SNTP setting the RTC must not move
        # uptime, fault windows or backoff (the wall time of readings is the HAL clock's).
        if self._clock is not None:
            return self._clock()
        if MICROPYTHON:
            ticks = time.ticks_ms()
            self._mono += time.ticks_diff(ticks, self._ticks) / 1000.0
            self._ticks = ticks
            return self._mono
        return time.monotonic()

    def sleep(self, seconds):
        return asyncio.sleep(seconds if seconds > 0 else 0)

    def spawn(self, coro, name="task"):
        return asyncio.create_task(self._guard(coro, name))

    async def _guard(self, coro, name):
        # An exception in a task is reported on the console instead of vanishing.
        try:
            return await coro
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.failures.append((name, exc))
            self.trace("task.failed", task=name, error=repr(exc))
            raise

    def event(self):
        return asyncio.Event()

    def queue(self, maxsize=0):
        return Queue(maxsize)

    def wait_for(self, aw, seconds):
        return asyncio.wait_for(aw, seconds)

    def rng(self, stream):
        return Rng(stream)

    def trace(self, kind, **fields):
        if self._sink is not None:
            self._sink(kind, fields)
