"""Record a board's console as a trace: ``hilsim record --port PORT --for 10m``.

Each reading the board sampled becomes a ``reading.recorded`` line (node, seq, ts,
temperature, humidity, wifi_rssi); the board's own trace lines are kept as they came
(``reading.published``, ``reading.failed``, ...), and its boot banner as
``board.booted``. Times are seconds since the recording started, so a scenario can
replay the samples (``world: {sensor: {replay: FILE}}``) and ``hilsim diff`` can compare
the recording with a run.
"""

from __future__ import annotations

import threading
import time
from typing import TextIO

from hil.dut import ConsoleLine, Dut
from system.errors import BackendError
from system.trace import LineFlushed, Trace


def record(dut: Dut, seconds: float, sink: TextIO, *, port: str, stop: threading.Event | None = None,
           first_within: float | None = None) -> Trace:
    """Write the board's console on ``dut`` to ``sink`` as a trace for ``seconds`` (or until ``stop``).

    A BackendError when no message comes within ``first_within`` seconds, or none at all: a silent board
    makes no recording."""
    trace = Trace({"run": "record", "port": port, "duration": seconds, "clock": "wall"}, LineFlushed(sink),
                  keep=True)
    start = time.time()
    lock = threading.Lock()

    def on_line(line: ConsoleLine) -> None:
        msg = line.message
        if msg is None:
            return
        src = msg.get("node", "board")
        fields = {k: v for k, v in msg.items() if k not in ("msg", "kind")}
        kind = {"reading": "reading.recorded", "boot": "board.booted", "error": "board.error"}.get(msg["msg"])
        if msg["msg"] == "trace":
            kind = msg.get("kind")
        if kind:
            with lock:
                trace.write(max(0.0, line.t - start), src, kind, fields)

    dut.on_line(on_line)
    stop = stop or threading.Event()
    if first_within is not None and first_within < seconds:
        dut.send("state")  # a live board answers at once, whatever its sampling interval
        try:
            dut.expect_message(timeout=first_within)
        except TimeoutError:
            raise BackendError(f"no message from {port} within {first_within:g} s: is the board powered, on this "
                               "port and running its firmware?") from None
    stop.wait(max(0.0, seconds - (time.time() - start)))
    if not trace.records:
        raise BackendError(f"no message from {port} in {seconds:g} s: nothing recorded")
    return trace
