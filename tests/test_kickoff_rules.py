"""Two rules of ``system/decisions/kickoff.py`` checked against hard-coded tables and an independent reading:
the season gives the year of a date written without one, and the 12-hour clock's 12 AM / 12 PM.

The season ``2025-26`` runs from 1 July 2025 to 30 June 2026 (the rule as ``kickoff.py`` and
``fixtures.season_of`` document it; the Belgian league starts in late July), so a July date
without a year is 2025, a June date 2026. The expected dates below are written out by hand.
"""

from datetime import date, datetime

import pytest

from system.decisions.fixtures import season_of
from system.decisions.kickoff import Kickoff, KickoffFormat, parse_date, parse_time, read_kickoff
from system.errors import RefusedInput

# (cell without a year, season) -> the calendar date it means; the boundaries of 2025-26 on both ends
SEASON_DATES = [
    ("01/07", "2025-26", date(2025, 7, 1)),    # the first day of the season
    ("31/07", "2025-26", date(2025, 7, 31)),
    ("01/08", "2025-26", date(2025, 8, 1)),
    ("31/12", "2025-26", date(2025, 12, 31)),
    ("01/01", "2025-26", date(2026, 1, 1)),
    ("30/06", "2025-26", date(2026, 6, 30)),   # the last day of the season
    ("1 juli", "2025-26", date(2025, 7, 1)),
    ("31 juillet", "2025-26", date(2025, 7, 31)),
    ("1 August", "2025-26", date(2025, 8, 1)),
    ("30 juni", "2025-26", date(2026, 6, 30)),
    ("15/07", "2026-27", date(2026, 7, 15)),
    ("15/06", "2026-27", date(2027, 6, 15)),
    ("15/07", "2099-2100", date(2099, 7, 15)),
    ("15/06", "2099-2100", date(2100, 6, 15)),
]


@pytest.mark.parametrize("cell, season, expected", SEASON_DATES)
def test_season_year_rule_a_date_without_a_year_is_in_the_first_year_from_july_on(cell, season, expected):
    """Season year rule: in season ``2025-26`` a date without a year from July to December is 2025, from
    January to June 2026 (July 1 and June 30 are the boundaries), in a date cell, a kickoff cell, and a
    ``kickoff_format`` without a year."""
    assert parse_date(cell, season=season) == expected
    assert read_kickoff(f"{cell} 20u30", season=season) == Kickoff(expected, (20, 30))
    spec = "%d/%m %Hu%M" if "/" in cell else "%d %B %Hu%M"
    assert KickoffFormat(spec).read(f"{cell} 20u30", season=season) == Kickoff(expected, (20, 30))


# the day -> its season, at both ends of 2025-26
SEASONS_OF = [
    (date(2025, 6, 30), "2024-25"),
    (date(2025, 7, 1), "2025-26"),
    (date(2025, 7, 31), "2025-26"),
    (date(2025, 8, 1), "2025-26"),
    (date(2026, 6, 30), "2025-26"),
    (date(2026, 7, 1), "2026-27"),
]


@pytest.mark.parametrize("day, season", SEASONS_OF)
def test_season_year_rule_a_day_belongs_to_the_season_starting_on_the_july_before_it(day, season):
    """Season year rule, the other way: the season a day belongs to starts on the 1 July on or before it."""
    assert season_of(day) == season


# 12-hour clock text -> 24-hour (hour, minute), written out by hand
TWELVE_HOUR = [
    ("12:00 am", (0, 0)),
    ("12:30 am", (0, 30)),
    ("12:59 am", (0, 59)),
    ("1:00 am", (1, 0)),
    ("11:59 am", (11, 59)),
    ("12:00 pm", (12, 0)),
    ("12:30 pm", (12, 30)),
    ("12:59 pm", (12, 59)),
    ("1:00 pm", (13, 0)),
    ("11:59 pm", (23, 59)),
    ("12 am", (0, 0)),
    ("12 pm", (12, 0)),
    ("12:30 AM", (0, 30)),
    ("12:30 PM", (12, 30)),
]


@pytest.mark.parametrize("text, expected", TWELVE_HOUR)
def test_twelve_hour_clock_rule_12_am_is_midnight_and_12_pm_is_noon(text, expected):
    """12-hour clock rule: 12:xx AM is 00:xx, 12:xx PM is 12:xx, 1 PM is 13:00, in a time cell, a free-form
    kickoff cell and a ``kickoff_format`` with ``%I`` and ``%p``."""
    assert parse_time(text) == expected
    assert read_kickoff(f"02/08/2025 {text}") == Kickoff(date(2025, 8, 2), expected)
    if ":" in text:
        assert KickoffFormat("%d/%m/%Y %I:%M %p").read(f"02/08/2025 {text}") == Kickoff(date(2025, 8, 2), expected)
    else:
        assert KickoffFormat("%d/%m/%Y %I %p").read(f"02/08/2025 {text}") == Kickoff(date(2025, 8, 2), expected)


@pytest.mark.parametrize("hour", range(1, 13))
@pytest.mark.parametrize("half", ["AM", "PM"])
def test_twelve_hour_clock_rule_agrees_with_strptime_for_every_hour(hour, half):
    """12-hour clock rule, every hour against an independent reading (``datetime.strptime`` with ``%I %p``)."""
    text = f"{hour}:07 {half}"
    parsed = datetime.strptime(text, "%I:%M %p")
    expected = (parsed.hour, parsed.minute)
    assert parse_time(text) == expected
    assert KickoffFormat("%d/%m/%Y %I:%M %p").read(f"02/08/2025 {text}").clock == expected
    assert read_kickoff(f"02/08/2025 {text}").clock == expected


@pytest.mark.parametrize("text", ["0:30 am", "13:00 pm", "00:00 pm"])
def test_twelve_hour_clock_rule_has_no_hour_0_or_13(text):
    """12-hour clock rule: the hour runs 1 to 12, so 0 or 13 before AM/PM is refused, not guessed."""
    with pytest.raises(RefusedInput) as refused:
        KickoffFormat("%d/%m/%Y %I:%M %p").read(f"02/08/2025 {text}")
    assert refused.value.reason == "bad_time"
    with pytest.raises(RefusedInput) as refused:
        read_kickoff(f"02/08/2025 {text}")
    assert refused.value.reason == "bad_time"
