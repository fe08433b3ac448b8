"""The trace's fast encoder writes exactly the reference bytes; partial modes keep the full trace's hash."""

import io
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from system.trace import Trace, dumps, encode

SCALARS = (st.none() | st.booleans() | st.integers(min_value=-2**80, max_value=2**80)
           | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=8)
           | st.floats(min_value=-1e-3, max_value=1e-3) | st.binary(max_size=4))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.text(max_size=3), inner, max_size=3), max_leaves=6)


@settings(max_examples=500)
@given(st.dictionaries(st.text(max_size=6), SCALARS | VALUES, max_size=6))
def test_fast_encoding_writes_the_reference_bytes(record):
    try:
        expected = (dumps(record) + "\n").encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: the reference path fails, and so must the fast one
        return
    assert encode(record)[1] == expected


def test_small_and_rounded_floats_are_written_as_the_reference_writes_them():
    for value in (1e-05, -4.2e-05, 1e-07, -0.0, 2.5e-4, 1e16, 123.4567894):
        assert encode({"v": value})[1] == (dumps({"v": value}) + "\n").encode()
    assert json.loads(encode({"v": 1e-07})[1]) == {"v": 0.0}


def _fill(trace: Trace) -> None:
    for i in range(2500):
        trace.write(i * 0.1, "node-1", "reading.sampled" if i % 2 else "reading.published", {"seq": i, "x": i / 3})


def test_kept_kinds_chunked_writes_and_a_binary_sink_leave_the_hash_unchanged():
    text = io.StringIO()
    full = Trace({"scenario": "t"}, text)
    _fill(full)
    binary = io.BytesIO()
    lean = Trace({"scenario": "t"}, binary, keep={"reading.sampled"}, flush_every=1000)
    _fill(lean)
    assert lean.hexdigest() == full.hexdigest()
    assert binary.getvalue().decode() == text.getvalue()
    assert lean.records == [] and list(lean.of_kind("reading.sampled")) == full.of_kind("reading.sampled")
    assert len(lean.of_kind("reading.sampled")) == 1250 and lean.of_kind("reading.sampled")[-1]["seq"] == 2499
    assert list(lean.of_kind("reading.published")) == []
    assert lean.counts == full.counts == {"reading.sampled": 1250, "reading.published": 1250}
    assert text.getvalue().splitlines() == full.lines()


@settings(max_examples=300)
@given(st.floats(allow_nan=True, allow_infinity=True) | st.integers(-10, 10),
       st.dictionaries(st.text(max_size=6).filter(lambda k: k not in ("t", "src", "kind")), SCALARS, max_size=5))
def test_a_written_line_is_the_reference_line(t, fields):
    try:
        expected = dumps({"t": t, "src": "node-1", "kind": "k", **fields}) + "\n"
        expected.encode("utf-8")
    except UnicodeEncodeError:
        return
    sink = io.StringIO()
    trace = Trace({}, sink)
    trace.write(t, "node-1", "k", fields)
    assert sink.getvalue().split("\n")[1] + "\n" == expected  # (splitlines would also cut at U+0085)
    assert trace.records[0] == json.loads(expected)
