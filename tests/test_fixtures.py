"""Fixtures parsers: the club's HTML calendar and iCalendar feed into home games."""

import re
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings, strategies as st

from system.errors import RefusedInput
from system.decisions.events import CANCELLED, GAME, SCHEDULED
from system.decisions.kickoff import fold
from system.decisions.fixtures import (Selectors, parse_date, parse_time,
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

SAMPLE_HTML = (PAGES / "kaagent-2025-26.html").read_text(encoding="utf-8")
SAMPLE_ICS = (PAGES / "kaagent-2025-26.ics").read_bytes()
_ROW = re.compile(r'<tr class="wedstrijd"><td class="datum">\w+ (\d\d)/(\d\d)/(\d{4})</td><td class="uur">(\d+)u(\d\d)</td>'
                  r'<td class="competitie">([^<]*)</td><td class="thuis">([^<]*)</td><td class="uit">([^<]*)</td>'
                  r'<td class="stadion">([^<]*)</td></tr>')


def test_sample_page_home_games_are_exactly_its_kaa_gent_rows_in_belgian_time():
    """Oracle independent of lxml and of the parser: a regex over the page's rows, zoneinfo for the clock."""
    rows = _ROW.findall(SAMPLE_HTML)
    assert len(rows) == SAMPLE_HTML.count('class="wedstrijd"')  # the regex saw every row
    brussels = ZoneInfo("Europe/Brussels")
    expected = [(f"{h} - {a}", datetime(int(y), int(m), int(d), int(hh), int(mm), tzinfo=brussels).timestamp(), c, loc)
                for d, m, y, hh, mm, c, h, a, loc in rows if h == "KAA Gent"]
    games = list(read_fixtures_html(SAMPLE_HTML).events)
    assert [(g.title, g.start, g.competition, g.location) for g in games] == expected
    assert all(g.kind == GAME and g.status == SCHEDULED and g.season == "2025-26" for g in games)
    assert len({g.key for g in games}) == len(games)
    # spot checks written by hand: first home game 20u45 on 2 Aug 2025 (CEST), last one 18u15 on 25 Apr 2026
    assert games[0].start == utc(2025, 8, 2, 18, 45) and games[-1].start == utc(2026, 4, 25, 16, 15)


def test_sample_feed_has_the_same_home_games_as_the_page():
    html = list(read_fixtures_html(SAMPLE_HTML).events)
    feed = list(read_fixtures_ical(SAMPLE_ICS).events)
    assert [(g.title, g.start, g.location) for g in feed] == [(g.title, g.start, g.location) for g in html]
    assert all(g.key.endswith("@www.kaagent.example") for g in feed)


# -- HTML ------------------------------------------------------------------------------------

def test_dst_last_sundays_of_march_and_october_use_the_offset_of_the_day():
    games = list(read_fixtures_html(page(("zo 29/03/2026", "18u30", "KAA Gent", "Club Brugge"),
                                     ("zo 26/10/2025", "18u30", "KAA Gent", "KRC Genk"),
                                     ("za 28/03/2026", "18u30", "KAA Gent", "KV Mechelen"),
                                     ("za 25/10/2025", "18u30", "KAA Gent", "OH Leuven"))).events)
    starts = {g.away: g.start for g in games}
    assert starts["Club Brugge"] == utc(2026, 3, 29, 16, 30)  # CEST, +02:00 from 03:00 that morning
    assert starts["KV Mechelen"] == utc(2026, 3, 28, 17, 30)  # still CET the day before
    assert starts["KRC Genk"] == utc(2025, 10, 26, 17, 30)  # back to CET
    assert starts["OH Leuven"] == utc(2025, 10, 25, 16, 30)


def test_only_home_games_of_the_club_are_kept_and_keys_follow_the_pairing():
    games = list(read_fixtures_html(page(("za 14/03/2026", "20u45", "KAA Gent", "Club Brugge"),
                                     ("zo 22/03/2026", "13u30", "RSC Anderlecht", "KAA Gent"))).events)
    assert [(g.key, g.title) for g in games] == [
        ("KAA Gent|Club Brugge|Jupiler Pro League|2025-26", "KAA Gent - Club Brugge")]
    everyone = list(read_fixtures_html(page(("zo 22/03/2026", "13u30", "RSC Anderlecht", "KAA Gent")), club=None).events)
    assert [g.home for g in everyone] == ["RSC Anderlecht"]


def test_configurable_selectors_read_another_layout():
    html = """<div class="games"><div class="g"><b class="h">kaa gent</b><i class="a">KV Mechelen</i>
              <span class="d">zaterdag 4 april 2026</span><span class="t">20h30</span></div></div>"""
    sel = Selectors(row="div.g", home="b.h", away="i.a", date="span.d", time="span.t", competition=None, location=None)
    [game] = list(read_fixtures_html(html, sel).events)
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
])
def test_garbled_pages_are_refused_with_a_reason(html, reason):
    with pytest.raises(RefusedInput) as refused:
        list(read_fixtures_html(html).events)
    assert refused.value.reason == reason


def test_a_kickoff_in_the_spring_gap_is_kept_read_past_the_gap_and_noted():
    """02:30 does not exist on 29 March 2026: the game is not dropped (its alerts still come), it is read
    as 03:30 CEST, and the reader says so."""
    result = read_fixtures_html(page(("zo 29/03/2026", "2u30", "KAA Gent", "Club Brugge")))
    [game] = result.events
    assert game.start == utc(2026, 3, 29, 1, 30)
    [note] = result.notes
    assert (note.status, note.reason, note.key) == ("shifted", "nonexistent_local_time", game.key)
    assert "read as 03:30" in note.detail
    feed = read_fixtures_ical(ical("UID:a\r\nSUMMARY:KAA Gent - X\r\nDTSTART;TZID=Europe/Brussels:20260329T023000"))
    assert [e.start for e in feed.events] == [game.start] and feed.notes[0].status == "shifted"


def test_ambiguous_autumn_time_takes_the_summer_reading():
    [game] = list(read_fixtures_html(page(("zo 26/10/2025", "2u30", "KAA Gent", "Club Brugge"))).events)
    assert game.start == utc(2025, 10, 26, 0, 30)


def last_sunday(year: int, month: int) -> date:
    day = date(year, month, 31)
    return day - timedelta(days=(day.weekday() - 6) % 7)


def eu_brussels_utc(day: date, hour: int, minute: int) -> float | None:
    """Oracle from the EU rule itself (no zoneinfo): CEST (+2) from the last Sunday of March, 02:00 local,
    to the last Sunday of October, 03:00 local; inside the spring gap (02:00-02:59) still the winter offset."""
    spring, autumn = last_sunday(day.year, 3), last_sunday(day.year, 10)
    if day == spring:
        offset = 2 if hour >= 3 else 1
    elif day == autumn:
        offset = 2 if hour < 3 else 1  # 02:xx happens twice: the first (summer) reading
    else:
        offset = 2 if spring < day < autumn else 1
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=timezone.utc).timestamp() - offset * 3600


dst_days = st.integers(2000, 2037).flatmap(lambda y: st.sampled_from([last_sunday(y, 3), last_sunday(y, 10)]))


@settings(max_examples=150, deadline=None)  # the first example imports lxml
@given(st.one_of(st.dates(date(2000, 1, 1), date(2037, 12, 31)), dst_days), st.integers(0, 23), st.integers(0, 59))
def test_any_kickoff_on_a_page_is_read_as_belgian_time_by_the_eu_rule(day, hour, minute):
    html = page((f"{day:%d/%m/%Y}", f"{hour}u{minute:02d}", "KAA Gent", "Club Brugge"))
    [game] = list(read_fixtures_html(html).events)
    assert game.start == eu_brussels_utc(day, hour, minute)


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
    games = {g.key: g for g in list(read_fixtures_ical(feed).events)}
    assert sorted(games) == ["a", "b", "c", "d", "e"]
    assert games["a"].start == games["b"].start == games["c"].start == utc(2026, 3, 29, 16, 30)
    assert games["d"].start == games["e"].start == utc(2025, 10, 26, 17, 30)
    assert (games["a"].location, games["a"].competition, games["a"].title) == (
        "Planet Group Arena", "Jupiler Pro League", "KAA Gent - Club Brugge")
    assert games["c"].away == "OH Leuven"


def test_ical_floating_time_follows_the_configured_zone():
    feed = ical("UID:x\r\nSUMMARY:KAA Gent - Club Brugge\r\nDTSTART:20260110T200000")
    [game] = list(read_fixtures_ical(feed, tz="Europe/London").events)
    assert game.start == utc(2026, 1, 10, 20, 0)


def test_ical_whole_day_is_pending_and_status_cancelled_is_a_cancelled_game():
    result = read_fixtures_ical(ical("UID:p\r\nSUMMARY:KAA Gent - KRC Genk\r\nDTSTART;VALUE=DATE:20260411",
                                     "UID:q\r\nSUMMARY:KAA Gent - OH Leuven\r\nDTSTART:20260418T180000Z\r\nSTATUS:CANCELLED"))
    assert result.pending == {"p"}
    assert [(g.key, g.status) for g in result.events] == [("q", CANCELLED)]


def test_ical_without_uid_falls_back_to_the_pairing_key():
    [game] = list(read_fixtures_ical(ical("SUMMARY:KAA Gent - KRC Genk\r\nDTSTART:20260411T180000Z")).events)
    assert game.key == "KAA Gent|KRC Genk||2025-26"


@pytest.mark.parametrize("text, reason", [
    ("<html>Onderhoud</html>", "ical_unparseable"),
    ("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:a\r\nSUMMARY:KAA Gent - X\r\nDTSTART:2026", "ical_unparseable"),
    (ical("UID:a\r\nSUMMARY:{{ match.title }}\r\nDTSTART:20260411T180000Z"), "bad_summary"),
    (ical("UID:a\r\nSUMMARY:KAA Gent - X\r\nDTSTART:notadate"), "bad_dtstart"),
    (ical("UID:a\r\nSUMMARY:KAA Gent - X"), "bad_dtstart"),
    (ical("UID:a\r\nSUMMARY:KAA Gent - X\r\nDTSTART;TZID=Mars/Olympus:20260411T180000"), "unknown_tzid"),
    (ical("UID:a\r\nSUMMARY:KAA Gent - X\r\nDTSTART:20260411T180000Z", "UID:a\r\nSUMMARY:KAA Gent - Y\r\nDTSTART:20260418T180000Z"),
     "duplicate_key"),
])
def test_garbled_feeds_are_refused_with_a_reason(text, reason):
    with pytest.raises(RefusedInput) as refused:
        list(read_fixtures_ical(text).events)
    assert refused.value.reason == reason


@st.composite
def damaged(draw, original: bytes) -> bytes:
    """The sample page or feed with one stretch cut out and some junk put in its place."""
    start = draw(st.integers(0, len(original)))
    end = draw(st.integers(start, min(len(original), start + 2000)))
    return original[:start] + draw(st.binary(max_size=16)) + original[end:]


@settings(max_examples=60, deadline=None)
@given(st.one_of(st.binary(max_size=300), damaged(SAMPLE_HTML.encode("utf-8")), damaged(SAMPLE_ICS)))
def test_damaged_or_arbitrary_input_is_refused_or_read_as_well_formed_home_games(data):
    """Bad input is refused loudly (RefusedInput, nothing else escapes); what is read is still only
    home games of the club, each key once, never a game also listed as pending."""
    for read in (lambda d: read_fixtures_ical(d), lambda d: read_fixtures_html(d.decode("utf-8", "replace"))):
        try:
            result = read(data)
        except RefusedInput as refused:
            assert refused.reason
            continue
        keys = [e.key for e in result.events]
        assert all(fold(e.home) == "kaa gent" and e.kind == GAME for e in result.events)
        assert len(set(keys)) == len(keys) and not set(keys) & result.pending


# -- three page layouts ----------------------------------------------------------------------

from sim.models.club_site import Game  # noqa: E402
from system.decisions.selectors import parse_selectors_file  # noqa: E402
from system.decisions.page_text import decode_page  # noqa: E402
from tests.layouts import LAYOUTS, SELECTORS, render  # noqa: E402

BRUSSELS = ZoneInfo("Europe/Brussels")
FR_MONTHS = {"janvier": 1, "février": 2, "mars": 3, "avril": 4, "mai": 5, "juin": 6, "juillet": 7, "août": 8,
             "septembre": 9, "octobre": 10, "novembre": 11, "décembre": 12}


def layout_selectors(layout: str):
    text = SELECTORS[layout]
    return parse_selectors_file(text, layout).selectors if text else Selectors()


def positional_oracle(html: str) -> list[tuple[str, float, str]]:
    """Regex over the positional table's rows: (title, kickoff, competition) of the KAA Gent home games."""
    rows = re.findall(r"<tr><td>([^<]*)</td><td>-</td><td>([^<]*)</td><td>([^<]*)</td>"
                      r"<td>(\d\d)/(\d\d)/(\d{4}) (\d+)u(\d\d)</td></tr>", html)
    assert len(rows) == html.count("<tr><td>")  # the regex saw every game row
    return [(f"{h} - {a}", datetime(int(y), int(mo), int(d), int(hh), int(mm), tzinfo=BRUSSELS).timestamp(), c)
            for h, a, c, d, mo, y, hh, mm in rows if h == "KAA Gent"]


def cards_oracle(html: str) -> list[tuple[str, float, str]]:
    """Walk the card page's text in order: a day header sets the date, each card below it is a game."""
    out, day = [], None
    for header, card in re.findall(r'<h3 class="titre jour">([^<]*)</h3>|(<div class="kaart">.*?</p></div>)', html):
        if header:
            _, d, month, year = header.split()
            day = (int(year), FR_MONTHS[month], int(d))
            continue
        hh, mm, home, away, comp = re.search(
            r'"heure">(\d+)h(\d\d)<.*"domicile">([^<]*)<.*"visiteur">([^<]*)<.*"competition">([^<]*)<', card).groups()
        if home == "KAA Gent":
            out.append((f"{home} - {away}", datetime(*day, int(hh), int(mm), tzinfo=BRUSSELS).timestamp(), comp))
    return out


@pytest.mark.parametrize("layout, oracle", [("positional", positional_oracle), ("day-cards", cards_oracle)])
def test_sample_season_in_the_other_layouts_reads_game_by_game_as_its_oracle(layout, oracle):
    """The same invented season as the sample page, as an old positional table (XPath, date and kickoff in one
    cell, ISO-8859-1) and as day-header cards (French): each home game, in order, as an independent oracle
    reads it off the page text, and the same games as the sample page."""
    raw = (PAGES / f"{layout}-2025-26.html").read_bytes()
    html = decode_page(raw)
    selectors = parse_selectors_file((PAGES / f"{layout}-2025-26.toml").read_text(encoding="utf-8")).selectors
    games = list(read_fixtures_html(html, selectors).events)
    expected = oracle(html if layout == "day-cards" else raw.decode("iso-8859-1"))
    assert len(expected) == 17
    assert [(g.title, g.start, g.competition) for g in games] == expected
    sample = list(read_fixtures_html(SAMPLE_HTML).events)
    assert [(g.title, g.start) for g in games] == [(g.title, g.start) for g in sample]


CLUB_NAMES = ("KAA Gent", "K.A.A. Gent", "AA Gent")
GROUND = "Planet Group Arena"
OTHERS = ("Club Brugge", "RSC Anderlecht", "KRC Genk", "Standard de Liège", "RAAL La Louvière", "Sporting Charleroi",
          "Cercle Brugge", "OH Leuven")


@st.composite
def seasons(draw) -> list[Game]:
    """Games of the 2025-26 season: the club (under any of its names) at home or away, other clubs' games,
    and a few at the club's ground under another home name; kickoffs 11:00-22:59, some not fixed, some
    postponed. Pairings (home, away, competition) are unique, as the page's keys must be."""
    n = draw(st.integers(1, 12))
    games, pairs = [], set()
    for _ in range(n):
        club = draw(st.sampled_from(CLUB_NAMES))
        other = draw(st.sampled_from(OTHERS))
        shape = draw(st.sampled_from(["home", "away", "neutral", "at_ground"]))
        home, away = {"home": (club, other), "away": (other, club), "neutral": (other, "Zulte Waregem"),
                      "at_ground": ("Gent", other)}[shape]
        competition = draw(st.sampled_from(["Jupiler Pro League", "Croky Cup"]))
        if (home, away, competition) in pairs:
            continue
        pairs.add((home, away, competition))
        day = draw(st.dates(date(2025, 7, 1), date(2026, 6, 30)))
        kickoff = datetime(day.year, day.month, day.day, draw(st.integers(11, 22)), draw(st.sampled_from([0, 15, 30, 45])),
                           tzinfo=BRUSSELS).timestamp()
        fixed = draw(st.booleans()) or draw(st.booleans())
        games.append(Game(home, away, kickoff, competition=competition,
                          location=GROUND if shape in ("home", "at_ground") else "Elders",
                          time_fixed=fixed, postponed=fixed and draw(st.integers(0, 5)) == 0))
    return games


@settings(max_examples=60, deadline=None)
@given(seasons(), st.sampled_from(LAYOUTS))
def test_any_season_in_any_layout_reads_back_to_exactly_its_home_games(games, layout):
    """Home games by any of the club's names (folded), or at its ground where the layout shows the ground;
    pending when the time is not fixed, cancelled when postponed; nothing else."""
    by_ground = layout != "positional"  # the positional table has no ground column
    home = [g for g in games if fold(g.home) in {fold(n) for n in CLUB_NAMES} or (by_ground and g.location == GROUND)]
    # a postponed game shows no time: it is the cancelled event of that day (its start: midnight local)
    midnight = lambda g: datetime.fromtimestamp(g.kickoff, BRUSSELS).replace(hour=0, minute=0).timestamp()  # noqa: E731
    expected = sorted((g.title, midnight(g) if g.postponed else g.kickoff, CANCELLED if g.postponed else SCHEDULED)
                      for g in home if g.time_fixed)
    html = decode_page(render(layout, games))
    result = read_fixtures_html(html, layout_selectors(layout), club=CLUB_NAMES, ground=GROUND, season="2025-26")
    assert sorted((e.title, e.start, e.status) for e in result.events) == expected
    assert result.pending == {f"{g.home}|{g.away}|{g.competition}|2025-26" for g in home if not g.time_fixed}
    assert not result.refused


def test_home_by_name_folded_or_by_ground_and_a_feed_whose_utc_times_are_really_local():
    html = page(("za 14/03/2026", "20u30", "K.A.A. Gent", "Club Brugge"),
                ("zo 15/03/2026", "14u30", "Gent", "KRC Genk"),
                ("zo 22/03/2026", "14u30", "Club Brugge", "KAA Gent"))
    html = html.replace('<td class="uit">KRC Genk</td>', '<td class="uit">KRC Genk</td><td class="stadion">'
                        'Planet Group Arena (Ottergemsesteenweg)</td>')
    assert [g.home for g in list(read_fixtures_html(html, club=["KAA Gent", "AA Gent"]).events)] == ["K.A.A. Gent"]
    assert [g.home for g in list(read_fixtures_html(html, club="KAA Gent", ground="Planet Group Arena").events)] == [
        "K.A.A. Gent", "Gent"]
    feed = ical("UID:z\r\nSUMMARY:KAA Gent - Club Brugge\r\nDTSTART:20260314T203000Z\r\n"
                "LOCATION:Planet Group Arena\\, Gent",
                "UID:t\r\nSUMMARY:KAA Gent - KRC Genk\r\nDTSTART;TZID=Europe/Brussels:20260321T203000",
                "UID:g\r\nSUMMARY:Gent - OH Leuven\r\nDTSTART:20260328T150000Z\r\n"
                "LOCATION:Planet Group Arena\\, Ottergemsesteenweg\\, Gent",
                "UID:n\r\nSUMMARY:Gent - KV Mechelen\r\nDTSTART:20260404T150000Z\r\nLOCATION:Planet Group")
    as_published = {e.key: e.start for e in list(read_fixtures_ical(feed).events)}
    assert as_published == {"z": utc(2026, 3, 14, 20, 30), "t": utc(2026, 3, 21, 19, 30)}
    local = {e.key: e.start for e in list(read_fixtures_ical(feed, utc_is_local=True, ground="Planet Group Arena").events)}
    assert local == {"z": utc(2026, 3, 14, 19, 30), "t": utc(2026, 3, 21, 19, 30), "g": utc(2026, 3, 28, 14, 0)}


def test_a_lenient_read_lists_every_refused_row_with_its_reason():
    html = page(("za 14/03/2026", "20u30", "KAA Gent", "Club Brugge"),
                ("{{ date }}", "20u30", "KAA Gent", "KRC Genk"),
                ("za 28/03/2026", "25u00", "KAA Gent", "OH Leuven"),
                ("za 04/04/2026", "nnb", "KAA Gent", "KV Mechelen"))
    result = read_fixtures_html(html, strict=False)
    assert [e.away for e in result.events] == ["Club Brugge"]
    assert [(n.status, n.reason) for n in result.notes] == [
        ("refused", "bad_date"), ("refused", "bad_time"), ("pending", "time_not_fixed")]
    assert "KRC Genk" in result.notes[0].row and "row 2" in result.notes[0].row
    with pytest.raises(RefusedInput) as refused:
        read_fixtures_html(html)
    assert refused.value.reason == "bad_date"


# -- repeated pairings ------------------------------------------------------------------------

PLAYOFFS = "KAA Gent|Club Brugge|Champions' Play-offs|2025-26"


def test_a_pairing_met_again_numbers_its_games_by_date_and_the_first_keeps_its_key():
    html = (PAGES / "playoffs-2025-26.html").read_text(encoding="utf-8")
    read = read_fixtures_html(html)
    brugge = [(g.key, g.start) for g in read.events if g.away == "Club Brugge"]
    assert brugge == [(PLAYOFFS, utc(2026, 3, 29, 16, 30)), (PLAYOFFS + "#2", utc(2026, 5, 3, 16, 30)),
                      (PLAYOFFS + "#3", utc(2026, 5, 21, 18, 30))]
    anderlecht = [g.key for g in read.events if g.away == "RSC Anderlecht"]
    assert anderlecht == ["KAA Gent|RSC Anderlecht|Champions' Play-offs|2025-26",
                          "KAA Gent|RSC Anderlecht|Champions' Play-offs|2025-26#2"]
    assert read.notes == () and read.window is None  # a page covers the whole season


def test_ordinals_follow_the_dates_not_the_order_of_the_rows_and_count_pending_games():
    html = page(("zo 03/05/2026", "nnb", "KAA Gent", "Club Brugge"), ("zo 29/03/2026", "18u30", "KAA Gent", "Club Brugge"),
                ("zo 19/04/2026", "uitgesteld", "KAA Gent", "Club Brugge"))
    read = read_fixtures_html(html)
    key = "KAA Gent|Club Brugge|Jupiler Pro League|2025-26"
    assert [(g.key, g.status) for g in read.events] == [(key, SCHEDULED), (key + "#2", CANCELLED)]
    assert read.pending == {key + "#3"} and [n.key for n in read.notes] == [key + "#3"]


def test_a_row_repeating_a_game_is_refused_alone_and_the_page_still_reads():
    rows = [("zo 29/03/2026", "18u30", "KAA Gent", "Club Brugge"), ("za 04/04/2026", "20u45", "KAA Gent", "KRC Genk"),
            ("zo 29/03/2026", "18u30", "KAA Gent", "Club Brugge")]
    for strict in (True, False):
        read = read_fixtures_html(page(*rows), strict=strict)
        assert [(g.away, g.start) for g in read.events] == [("Club Brugge", utc(2026, 3, 29, 16, 30)),
                                                             ("KRC Genk", utc(2026, 4, 4, 18, 45))]
        [note] = read.refused
        assert (note.reason, note.row[:6]) == ("duplicate_row", "row 3 ") and "row 1 " in note.detail
    row = ('<tr class="wedstrijd"><td class="datum">zo 29/03/2026</td><td class="uur">18u30</td>'
           '<td class="competitie">{}</td><td class="thuis">KAA Gent</td><td class="uit">Club Brugge</td></tr>')
    two_cups = f'<table class="kalender">{row.format("Jupiler Pro League")}{row.format("Croky Cup")}</table>'
    assert len(read_fixtures_html(two_cups).events) == 2  # the same kickoff in another competition is another game


def test_a_feed_without_uids_numbers_a_repeated_pairing_too():
    read = read_fixtures_ical(ical("SUMMARY:KAA Gent - KRC Genk\r\nDTSTART:20260411T180000Z",
                                   "SUMMARY:KAA Gent - KRC Genk\r\nDTSTART:20260307T194500Z"))
    assert [(g.key, g.start) for g in read.events] == [("KAA Gent|KRC Genk||2025-26#2", utc(2026, 4, 11, 18)),
                                                       ("KAA Gent|KRC Genk||2025-26", utc(2026, 3, 7, 19, 45))]


# -- feed summaries and windows ---------------------------------------------------------------

FEEDS = PAGES.parent / "feeds"


def test_feed_summaries_in_every_shape_read_the_same_teams():
    read = read_fixtures_ical((FEEDS / "barcelona-shapes.ics").read_bytes(), tz="Europe/Madrid", club="Barcelona")
    assert [(g.home, g.away, g.competition, g.start) for g in read.events] == [
        ("Barcelona", "Real Sociedad", "Liga EA Sports", utc(2025, 9, 28, 19)),
        ("Barcelona", "Girona FC", "Liga EA Sports", utc(2025, 10, 18, 16, 30)),
        ("Barcelona", "Elche CF", "Liga EA Sports", utc(2025, 11, 2, 17, 30)),
        ("Barcelona", "Athletic Club", "Liga EA Sports", utc(2025, 11, 22, 15, 15)),
        ("Barcelona", "Deportivo Alavés", "Liga EA Sports", utc(2025, 11, 29, 17, 30)),
        ("Barcelona", "Racing Santander", "Copa del Rey", utc(2025, 12, 3, 20)),
    ]
    assert read.notes == ()
    assert read.window == (utc(2025, 9, 28, 19), utc(2025, 12, 6, 20))  # away games count: the feed reaches them


def test_an_ambiguous_summary_is_refused_until_the_selectors_file_says_its_shape():
    text = (FEEDS / "barcelona-home-away-competition.ics").read_bytes()
    with pytest.raises(RefusedInput) as refused:
        read_fixtures_ical(text, club="Barcelona")
    assert refused.value.reason == "ambiguous_summary" and 'summary = "{competition} - {home} - {away}"' in \
        refused.value.detail
    config = parse_selectors_file((FEEDS / "barcelona-home-away-competition.toml").read_text(encoding="utf-8"))
    read = read_fixtures_ical(text, club=config.club, summary=config.summary)
    assert [(g.home, g.away, g.competition) for g in read.events] == [
        ("Barcelona", "Como 1907", "Trofeu Joan Gamper"), ("Barcelona", "Real Sociedad", "Liga EA Sports")]
