"""Fixtures parsers: the club's HTML calendar and iCalendar feed into home games."""

from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from system.errors import RefusedInput
from system.events import CANCELLED, GAME, SCHEDULED
from system.fixtures import (Selectors, parse_date, parse_fixtures_html, parse_fixtures_ical, parse_time,
                             read_fixtures_html, read_fixtures_ical, season_of)

PAGES = Path(__file__).resolve().parent.parent / "fixtures" / "pages"


def utc(*args) -> float:
    return datetime(*args, tzinfo=timezone.utc).timestamp()


def page(*rows: tuple[str, str, str, str], competition: str = "Jupiler Pro League") -> str:
    body = "".join(
        f'<tr class="wedstrijd"><td class="datum">{d}</td><td class="uur">{t}</td>'
        f'<td class="competitie">{competition}</td><td class="thuis">{h}</td><td class="uit">{a}</td></tr>'
        for d, t, h, a in rows)
    return f'<html><body><table class="kalender"><tr class="maand"><td colspan="5">Maart</td></tr>{body}</table></body></html>'


def ical(*vevents: str) -> str:
    body = "".join(f"BEGIN:VEVENT\r\n{v.strip()}\r\nEND:VEVENT\r\n" for v in vevents)
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//NL\r\n{body}END:VCALENDAR\r\n"


# -- the sample season ----------------------------------------------------------------------

def test_sample_page_lists_seventeen_home_games_from_august_to_may():
    games = parse_fixtures_html((PAGES / "kaagent-2025-26.html").read_text(encoding="utf-8"))
    assert len(games) == 17
    assert all(g.home == "KAA Gent" and g.kind == GAME and g.status == SCHEDULED for g in games)
    assert games[0].title == "KAA Gent - Club Brugge" and games[0].start == utc(2025, 8, 2, 18, 45)
    assert datetime.fromtimestamp(games[-1].start, timezone.utc).month == 4
    assert len({g.key for g in games}) == 17 and all(g.season == "2025-26" for g in games)


def test_sample_feed_has_the_same_home_games_as_the_page():
    html = parse_fixtures_html((PAGES / "kaagent-2025-26.html").read_text(encoding="utf-8"))
    feed = parse_fixtures_ical((PAGES / "kaagent-2025-26.ics").read_bytes())
    assert [(g.title, g.start, g.location) for g in feed] == [(g.title, g.start, g.location) for g in html]
    assert all(g.key.endswith("@www.kaagent.example") for g in feed)


# -- HTML ------------------------------------------------------------------------------------

def test_dst_last_sundays_of_march_and_october_use_the_offset_of_the_day():
    games = parse_fixtures_html(page(("zo 29/03/2026", "18u30", "KAA Gent", "Club Brugge"),
                                     ("zo 26/10/2025", "18u30", "KAA Gent", "KRC Genk"),
                                     ("za 28/03/2026", "18u30", "KAA Gent", "KV Mechelen"),
                                     ("za 25/10/2025", "18u30", "KAA Gent", "OH Leuven")))
    starts = {g.away: g.start for g in games}
    assert starts["Club Brugge"] == utc(2026, 3, 29, 16, 30)  # CEST, +02:00 from 03:00 that morning
    assert starts["KV Mechelen"] == utc(2026, 3, 28, 17, 30)  # still CET the day before
    assert starts["KRC Genk"] == utc(2025, 10, 26, 17, 30)  # back to CET
    assert starts["OH Leuven"] == utc(2025, 10, 25, 16, 30)


def test_only_home_games_of_the_club_are_kept_and_keys_follow_the_pairing():
    games = parse_fixtures_html(page(("za 14/03/2026", "20u45", "KAA Gent", "Club Brugge"),
                                     ("zo 22/03/2026", "13u30", "RSC Anderlecht", "KAA Gent")))
    assert [(g.key, g.title) for g in games] == [
        ("KAA Gent|Club Brugge|Jupiler Pro League|2025-26", "KAA Gent - Club Brugge")]
    everyone = parse_fixtures_html(page(("zo 22/03/2026", "13u30", "RSC Anderlecht", "KAA Gent")), club=None)
    assert [g.home for g in everyone] == ["RSC Anderlecht"]


def test_configurable_selectors_read_another_layout():
    html = """<div class="games"><div class="g"><b class="h">kaa gent</b><i class="a">KV Mechelen</i>
              <span class="d">zaterdag 4 april 2026</span><span class="t">20h30</span></div></div>"""
    sel = Selectors(row="div.g", home="b.h", away="i.a", date="span.d", time="span.t", competition=None, location=None)
    [game] = parse_fixtures_html(html, sel)
    assert game.start == utc(2026, 4, 4, 18, 30) and game.competition == ""


def test_time_not_fixed_yet_is_pending_and_postponed_is_a_cancelled_game():
    result = read_fixtures_html(page(("za 11/04/2026", "nnb", "KAA Gent", "KRC Genk"),
                                     ("za 18/04/2026", "uitgesteld", "KAA Gent", "OH Leuven"),
                                     ("za 25/04/2026", "20u", "KAA Gent", "KV Kortrijk")))
    assert result.pending == {"KAA Gent|KRC Genk|Jupiler Pro League|2025-26"}
    assert [(g.away, g.status) for g in result.events] == [("OH Leuven", CANCELLED), ("KV Kortrijk", SCHEDULED)]
    assert result.events[1].start == utc(2026, 4, 25, 18, 0)


@pytest.mark.parametrize("html, reason", [
    ("<html><body><p>Onderhoud</p></body></html>", "no_rows"),
    (page(("{{ match.date }}", "20u30", "KAA Gent", "Club Brugge")), "bad_date"),
    (page(("za 14/03/2026", "{{ match.time }}", "KAA Gent", "Club Brugge")), "bad_time"),
    (page(("za 31/02/2026", "20u30", "KAA Gent", "Club Brugge")), "bad_date"),
    (page(("za 14/03/2026", "25u30", "KAA Gent", "Club Brugge")), "bad_time"),
    ('<table class="kalender"><tr class="wedstrijd"><td class="datum">za 14/03/2026</td>'
     '<td class="thuis">KAA Gent</td></tr></table>', "missing_cell"),
    (page(("zo 29/03/2026", "2u30", "KAA Gent", "Club Brugge")), "nonexistent_local_time"),
    (page(("za 14/03/2026", "20u30", "KAA Gent", "Club Brugge"), ("za 21/03/2026", "20u30", "KAA Gent", "Club Brugge")),
     "duplicate_key"),
])
def test_garbled_pages_are_refused_with_a_reason(html, reason):
    with pytest.raises(RefusedInput) as refused:
        parse_fixtures_html(html)
    assert refused.value.reason == reason


def test_ambiguous_autumn_time_takes_the_summer_reading():
    [game] = parse_fixtures_html(page(("zo 26/10/2025", "2u30", "KAA Gent", "Club Brugge")))
    assert game.start == utc(2025, 10, 26, 0, 30)


@pytest.mark.parametrize("text, expected", [
    ("za 14/03/2026", (2026, 3, 14)), ("14.03.26", (2026, 3, 14)), ("2026-03-14", (2026, 3, 14)),
    ("zaterdag 14 maart 2026", (2026, 3, 14)), ("sam. 14 mars 2026", (2026, 3, 14)), ("14 okt. 2025", (2025, 10, 14)),
])
def test_dates_as_clubs_write_them(text, expected):
    assert parse_date(text).timetuple()[:3] == expected


@given(st.integers(0, 23), st.integers(0, 59), st.sampled_from(["u", "h", ":", "."]))
def test_any_valid_clock_time_reads_back(hour, minute, sep):
    assert parse_time(f"{hour}{sep}{minute:02d}") == (hour, minute)


def test_season_runs_from_july_to_june():
    assert [season_of(datetime(y, m, 1).date()) for y, m in ((2025, 6), (2025, 7), (2026, 5), (2099, 12))] == [
        "2024-25", "2025-26", "2025-26", "2099-00"]


# -- iCalendar --------------------------------------------------------------------------------

def test_ical_tzid_utc_and_floating_all_mean_the_same_kickoff_across_dst():
    feed = ical("UID:a\r\nSUMMARY:KAA Gent - Club Brugge\r\nDTSTART;TZID=Europe/Brussels:20260329T183000\r\n"
                "LOCATION:Planet Group Arena\r\nCATEGORIES:Jupiler Pro League",
                "UID:b\r\nSUMMARY:KAA Gent - KRC Genk\r\nDTSTART:20260329T163000Z",
                "UID:c\r\nSUMMARY:KAA Gent \u2013 OH Leuven\r\nDTSTART:20260329T183000",
                "UID:d\r\nSUMMARY:KAA Gent - KV Mechelen\r\nDTSTART:20251026T183000",
                "UID:e\r\nSUMMARY:KAA Gent - Cercle Brugge\r\nDTSTART;TZID=Europe/Brussels:20251026T183000",
                "UID:f\r\nSUMMARY:Club Brugge - KAA Gent\r\nDTSTART:20260405T183000")
    games = {g.key: g for g in parse_fixtures_ical(feed)}
    assert sorted(games) == ["a", "b", "c", "d", "e"]
    assert games["a"].start == games["b"].start == games["c"].start == utc(2026, 3, 29, 16, 30)
    assert games["d"].start == games["e"].start == utc(2025, 10, 26, 17, 30)
    assert (games["a"].location, games["a"].competition, games["a"].title) == (
        "Planet Group Arena", "Jupiler Pro League", "KAA Gent - Club Brugge")
    assert games["c"].away == "OH Leuven"


def test_ical_floating_time_follows_the_configured_zone():
    feed = ical("UID:x\r\nSUMMARY:KAA Gent - Club Brugge\r\nDTSTART:20260110T200000")
    [game] = parse_fixtures_ical(feed, tz="Europe/London")
    assert game.start == utc(2026, 1, 10, 20, 0)


def test_ical_whole_day_is_pending_and_status_cancelled_is_a_cancelled_game():
    result = read_fixtures_ical(ical("UID:p\r\nSUMMARY:KAA Gent - KRC Genk\r\nDTSTART;VALUE=DATE:20260411",
                                     "UID:q\r\nSUMMARY:KAA Gent - OH Leuven\r\nDTSTART:20260418T180000Z\r\nSTATUS:CANCELLED"))
    assert result.pending == {"p"}
    assert [(g.key, g.status) for g in result.events] == [("q", CANCELLED)]


def test_ical_without_uid_falls_back_to_the_pairing_key():
    [game] = parse_fixtures_ical(ical("SUMMARY:KAA Gent - KRC Genk\r\nDTSTART:20260411T180000Z"))
    assert game.key == "KAA Gent|KRC Genk||2025-26"


@pytest.mark.parametrize("text, reason", [
    ("<html>Onderhoud</html>", "ical_unparseable"),
    ("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:a\r\nSUMMARY:KAA Gent - X\r\nDTSTART:2026", "ical_unparseable"),
    (ical("UID:a\r\nSUMMARY:{{ match.title }}\r\nDTSTART:20260411T180000Z"), "bad_summary"),
    (ical("UID:a\r\nSUMMARY:KAA Gent - X\r\nDTSTART:notadate"), "bad_dtstart"),
    (ical("UID:a\r\nSUMMARY:KAA Gent - X"), "bad_dtstart"),
    (ical("UID:a\r\nSUMMARY:KAA Gent - X\r\nDTSTART;TZID=Mars/Olympus:20260411T180000"), "unknown_tzid"),
    (ical("UID:a\r\nSUMMARY:KAA Gent - X\r\nDTSTART;TZID=Europe/Brussels:20260329T023000"), "nonexistent_local_time"),
    (ical("UID:a\r\nSUMMARY:KAA Gent - X\r\nDTSTART:20260411T180000Z", "UID:a\r\nSUMMARY:KAA Gent - Y\r\nDTSTART:20260418T180000Z"),
     "duplicate_key"),
])
def test_garbled_feeds_are_refused_with_a_reason(text, reason):
    with pytest.raises(RefusedInput) as refused:
        parse_fixtures_ical(text)
    assert refused.value.reason == reason


@given(st.binary(max_size=300))
def test_arbitrary_bytes_either_parse_or_are_refused(data):
    for parse in (lambda d: parse_fixtures_ical(d), lambda d: parse_fixtures_html(d.decode("latin-1"))):
        try:
            parse(data)
        except RefusedInput:
            pass
