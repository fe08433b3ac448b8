"""The club site's renderers against the system's parser and the season file: each layout, rendered from the
season's data, reads back as that data (the renderer and the parser checked against each other and against
the independent season file)."""

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from sim.models.club_pages import LAYOUTS, render_html, render_ical
from sim.models.club_season import Game, load_season
from system.decisions.events import CANCELLED, SCHEDULED
from system.decisions.fixtures import read_fixtures_html, read_fixtures_ical
from system.decisions.page_text import decode_page
from system.decisions.selectors import Selectors, parse_selectors_file

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SEASON = FIXTURES / "seasons" / "kaagent-2025-26.toml"
BRUSSELS = ZoneInfo("Europe/Brussels")
CARDS = '''row = "article.match-card"
date = "span.match-datum"
time = "span.match-uur"
home = "span.match-thuis"
away = "span.match-uit"
competition = "span.match-competitie"
location = "span.match-stadion"
'''
# Where each layout writes its cells, and whether it shows the ground.
SELECTORS = {"table": (None, True), "cards": (CARDS, True),
             "positional": ((FIXTURES / "pages" / "positional-2025-26.toml").read_text(encoding="utf-8"), False),
             "day-cards": ((FIXTURES / "pages" / "day-cards-2025-26.toml").read_text(encoding="utf-8"), True)}


def read_page(layout: str, games: list[Game]):
    text, shows_ground = SELECTORS[layout]
    selectors = parse_selectors_file(text, f"{layout}.toml").selectors if text else Selectors()
    page = render_html(games, layout=layout).encode("utf-8")
    return read_fixtures_html(decode_page(page), selectors, club=None), shows_ground


def test_every_layout_has_its_selectors_here():
    assert sorted(SELECTORS) == sorted(LAYOUTS)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_each_layout_reads_back_as_the_season_file(layout):
    season = load_season(SEASON)
    fixtures, shows_ground = read_page(layout, season)
    assert [(e.home, e.away, e.start, e.competition, e.location, e.status) for e in fixtures.events] == [
        (g.home, g.away, g.kickoff, g.competition, g.location if shows_ground else "", SCHEDULED) for g in season]
    assert not fixtures.pending and not fixtures.notes


@pytest.mark.parametrize("style", ["tzid", "utc", "floating"])
def test_the_feed_in_each_style_reads_back_as_the_season_file(style):
    season = load_season(SEASON)
    events = read_fixtures_ical(render_ical(season, style=style), club=None).events
    assert sorted((e.home, e.away, e.start, e.competition, e.location, e.status) for e in events) == sorted(
        (g.home, g.away, g.kickoff, g.competition, g.location, SCHEDULED) for g in season)


def _day(epoch: float):
    return datetime.fromtimestamp(epoch, BRUSSELS).date()


STATUSES = '''
[[game]]
home = "KAA Gent"
away = "OH Leuven"
kickoff = 2025-08-04T20:30:00+02:00
competition = "Croky Cup"
location = "Planet Group Arena"

[[game]]
home = "KAA Gent"
away = "KRC Genk"
kickoff = 2025-10-26T18:30:00+01:00
location = "Planet Group Arena"
status = "postponed"

[[game]]
home = "KV Kortrijk"
away = "KAA Gent"
kickoff = 2025-12-03T20:45:00+01:00
location = "Guldensporenstadion"
status = "pending"
'''


@pytest.mark.parametrize("layout", LAYOUTS)
def test_postponed_and_pending_games_read_back_in_each_layout(layout, tmp_path):
    """A postponed game reads as a cancelled event on its day; a game whose time is pending is no event yet,
    but its key is pending (so the controller does not take it for a cancelled game)."""
    (tmp_path / "s.toml").write_text(STATUSES, encoding="utf-8")
    fixed, postponed, pending = load_season(tmp_path / "s.toml")
    fixtures, _ = read_page(layout, [fixed, postponed, pending])
    assert [(e.title, e.status) for e in fixtures.events] == [(fixed.title, SCHEDULED), (postponed.title, CANCELLED)]
    assert fixtures.events[0].start == fixed.kickoff
    assert _day(fixtures.events[1].start) == _day(postponed.kickoff)
    assert len(fixtures.pending) == 1 and "kv kortrijk" in next(iter(fixtures.pending)).casefold()


@pytest.mark.parametrize("style", ["tzid", "utc", "floating"])
def test_postponed_and_pending_games_read_back_from_the_feed(style, tmp_path):
    (tmp_path / "s.toml").write_text(STATUSES, encoding="utf-8")
    fixed, postponed, pending = load_season(tmp_path / "s.toml")
    fixtures = read_fixtures_ical(render_ical([fixed, postponed, pending], style=style), club=None)
    assert sorted((e.title, e.start, e.status) for e in fixtures.events) == sorted([
        (fixed.title, fixed.kickoff, SCHEDULED), (postponed.title, postponed.kickoff, CANCELLED)])
    assert len(fixtures.pending) == 1
