"""Cost of one canonical trace line, by encoder, on the records a telemetry run writes most.

The options for the hot path: the reference (``canonical()`` then ``json.dumps`` with
sorted keys), orjson with ``OPT_SORT_KEYS``, msgspec with ``order="sorted"``, and
``Trace.write`` as shipped (a pre-shaped flat record encoded by orjson, hashed in chunks).
orjson and msgspec alone do not round floats to microseconds; the shipped path does,
and writes the reference's bytes (tests/test_trace.py).

    python -m bench.bench_trace
"""

from __future__ import annotations

import json
import timeit

import msgspec
import orjson

from system.trace import Trace, canonical

RECORDS = [
    {"t": 590.0100000001, "src": "bridge", "kind": "reading.stored", "node": "node-9", "seq": 59, "lag": 2.01},
    {"t": 590.0, "src": "node-9", "kind": "reading.sampled", "node": "node-9", "seq": 59},
    {"t": 590.01, "src": "bridge", "kind": "metrics.pushed", "job": "node-9", "node": "node-9", "seq": 59},
]


def _reference(record: dict) -> bytes:
    return (json.dumps(canonical(record), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
            + "\n").encode("utf-8")


def measure(number: int = 20000) -> dict[str, float]:
    """Nanoseconds per line, best of 5, for each encoder."""
    opt = orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE
    encoder = msgspec.json.Encoder(order="sorted")
    trace = Trace({"bench": "trace"}, flush_every=4096)
    fields = [{k: v for k, v in r.items() if k not in ("t", "src", "kind")} for r in RECORDS]
    cases = {
        "reference: canonical() + json.dumps": lambda: [_reference(r) for r in RECORDS],
        "orjson OPT_SORT_KEYS (no rounding)": lambda: [orjson.dumps(r, option=opt) for r in RECORDS],
        "msgspec order=sorted (no rounding)": lambda: [encoder.encode(r) for r in RECORDS],
        "Trace.write as shipped (rounded, hashed)": lambda: [
            trace.write(r["t"], r["src"], r["kind"], f) for r, f in zip(RECORDS, fields)],
    }
    return {name: min(timeit.repeat(fn, number=number, repeat=5)) / number / len(RECORDS) * 1e9
            for name, fn in cases.items()}


if __name__ == "__main__":
    for name, ns in measure().items():
        print(f"{name:<45} {ns:8.0f} ns/line")
