"""Local time: one rule for the spring gap and the autumn overlap, checked against the EU rule itself."""

import time
from datetime import date, datetime, timedelta, timezone

import pytest
from freezegun import freeze_time
from hypothesis import given, settings, strategies as st

from system.adapters.asyncio_runtime import AsyncioRuntime
from system.decisions.localtime import (format_local, local_epoch, next_local, parse_hhmm, resolve, to_local,
                                        zone)
from system.errors import RefusedInput


def utc(*args) -> float:
    return datetime(*args, tzinfo=timezone.utc).timestamp()


def last_sunday(year: int, month: int) -> date:
    day = date(year, month, 31)
    return day - timedelta(days=(day.weekday() - 6) % 7)


def eu_rule(day: date, hour: int, minute: int) -> tuple[float, bool, bool]:
    """Oracle written from the EU rule (no zoneinfo; in force since 1996): CEST (+2) from 02:00 local on the last Sunday of
    March to 03:00 local on the last Sunday of October. Returns (epoch, in the gap, happens twice); a time
    in the gap keeps the winter offset (+1), a time that happens twice takes the summer one (+2)."""
    spring, autumn = last_sunday(day.year, 3), last_sunday(day.year, 10)
    gap = day == spring and hour == 2
    twice = day == autumn and hour == 2
    if day == spring:
        offset = 2 if hour >= 3 else 1
    elif day == autumn:
        offset = 2 if hour < 3 else 1
    else:
        offset = 2 if spring < day < autumn else 1
    return utc(day.year, day.month, day.day, hour, minute) - offset * 3600, gap, twice


dst_days = st.integers(1996, 2037).flatmap(lambda y: st.sampled_from([last_sunday(y, 3), last_sunday(y, 10)]))
any_day = st.one_of(st.dates(date(1996, 1, 1), date(2037, 12, 31)), dst_days, dst_days.map(lambda d: d - timedelta(1)))


@settings(max_examples=300)
@given(any_day, st.integers(0, 23), st.integers(0, 59))
def test_every_wall_clock_time_resolves_by_the_eu_rule_and_says_when_it_was_shifted(day, hour, minute):
    epoch, gap, twice = eu_rule(day, hour, minute)
    found = resolve(day, hour, minute)
    assert (found.epoch, found.shifted, found.ambiguous) == (epoch, gap, twice)
    assert local_epoch(day, hour, minute) == epoch
    if not gap:  # every time that exists shows itself again on the clock
        assert to_local(epoch).strftime("%Y-%m-%d %H:%M") == f"{day:%Y-%m-%d} {hour:02d}:{minute:02d}"
    else:  # a time in the gap is read past it: one hour later on the clock, never dropped
        assert to_local(epoch).strftime("%H:%M") == f"{hour + 1:02d}:{minute:02d}"


@settings(max_examples=200)
@given(dst_days, st.integers(0, 47 * 60), st.integers(0, 23), st.integers(0, 59))
def test_next_local_is_the_first_later_instant_showing_that_time(day, minutes_before, hour, minute):
    """Around a DST night: the answer is after now, within two days, shows the time asked (or, for a time in
    the gap, the time an hour later), and no instant in between shows it."""
    now = utc(day.year, day.month, day.day) - minutes_before * 60.0
    found = next_local(hour, minute, now)
    assert now < found <= now + 2 * 86400
    shown = to_local(found).strftime("%H:%M")
    assert shown == f"{hour:02d}:{minute:02d}" or (resolve(to_local(found).date(), hour, minute).shifted
                                                   and shown == f"{hour + 1:02d}:{minute:02d}")
    t = now + 60.0 - now % 60.0
    while t < found:
        assert to_local(t).strftime("%H:%M") != f"{hour:02d}:{minute:02d}"
        t += 60.0


@pytest.mark.parametrize("frozen, expected", [
    ("2026-03-28T12:00:00Z", utc(2026, 3, 29, 6, 0)),   # the night the clocks go forward: 18 h away
    ("2026-03-29T00:30:00Z", utc(2026, 3, 29, 6, 0)),
    ("2026-10-24T12:00:00Z", utc(2026, 10, 25, 7, 0)),  # the night the clocks go back: 19 h away
    ("2026-10-25T07:00:00Z", utc(2026, 10, 26, 7, 0)),  # exactly 08:00 now: the next one is tomorrow
])
def test_next_local_time_from_the_live_clock(frozen, expected):
    with freeze_time(frozen):
        rt = AsyncioRuntime(clock=time.time)
        assert next_local(*parse_hhmm("08:00"), rt.now()) == expected


def test_change_days_by_hand():
    assert local_epoch(date(2026, 3, 28), *parse_hhmm("20u30")) == utc(2026, 3, 28, 19, 30)  # CET
    assert local_epoch(date(2026, 3, 29), *parse_hhmm("20:30")) == utc(2026, 3, 29, 18, 30)  # CEST
    assert local_epoch(date(2026, 3, 29), 2, 30) == utc(2026, 3, 29, 1, 30)  # in the gap: 03:30 CEST
    assert local_epoch(date(2026, 10, 25), 2, 30) == utc(2026, 10, 25, 0, 30)  # twice: the first (CEST)
    assert to_local(utc(2026, 10, 25, 1, 30)).strftime("%H:%M %Z") == "02:30 CET"
    assert format_local(utc(2026, 3, 29, 1, 30)) == "2026-03-29 03:30"
    assert local_epoch(date(2026, 1, 10), 20, 0, "Europe/London") == utc(2026, 1, 10, 20, 0)


@given(st.integers(0, 23), st.integers(0, 59), st.sampled_from(["u", "h", "H", ":", ".", " u "]))
def test_any_clock_time_as_people_write_it_reads_back(hour, minute, sep):
    assert parse_hhmm(f"{hour}{sep}{minute:02d}") == (hour, minute)


@pytest.mark.parametrize("text", ["25:00", "20:60", "2030", "20:3", "", "u30", "20:30:00", "twintig uur"])
def test_anything_else_is_not_a_time(text):
    with pytest.raises(RefusedInput) as refused:
        parse_hhmm(text)
    assert refused.value.reason == "bad_time"


def test_full_hours_and_unknown_zones():
    assert parse_hhmm("20u") == parse_hhmm("20h") == (20, 0)
    with pytest.raises(RefusedInput) as refused:
        zone("Mars/Olympus")
    assert refused.value.reason == "unknown_tz"
