"""Kickoff cells: date and time in one cell, free-form or by kickoff_format, in Dutch, French and English."""

from datetime import date

import pytest
from hypothesis import given, strategies as st

from system.decisions.kickoff import Kickoff, KickoffFormat, fold, is_postponed, parse_date, parse_time, read_kickoff
from system.errors import RefusedInput

NL_DAYS = ("maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag")
FR_DAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
EN_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
NL_MONTHS = ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september", "oktober",
             "november", "december")
FR_MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
             "novembre", "décembre")
EN_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
             "November", "December")
LANGUAGES = {"nl": (NL_DAYS, NL_MONTHS), "fr": (FR_DAYS, FR_MONTHS), "en": (EN_DAYS, EN_MONTHS)}
# how each language shortens them on club pages
SHORT = {"nl": (("ma", "di", "wo", "do", "vr", "za", "zo"),
                ("jan.", "feb.", "mrt.", "apr.", "mei", "jun.", "jul.", "aug.", "sep.", "okt.", "nov.", "dec.")),
         "fr": (("lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim."),
                ("janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc.")),
         "en": (("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
                ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"))}


@pytest.mark.parametrize("text, expected", [
    ("02/08/2025 20u45", Kickoff(date(2025, 8, 2), (20, 45))),
    ("za 02/08/2025 - 20u45", Kickoff(date(2025, 8, 2), (20, 45))),
    ("zaterdag 2 augustus 2025 om 20u45", Kickoff(date(2025, 8, 2), (20, 45))),
    ("samedi 2 août 2025 à 20h45", Kickoff(date(2025, 8, 2), (20, 45))),
    ("Sat 2 Aug 2025, 8:45 pm", Kickoff(date(2025, 8, 2), (20, 45))),
    ("August 2, 2025 20:45", Kickoff(date(2025, 8, 2), (20, 45))),
    ("2025-08-02T20:45", Kickoff(date(2025, 8, 2), (20, 45))),
    ("02.08.25 20.45", Kickoff(date(2025, 8, 2), (20, 45))),
    ("za 02/08/2025 nnb", Kickoff(date(2025, 8, 2), None)),
    ("02/08/2025", Kickoff(date(2025, 8, 2), None)),
    ("sam. 02/08/2025 reporté", Kickoff(date(2025, 8, 2), None, postponed=True)),
])
def test_kickoff_cells_as_clubs_write_them(text, expected):
    assert read_kickoff(text) == expected


@pytest.mark.parametrize("text, reason", [
    ("03/04 20u30", "ambiguous_date"),  # no year, no season: April 2025 or 2026?
    ("14 maart 20u30", "ambiguous_date"),
    ("03/04/2026 - 10/04/2026 20u30", "ambiguous_date"),  # two dates
    ("03/04 12.05", "ambiguous_date"),  # 12.05 could be the 12th of May as well as a time
    ("03/04/2026 20u30 of 21u00", "ambiguous_time"),
    ("za 15/03/2026 20u30", "bad_date"),  # the 15th is a Sunday: day and month mixed up?
    ("{{ match.kickoff }}", "bad_date"),
    ("03/04/2026 {{ match.time }}", "bad_time"),
    ("31/02/2026 20u30", "bad_date"),
    ("03/04/2026 25u30", "bad_time"),
])
def test_ambiguous_or_garbled_cells_are_refused_with_their_reason(text, reason):
    with pytest.raises(RefusedInput) as refused:
        read_kickoff(text)
    assert refused.value.reason == reason


def test_a_season_dates_cells_without_a_year():
    assert read_kickoff("03/04 20u30", season="2025-26").day == date(2026, 4, 3)
    assert read_kickoff("03/10 20u30", season="2025-26").day == date(2025, 10, 3)
    assert parse_date("vr 14 november", season="2025-26") == date(2025, 11, 14)


@given(st.dates(date(2000, 1, 1), date(2037, 12, 31)), st.integers(0, 23), st.integers(0, 59),
       st.sampled_from(sorted(LANGUAGES)), st.booleans())
def test_any_kickoff_written_in_any_of_the_three_languages_reads_back(day, hour, minute, language, short):
    days, months = (SHORT if short else LANGUAGES)[language]
    weekday, month = days[day.weekday()], months[day.month - 1]
    sep = {"nl": "u", "fr": "h", "en": ":"}[language]
    text = f"{weekday} {day.day} {month} {day.year} {hour}{sep}{minute:02d}"
    assert read_kickoff(text) == Kickoff(day, (hour, minute))
    fmt = KickoffFormat(f"%a %d %b %Y %H{sep}%M")
    assert fmt.read(text) == Kickoff(day, (hour, minute))


@pytest.mark.parametrize("spec, text, expected", [
    ("%d/%m/%Y %Hu%M", "02/08/2025 20u45", Kickoff(date(2025, 8, 2), (20, 45))),
    ("%d/%m/%Y %Hu%M", "02/08/2025 nnb", Kickoff(date(2025, 8, 2), None)),
    ("%d/%m/%Y %Hu%M", "02/08/2025 uitgesteld", Kickoff(date(2025, 8, 2), None, postponed=True)),
    ("%A %d %B %Y - %H:%M", "Zaterdag 2 Augustus 2025 - 20:45", Kickoff(date(2025, 8, 2), (20, 45))),
    ("%d.%m.%y %I:%M %p", "02.08.25 08:45 PM", Kickoff(date(2025, 8, 2), (20, 45))),
    ("%d/%m %Hh%M", "02/08 20h45", Kickoff(date(2025, 8, 2), (20, 45))),  # the season gives the year
])
def test_kickoff_format_is_strptime_with_the_clubs_habits(spec, text, expected):
    assert KickoffFormat(spec).read(text, season="2025-26") == expected


def test_a_cell_that_does_not_match_its_format_is_refused():
    fmt = KickoffFormat("%d/%m/%Y %Hu%M")
    for text, reason in (("2025-08-02 20:45", "bad_kickoff"), ("02/08/2025 20:45", "bad_kickoff"),
                         ("31/02/2025 20u45", "bad_date")):
        with pytest.raises(RefusedInput) as refused:
            fmt.read(text)
        assert refused.value.reason == reason
    with pytest.raises(RefusedInput) as refused:
        KickoffFormat("%d/%m %Hu%M").read("02/08 20u45")  # no year, no season
    assert refused.value.reason == "ambiguous_date"


@pytest.mark.parametrize("spec", ["%H:%M", "%d/%m/%Y %Q", "%d/%d/%m", "%d/%m/%Y %I:%M"])
def test_formats_that_cannot_describe_a_kickoff_are_refused_when_read(spec):
    with pytest.raises(ValueError):
        KickoffFormat(spec)


def test_time_cells_and_folding():
    assert parse_time("20u30") == (20, 30) and parse_time("8:30 pm") == (20, 30) and parse_time("12 am") == (0, 0)
    assert parse_time("nnb") is None and parse_time("") is None and parse_time("À déterminer") is None
    assert fold("K.A.A. Gent") == fold("kaa  GENT") == "kaa gent"
    assert fold("Standard de Liège") == "standard de liege"


@pytest.mark.parametrize("cell, postponed", [("Uitgesteld", True), ("AFGELAST", True), ("Reporté", True),
                                             ("match annulé", True), ("Postponed (weather)", True),
                                             ("20u30", False), ("nnb", False), ("", False), ("uit", False)])
def test_a_time_cell_says_postponed_in_any_of_the_three_languages(cell, postponed):
    assert is_postponed(cell) is postponed
