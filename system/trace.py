"""The run trace: canonical JSON Lines with a running SHA-256.

Every line is JSON with sorted keys, no spaces and floats rounded to
microseconds, so the same run writes the same bytes on any machine and the hash
printed at the end identifies the run.  The first line is a header naming the
trace format (``FORMAT``), the hilsim version, the scenario and the seed.

The hot path: a flat record of strings, integers, booleans, None and floats (nearly
every line) is rounded in one pass and encoded by orjson with sorted keys; anything
else (nested values, bytes, non-finite floats, floats below 1e-4 that orjson would
write as ``0.00001`` where ``json`` writes ``1e-05``, integers past 64 bits) takes the
reference path, ``canonical()`` then ``json.dumps``. Both write the same bytes for
the same record (tests/test_trace.py compares them): the encoder changes no byte.
Lines are hashed and written in chunks (``flush_every`` lines);
with ``keep`` the trace keeps in memory only the records of those kinds (plus a count
per kind), for long runs whose expectations read a few kinds: the hash stays that of
the full trace.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any, Callable, Collection, Iterable, TextIO

import orjson

VERSION = "0.1.0"
# The trace format, in every header. 2: the kernel wakes a task less often (a queue get that finds an
# item does not yield, the bridge stores a burst in one go), so lines with the same ``t`` may come in
# another order than format 1 wrote them; times, kinds and fields are unchanged. Hashes differ from 1.
FORMAT = 2

_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE
_PLAIN = frozenset({str, int, bool, type(None)})
_INF = math.inf


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
    """One canonical JSON line (without the newline): the reference encoding."""
    return json.dumps(canonical(record), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _shape(record: dict) -> tuple[dict, bool]:
    """(canonical record, whether orjson writes it as ``dumps`` would): the fast path of ``canonical``."""
    shaped = {}
    fast = True
    for key, value in record.items():
        kind = type(value)
        if kind is float:
            if value != value or value == _INF or value == -_INF:
                return canonical(record), False
            value = round(value, 6)
            if -1e-4 < value < 1e-4:
                if value == 0:
                    value = 0.0
                else:
                    fast = False  # json writes 1e-05, orjson 0.00001
        elif kind not in _PLAIN or type(key) is not str:
            return canonical(record), False
        shaped[key] = value
    return shaped, fast


def encode(record: dict) -> tuple[dict, bytes]:
    """(canonical record, its line with the newline, UTF-8): what ``dumps`` gives, faster."""
    shaped, fast = _shape(record)
    if fast:
        try:
            return shaped, orjson.dumps(shaped, option=_OPTIONS)
        except TypeError:  # an integer past 64 bits, a lone surrogate: the reference path decides
            pass
    return shaped, (json.dumps(shaped, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
                    + "\n").encode("utf-8")


def _parse(line: bytes) -> dict:
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:  # an integer past 64 bits
        return json.loads(line)


class _LazyRecords(Sequence):
    """Encoded trace lines read as records, each parsed when it is read."""

    def __init__(self, lines: list[bytes]):
        self._lines = lines

    def __len__(self) -> int:
        return len(self._lines)

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [_parse(line) for line in self._lines[index]]
        return _parse(self._lines[index])

    def __iter__(self) -> Iterator[dict]:
        return map(_parse, self._lines)


class Trace:
    """Collects trace records in memory, optionally streams them to a file, hashes them.

    ``records`` holds the plain dicts (after canonicalisation) so expectations can
    read the run back without parsing the file; ``counts`` the lines per kind.
    ``sink`` is a text or binary stream; lines reach it (and the hash) every
    ``flush_every`` lines and on ``flush()`` (1: each line at once, for live
    processes that may be killed). ``keep``: True keeps every record in ``records``,
    False none (a live process that runs for months), a set of kinds only those, for
    ``of_kind`` (``records`` stays empty; a long run whose expectations read a few kinds). ``listen`` adds a callback that sees every
    record as it is written (the live commands turn some into state lines on stderr).
    """

    RESERVED = frozenset({"t", "src", "kind"})

    def __init__(self, header: dict, sink: Any = None, *, keep: bool | Collection[str] = True,
                 flush_every: int = 1):
        self._sha = hashlib.sha256()
        self._sink = sink
        self._binary = isinstance(sink, (io.RawIOBase, io.BufferedIOBase))
        self._pending: list[bytes] = []
        self._flush_every = max(1, flush_every)
        self._keep_all = keep is True
        self._keep = frozenset() if keep is True or keep is False else frozenset(keep)
        # With a set of kinds, their records are kept as their encoded lines (a third of a dict's
        # memory: a 100-node day keeps 1.7 million) and parsed back when ``of_kind`` asks.
        self._kept_kinds: list[str] = []
        self._kept_lines: list[bytes] = []
        self._listeners: list[Callable[[dict], None]] = []
        self.records: list[dict] = []
        self.counts: Counter[str] = Counter()
        self.header, line = encode({"kind": "trace.header", "format": FORMAT, "hilsim": VERSION, **header})
        self._emit(line)

    def write(self, t: float, src: str, kind: str, fields: dict) -> None:
        if fields and ("t" in fields or "src" in fields or "kind" in fields):
            raise ValueError(f"trace field names {sorted(self.RESERVED.intersection(fields))} are reserved")
        # The hot path, inlined: t rounded, flat fields of plain types; anything else goes through encode().
        record = None
        if (type(t) is float and type(src) is str and type(kind) is str
                and (t >= 1e-4 or t <= -1e-4 or t == 0) and -_INF < t < _INF):
            t = round(t, 6)
            record = {"t": t if t else 0.0, "src": src, "kind": kind}
            for key, value in fields.items():
                cls = type(value)
                if cls is float:
                    value = round(value, 6) if -_INF < value < _INF else None
                    if value is None or (-1e-4 < value < 1e-4 and value):
                        record = None
                        break
                    record[key] = value if value else 0.0
                elif cls in _PLAIN:
                    record[key] = value
                else:
                    record = None
                    break
        if record is None:
            record, line = encode({"t": t, "src": src, "kind": kind, **fields})
        else:
            try:
                line = orjson.dumps(record, option=_OPTIONS)
            except TypeError:  # an integer past 64 bits, a lone surrogate: the reference path decides
                record, line = encode(record)
        self.counts[kind] += 1
        if self._keep_all:
            self.records.append(record)
        elif kind in self._keep:
            self._kept_kinds.append(kind)
            self._kept_lines.append(line[:-1])  # a copy: orjson's own result keeps a 4 KiB buffer
        pending = self._pending
        pending.append(line)
        if len(pending) >= self._flush_every:
            self.flush()
        for listener in self._listeners:
            listener(record)

    def listen(self, listener: Callable[[dict], None]) -> None:
        """Call ``listener(record)`` with every record written from now on (after it reached the sink)."""
        self._listeners.append(listener)

    def _emit(self, line: bytes) -> None:
        pending = self._pending
        pending.append(line)
        if len(pending) >= self._flush_every:
            self.flush()

    def flush(self) -> None:
        """Hash the pending lines and hand them to the sink."""
        if not self._pending:
            return
        chunk = b"".join(self._pending)
        self._pending.clear()
        self._sha.update(chunk)
        if self._sink is not None:
            self._sink.write(chunk if self._binary else chunk.decode("utf-8"))

    def hexdigest(self) -> str:
        self.flush()
        return self._sha.hexdigest()

    def lines(self) -> list[str]:
        return [dumps(self.header)] + [dumps(r) for r in self.records]

    def of_kind(self, *kinds: str) -> Sequence[dict]:
        """The records of these kinds, in order (with a set of kept kinds: of those among them).

        With a set of kept kinds the result parses each record as it is read, so a checker
        that folds a million records into counts never holds them all as dicts.
        """
        if self._keep_all:
            return [r for r in self.records if r["kind"] in kinds]
        return _LazyRecords([line for kind, line in zip(self._kept_kinds, self._kept_lines) if kind in kinds])


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
