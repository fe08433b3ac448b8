"""What every runtime shares: named random streams, trace lines, per-party views.

The runtime API (see DESIGN.md) is duck-typed; the sim runtime (``sim/kernel/runtime.py``)
and the asyncio runtime (``system/adapters/asyncio_runtime.py``) both build on this base::

    rt.now()  await rt.sleep(s)  rt.spawn(coro, name)  rt.queue(maxsize) (put_nowait, get_nowait, await get)
    rt.event()  await rt.wait_for(aw, s)  rt.rng(stream)  rt.trace(kind, **fields)
    rt.call_later(s, fn, *args)   (a plain timer, for world models that need no task)

``rt.child("node-1")`` returns a view of the same runtime whose trace lines carry
``src="node-1"``: each party gets its own view, so no service names itself twice.
"""

from __future__ import annotations

import copy
import hashlib
import random

from system.trace import Trace


def stream_seed(seed: int, stream: str) -> int:
    """A 64-bit seed from (scenario seed, stream name), stable across processes and machines."""
    digest = hashlib.sha256(f"{seed}/{stream}".encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big")


class RuntimeBase:
    """Random streams, tracing and party views, shared by the sim and live runtimes."""

    def __init__(self, *, seed: int = 0, start: float = 0.0, trace: Trace | None = None, src: str = "world"):
        self.seed = seed
        self.start = start
        self.src = src
        self._trace = trace
        self._streams: dict[str, random.Random] = {}

    def rng(self, stream: str) -> random.Random:
        """The random stream ``stream``: the same object on every call, seeded by name."""
        found = self._streams.get(stream)
        if found is None:
            found = self._streams[stream] = random.Random(stream_seed(self.seed, stream))
        return found

    def trace(self, kind: str, **fields) -> None:
        """Write one trace line ``{t, src, kind, **fields}``; ``t`` is seconds since the run started."""
        if self._trace is not None:
            self._trace.write(self.now() - self.start, self.src, kind, fields)

    def on_trace(self, listener) -> None:
        """Call ``listener(record)`` with every trace line written from now on (a live process's health)."""
        if self._trace is not None:
            self._trace.listen(listener)

    def child(self, src: str):
        """A view of this runtime whose trace lines come from party ``src``."""
        view = copy.copy(self)
        view.src = src
        return view

    def now(self) -> float:  # pragma: no cover - each runtime defines it
        raise NotImplementedError
