"""The run trace: canonical JSON Lines with a running SHA-256.

Every line is ``json.dumps`` with sorted keys, no spaces and floats rounded to
microseconds, so the same run writes the same bytes on any machine and the hash
printed at the end identifies the run.  The first line is a header naming the
scenario, the seed and the hilsim version.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any, Callable, Iterable, TextIO

VERSION = "0.1.0"


def canonical(value: Any) -> Any:
    """Return ``value`` with floats rounded to 6 decimals and non-finite floats as strings."""
    if isinstance(value, float):
        if math.isfinite(value):
            rounded = round(value, 6)
            return 0.0 if rounded == 0 else rounded  # -0.0 and 0.0 hash alike
        return str(value)
    if isinstance(value, dict):
        return {str(k): canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "backslashreplace")
    return value


def dumps(record: dict) -> str:
    """One canonical JSON line (without the newline)."""
    return json.dumps(canonical(record), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class Trace:
    """Collects trace records in memory, optionally streams them to a file, hashes them.

    ``records`` holds the plain dicts (after canonicalisation) so expectations can
    read the run back without parsing the file; a live process that runs for months
    passes ``keep=False`` and keeps none. ``listen`` adds a callback that sees every
    record as it is written (the live commands turn some into state lines on stderr).
    """

    RESERVED = frozenset({"t", "src", "kind"})

    def __init__(self, header: dict, sink: TextIO | None = None, *, keep: bool = True):
        self._sha = hashlib.sha256()
        self._sink = sink
        self._keep = keep
        self._listeners: list[Callable[[dict], None]] = []
        self.records: list[dict] = []
        self.header = {"kind": "trace.header", "hilsim": VERSION, **header}
        self._emit(self.header)

    def write(self, t: float, src: str, kind: str, fields: dict) -> None:
        clash = self.RESERVED.intersection(fields)
        if clash:
            raise ValueError(f"trace field names {sorted(clash)} are reserved")
        record = canonical({"t": t, "src": src, "kind": kind, **fields})
        if self._keep:
            self.records.append(record)
        self._emit(record)
        for listener in self._listeners:
            listener(record)

    def listen(self, listener: Callable[[dict], None]) -> None:
        """Call ``listener(record)`` with every record written from now on (after it reached the sink)."""
        self._listeners.append(listener)

    def _emit(self, record: dict) -> None:
        line = dumps(record) + "\n"
        self._sha.update(line.encode("utf-8"))
        if self._sink is not None:
            self._sink.write(line)

    def hexdigest(self) -> str:
        return self._sha.hexdigest()

    def lines(self) -> list[str]:
        return [dumps(self.header)] + [dumps(r) for r in self.records]

    def of_kind(self, *kinds: str) -> list[dict]:
        return [r for r in self.records if r["kind"] in kinds]


def first_difference(a: Iterable[str], b: Iterable[str]) -> tuple[int, str | None, str | None] | None:
    """Compare two traces line by line; return (line number, left, right) of the first difference."""
    la, lb = list(a), list(b)
    for n, (x, y) in enumerate(zip(la, lb), start=1):
        if x != y:
            return n, x, y
    if len(la) != len(lb):
        n = min(len(la), len(lb)) + 1
        return n, la[n - 1] if n <= len(la) else None, lb[n - 1] if n <= len(lb) else None
    return None


class LineFlushed:
    """A trace sink that flushes every line, so a process killed at any moment leaves whole lines behind."""

    def __init__(self, sink: TextIO):
        self.sink = sink

    def write(self, text: str) -> None:
        self.sink.write(text)
        self.sink.flush()
