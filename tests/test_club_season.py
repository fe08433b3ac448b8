"""The season files, the simulated world's truth: read without the system's parser, and agreeing game by
game with the recorded pages that show them (read back, here only, through the system's parser)."""

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from sim.models.club_season import Game, load_season, sample_season, season_file_for
from system.decisions.fixtures import read_fixtures_html, read_fixtures_ical
from system.decisions.page_text import decode_page
from system.decisions.selectors import Selectors, parse_selectors_file
from system.errors import ConfigError

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SEASON = FIXTURES / "seasons" / "kaagent-2025-26.toml"
BRUSSELS = ZoneInfo("Europe/Brussels")
# The recorded pages that show the season, and whether the page has a column for the ground.
PAGES = {"kaagent-2025-26.html": True, "kaagent-2025-26.ics": True, "positional-2025-26.html": False,
         "day-cards-2025-26.html": True}


def _at(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def test_games_checked_by_hand_against_the_pages():
    """Five games read off the recorded pages by eye: the first and last, both sides of each DST change."""
    games = {(g.home, g.away): g for g in load_season(SEASON)}
    assert len(games) == 34
    by_hand = [
        ("KAA Gent", "Club Brugge", "2025-08-02T20:45:00+02:00", "Planet Group Arena"),
        ("Sint-Truidense VV", "KAA Gent", "2025-10-19T20:30:00+02:00", "Stayen"),
        ("KAA Gent", "Sporting Charleroi", "2025-10-26T18:30:00+01:00", "Planet Group Arena"),
        ("RAAL La Louvière", "KAA Gent", "2025-11-21T20:45:00+01:00", "Stade du Tivoli"),
        ("KAA Gent", "FCV Dender EH", "2026-03-29T18:30:00+02:00", "Planet Group Arena"),
        ("KV Kortrijk", "KAA Gent", "2026-05-03T13:30:00+02:00", "Guldensporenstadion"),
    ]
    for home, away, kickoff, ground in by_hand:
        assert games[home, away] == Game(home, away, _at(kickoff), "Jupiler Pro League", ground)


@pytest.mark.parametrize("page", sorted(PAGES))
def test_each_recorded_page_shows_the_season_file_game_by_game(page):
    """The system's parser reads the recorded page (with the selectors file beside it, if any) into the games
    of the season file, in order: teams, kickoff, competition, and the ground where the page has one."""
    assert season_file_for(FIXTURES / "pages" / page) == SEASON
    raw = (FIXTURES / "pages" / page).read_bytes()
    if page.endswith(".ics"):
        events = read_fixtures_ical(raw, club=None).events
    else:
        selectors_file = (FIXTURES / "pages" / page).with_suffix(".toml")
        selectors = (parse_selectors_file(selectors_file.read_text(encoding="utf-8"), selectors_file.name).selectors
                     if selectors_file.exists() else Selectors())
        events = read_fixtures_html(decode_page(raw), selectors, club=None).events
    shown = [(e.home, e.away, e.start, e.competition, e.location, e.status) for e in events]
    season = [(g.home, g.away, g.kickoff, g.competition, g.location if PAGES[page] else "", "scheduled")
              for g in load_season(SEASON)]
    assert sorted(shown) == sorted(season)
    if not page.endswith(".ics"):
        assert shown == season  # the page lists them in the file's order


def test_the_season_file_lists_exactly_the_pages_checked_here():
    import tomllib

    assert sorted(tomllib.loads(SEASON.read_text(encoding="utf-8"))["pages"]) == sorted(PAGES)


def test_the_season_file_is_the_invented_sample_season():
    assert load_season(SEASON) == sample_season()


def test_statuses_and_defaults(tmp_path):
    path = tmp_path / "cup.toml"
    path.write_text('''
[[game]]
home = "KAA Gent"
away = "OH Leuven"
kickoff = 2025-08-04T20:30:00+02:00
competition = "Croky Cup"
status = "postponed"

[[game]]  # the time is not known yet
home = "KV Kortrijk"
away = "KAA Gent"
kickoff = 2025-12-03T20:45:00+01:00
status = "pending"
''', encoding="utf-8")
    assert load_season(path) == [
        Game("KAA Gent", "OH Leuven", 1754332200.0, "Croky Cup", postponed=True),
        Game("KV Kortrijk", "KAA Gent", 1764791100.0, "Jupiler Pro League", time_fixed=False),
    ]


@pytest.mark.parametrize("change, words", [
    ('status = "scheduled"', None),
    ('status = "later"', "cup.toml:3: key 'status': unknown status 'later'; statuses are scheduled, postponed, "
                         "pending"),
    ('kickof = 2025-08-04T20:30:00+02:00', "cup.toml:3: key 'kickof': unknown key; a game has home, away, "
                                           "kickoff, competition, location, status"),
    ('away = 7', "cup.toml:3: key 'away': write text in quotes"),
])
def test_a_mistake_names_the_file_the_game_line_and_the_key(tmp_path, change, words):
    path = tmp_path / "cup.toml"
    key = change.split(" =")[0]
    lines = ['pages = []', '', '[[game]]', 'home = "KAA Gent"', 'away = "OH Leuven"',
             'kickoff = 2025-08-04T20:30:00+02:00']
    lines = [line for line in lines if not line.startswith(key + " ")] + [change]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    if words is None:
        assert len(load_season(path)) == 1
        return
    with pytest.raises(ConfigError) as error:
        load_season(path)
    assert str(error.value).endswith(words) and str(path) in str(error.value)


@pytest.mark.parametrize("kickoff", ['2025-08-04T20:30:00', '"2025-08-04T20:30:00+02:00"', '2025-08-04'])
def test_a_kickoff_without_its_offset_is_refused(tmp_path, kickoff):
    path = tmp_path / "s.toml"
    path.write_text(f'[[game]]\nhome = "A"\naway = "B"\nkickoff = {kickoff}\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"s.toml:1: key 'kickoff': write a date-time with its UTC offset"):
        load_season(path)


def test_missing_keys_and_unknown_top_level_keys_are_refused(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('[[game]]\nhome = "A"\nkickoff = 2025-08-04T20:30:00+02:00\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"s.toml:1: key 'away': missing"):
        load_season(path)
    path.write_text('[[games]]\nhome = "A"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"s.toml: key 'games': unknown key; a season file holds 'pages'"):
        load_season(path)


def test_a_page_no_season_file_lists_is_refused_not_read(tmp_path):
    (tmp_path / "pages").mkdir()
    (tmp_path / "seasons").mkdir()
    (tmp_path / "seasons" / "a.toml").write_text('pages = ["a.html"]\n', encoding="utf-8")
    assert season_file_for(tmp_path / "pages" / "a.html") == tmp_path / "seasons" / "a.toml"
    with pytest.raises(ConfigError, match="no season file in .* lists the page 'b.html'"):
        season_file_for(tmp_path / "pages" / "b.html")
