"""A run's trace read back from its file, and the run's note beside it (``run.json``).

The trace header names the scenario, seed, start and duration but not the scenario's file
(adding it would change every hash), so ``hilsim run`` writes ``run.json`` beside the trace:
the file, the seed, the hash and the verdicts as judged with the run's world. ``hilsim report``
and ``hilsim replay`` read both.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path
from typing import Any, Iterable, Sequence

import orjson

from system.errors import ConfigError
from system.trace import dumps

RUN_FILE = "run.json"


class RecordedTrace:
    """What a :class:`system.trace.Trace` gives the expectations and reports, read from a file."""

    def __init__(self, header: dict, records: list[dict], sha256: str):
        self.header = header
        self.records = records
        self.counts: Counter[str] = Counter(r["kind"] for r in records)
        self._sha256 = sha256

    def hexdigest(self) -> str:
        return self._sha256

    def lines(self) -> list[str]:
        return [dumps(self.header)] + [dumps(r) for r in self.records]

    def of_kind(self, *kinds: str) -> Sequence[dict]:
        return [r for r in self.records if r["kind"] in kinds]


def read_trace(path: Path) -> RecordedTrace:
    """The trace at ``path``; a ConfigError names the file and line when it is not a hilsim trace."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the trace ({exc.strerror})", source=str(path)) from exc
    records = []
    for number, line in enumerate(data.splitlines(), start=1):
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            raise ConfigError("not a JSON line", source=str(path), line=number) from None
        if not isinstance(record, dict) or "kind" not in record:
            raise ConfigError("not a trace line (no kind)", source=str(path), line=number)
        records.append(record)
    if not records or records[0]["kind"] != "trace.header":
        raise ConfigError("not a hilsim trace (no trace.header on line 1)", source=str(path), line=1)
    return RecordedTrace(records[0], records[1:], hashlib.sha256(data).hexdigest())


def write_run_file(out: Path, scenario_file: str, seed: int, sha256: str, verdicts: Iterable[Any]) -> Path:
    """``run.json`` in ``out``: what the trace header cannot hold without changing the hash."""
    note = {"scenario_file": str(Path(scenario_file).resolve()), "seed": seed, "trace_sha256": sha256,
            "verdicts": [{"name": v.name, "ok": v.ok, "measured": v.measured, "expected": v.expected,
                          "line": v.line} for v in verdicts]}
    path = out / RUN_FILE
    path.write_text(json.dumps(note, indent=1) + "\n", encoding="utf-8")
    return path


def read_run_file(trace_path: Path) -> dict | None:
    """The ``run.json`` beside ``trace_path``, if there is one for that trace."""
    path = trace_path.parent / RUN_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
