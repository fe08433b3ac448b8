"""What the long-running live commands share: where their trace goes, and how they stop."""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO


@contextmanager
def trace_sink(path: str | None) -> Iterator[IO[str] | None]:
    """``--trace``: None (no trace), ``-`` (standard output) or a file appended to, so a restart keeps
    the last run's lines."""
    if path is None:
        yield None
    elif path == "-":
        yield sys.stdout
    else:
        with open(path, "a", encoding="utf-8") as sink:
            yield sink


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """While inside, SIGTERM (systemd, docker) raises KeyboardInterrupt, so services stop as on Ctrl-C."""
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
