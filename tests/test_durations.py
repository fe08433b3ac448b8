"""The one duration reader (system/decisions/durations.py): a table of what people write, and a round trip
through an independent writer."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from system.decisions.durations import parse_duration
from system.errors import RefusedInput

# Seconds per unit, written out here rather than taken from the module under test.
SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


@pytest.mark.parametrize("text, seconds", [
    ("90s", 90.0), ("10m", 600.0), ("2h30m", 9000.0), ("1d", 86400.0), ("1d2h3m4s", 93784.0),
    ("1.5h", 5400.0), ("0s", 0.0), ("1m 30s", 90.0), (" 2h ", 7200.0), ("2H30M", 9000.0), ("90m", 5400.0),
    ("250ms", 0.25), ("1s500ms", 1.5), ("1m1ms", 60.001),
])
def test_what_people_write_reads_as_these_seconds(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds, abs=1e-12)


@pytest.mark.parametrize("text", ["", "90", "s", "10x", "2 hours", "-5s", "1h-30m", "m30", "1.s", ".5h", "1h30",
                                  "5 mins", "1e3s"])
def test_anything_else_is_refused_with_the_text_in_the_reason(text):
    with pytest.raises(RefusedInput) as refused:
        parse_duration(text)
    assert refused.value.reason == "not_a_duration" and repr(text) in refused.value.detail


def _written(seconds: int, spaced: bool, capitals: bool) -> str:
    """An independent writer: whole days, hours, minutes and seconds, largest first, zero parts left out."""
    parts = []
    for unit in ("d", "h", "m", "s"):
        count, seconds = divmod(seconds, SECONDS[unit])
        if count:
            parts.append(f"{count}{unit.upper() if capitals else unit}")
    return (" " if spaced else "").join(parts) or "0s"


@given(st.integers(0, 10 ** 8), st.booleans(), st.booleans())
def test_whole_seconds_written_out_read_back_exactly(seconds, spaced, capitals):
    assert parse_duration(_written(seconds, spaced, capitals)) == seconds


@given(st.lists(st.tuples(st.integers(0, 10 ** 6), st.sampled_from(sorted(SECONDS))), min_size=1, max_size=6))
def test_parts_in_any_order_and_repeated_add_up(parts):
    text = "".join(f"{n}{unit}" for n, unit in parts)
    assert parse_duration(text) == sum(n * SECONDS[unit] for n, unit in parts)
