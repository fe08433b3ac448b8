"""hilsim fixtures check: the games each layout shows, a dry-run reconciliation, --suggest, exit codes."""

import re
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
import respx
from click.testing import CliRunner

from hilsim.cli import main
from sim.models.club_site import Game, render_ical, sample_season
from system.adapters.controller_store import Store
from system.decisions.fixtures import read_fixtures_html, read_fixtures_ical
from system.decisions.reconcile import reconcile
from tests.layouts import SELECTORS, render

PAGES = Path(__file__).resolve().parent.parent / "fixtures" / "pages"
BRUSSELS = ZoneInfo("Europe/Brussels")
BEFORE_SEASON = "2025-07-20T00:00:00+02:00"
LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d \(Europe/Brussels\)  .+ - .+  \[.*\]$")


def check(*args: str):
    return CliRunner().invoke(main, ["fixtures", "check", *args], catch_exceptions=False)


def expected_lines(games: list[Game]) -> list[str]:
    """The sample season's home games as the command must print them, computed from the games themselves."""
    home = sorted((g for g in games if g.home == "KAA Gent"), key=lambda g: g.kickoff)
    return [f"{datetime.fromtimestamp(g.kickoff, BRUSSELS):%Y-%m-%d %H:%M} (Europe/Brussels)  "
            f"{g.home} - {g.away}  [{g.competition}]" for g in home]


@pytest.mark.parametrize("page, selectors", [
    ("kaagent-2025-26.html", None), ("positional-2025-26.html", "positional-2025-26.toml"),
    ("day-cards-2025-26.html", "day-cards-2025-26.toml"), ("kaagent-2025-26.ics", None)])
def test_check_prints_each_home_game_then_the_count_for_every_layout_and_the_feed(page, selectors):
    result = check(str(PAGES / page), *(["--selectors", str(PAGES / selectors)] if selectors else []))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    expected = expected_lines(sample_season())
    if page.endswith(".ics"):  # the feed names no competition on its own: CATEGORIES does
        lines = [re.sub(r"\[.*\]$", "[Jupiler Pro League]", line) for line in lines]
    assert lines == expected + ["17 home games"]
    assert all(LINE.match(line) for line in lines[:-1])


def older_and_newer_season(tmp_path: Path) -> tuple[str, str]:
    """The season as a store holds it from an older scrape, and the page now: one home game added (a cup
    tie) and one away game moved a week (which is no business of the home controller)."""
    older = sample_season()
    away = next(i for i, g in enumerate(older) if g.away == "KAA Gent")
    newer = list(older)
    newer[away] = replace(older[away], kickoff=older[away].kickoff + 7 * 86400)
    cup = datetime(2026, 2, 4, 20, 45, tzinfo=BRUSSELS).timestamp()
    newer.append(Game("KAA Gent", "Club Brugge", cup, competition="Croky Cup"))
    page = tmp_path / "positional.html"
    page.write_bytes(render("positional", newer))
    store = Store(str(tmp_path / "controller.db"))
    known = read_fixtures_html(render("positional", older).decode("iso-8859-1"),
                               _selectors("positional"), source="club-site")
    store.apply(reconcile([], known.events, now=0.0, source="club-site"))
    store.close()
    return str(page), str(tmp_path / "controller.db")


def _selectors(layout: str):
    from system.decisions.selectors import parse_selectors_file

    return parse_selectors_file(SELECTORS[layout]).selectors


def test_dry_run_against_an_older_store_adds_the_new_game_and_ignores_the_moved_away_game(tmp_path):
    page, db = older_and_newer_season(tmp_path)
    before = Store(db, readonly=True).stored_events()
    result = check(page, "--selectors", str(PAGES / "positional-2025-26.toml"), "--store", db, "--at", BEFORE_SEASON)
    assert result.exit_code == 0, result.output
    tail = result.output.split("18 home games\n", 1)[1].splitlines()
    assert tail == [f"against {db} (17 games stored), the controller would:",
                    "  add         2026-02-04 20:45 (Europe/Brussels)  KAA Gent - Club Brugge  [Croky Cup]"]
    assert Store(db, readonly=True).stored_events() == before  # a dry run: nothing changed


def test_dry_run_shows_reschedules_cancellations_and_a_suspicious_source(tmp_path):
    page, db = older_and_newer_season(tmp_path)
    season = sample_season()
    home = [i for i, g in enumerate(season) if g.home == "KAA Gent"]
    moved = list(season)
    moved[home[3]] = replace(season[home[3]], kickoff=season[home[3]].kickoff + 3600)
    del moved[home[5]]
    (tmp_path / "moved.html").write_bytes(render("positional", moved))
    result = check(str(tmp_path / "moved.html"), "--selectors", str(PAGES / "positional-2025-26.toml"), "--store", db,
                   "--at", BEFORE_SEASON)
    verbs = [line.split()[0] for line in result.output.split("the controller would:\n", 1)[1].splitlines()]
    assert sorted(verbs) == ["cancel", "reschedule"] and "(was " in result.output and result.exit_code == 0
    few = [g for g in season if g.home != "KAA Gent" or g is season[home[0]]]
    (tmp_path / "few.html").write_bytes(render("positional", few))
    result = check(str(tmp_path / "few.html"), "--selectors", str(PAGES / "positional-2025-26.toml"), "--store", db,
                   "--at", BEFORE_SEASON)
    assert result.exit_code == 1 and "refuse the source as suspicious: dropped:" in result.output


def test_refused_rows_are_listed_with_their_reason_and_exit_1(tmp_path):
    html = (PAGES / "kaagent-2025-26.html").read_text(encoding="utf-8")
    html = html.replace("za 02/08/2025", "za 02/08/2O25", 1).replace(">18u15<", ">nnb<", 1)
    (tmp_path / "page.html").write_text(html, encoding="utf-8")
    result = check(str(tmp_path / "page.html"))
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[15] == "15 home games"
    assert lines[16].startswith("pending: row ") and lines[16].endswith(": the time is not fixed yet")
    assert lines[17].startswith("refused: row 1 (za 02/08/2O25 | 20u45 | KAA Gent - Club Brugge): bad_date:")
    assert check(str(PAGES / "kaagent-2025-26.html"), "--club", "Nobody FC").exit_code == 1


@pytest.mark.parametrize("contents, words", [
    ('row = "tr"\nrows = "x"\n', "club.toml:2: key 'rows': unknown key; known: row, home, away"),
    ('row = "tr"\nhome = "td["\naway = "td"\nkickoff = "td"\n', "club.toml:2: key 'home':"),
])
def test_a_bad_selectors_file_is_one_line_naming_file_and_line_and_exit_2(tmp_path, contents, words):
    (tmp_path / "club.toml").write_text(contents, encoding="utf-8")
    result = CliRunner().invoke(main, ["fixtures", "check", str(PAGES / "kaagent-2025-26.html"),
                                       "--selectors", str(tmp_path / "club.toml")])
    assert result.exit_code == 2 and words in result.output and "Traceback" not in result.output, result.output


def test_bad_options_exit_2(tmp_path):
    for args in (["--tz", "Mars/Olympus"], ["--at", "tomorrow"], ["--store", str(tmp_path / "none.db")]):
        result = CliRunner().invoke(main, ["fixtures", "check", str(PAGES / "kaagent-2025-26.html"), *args])
        assert result.exit_code == 2 and result.output.startswith("Error: ") and "Traceback" not in result.output
    assert CliRunner().invoke(main, ["fixtures", "check", str(tmp_path / "missing.html")]).exit_code == 2


@respx.mock
def test_a_url_is_fetched_and_decoded_by_its_meta_charset_and_a_feed_told_apart_by_content():
    respx.get("https://club.example/kalender").mock(return_value=httpx.Response(
        200, content=(PAGES / "positional-2025-26.html").read_bytes(), headers={"content-type": "text/html"}))
    respx.get("https://club.example/feed").mock(return_value=httpx.Response(
        200, content=render_ical(sample_season(), style="utc"), headers={"content-type": "text/plain"}))
    respx.get("https://club.example/down").mock(return_value=httpx.Response(503))
    page = check("https://club.example/kalender", "--selectors", str(PAGES / "positional-2025-26.toml"))
    assert page.exit_code == 0 and "KAA Gent - RAAL La Louvière" in page.output
    feed = check("https://club.example/feed")
    assert feed.exit_code == 0 and feed.output.splitlines()[-1] == "17 home games"
    down = check("https://club.example/down")
    assert down.exit_code == 1 and "http_503" in down.output


@pytest.mark.parametrize("layout", ["positional", "day-cards"])
def test_suggest_prints_a_selectors_file_that_checks_the_page_right(tmp_path, layout):
    page = PAGES / f"{layout}-2025-26.html"
    suggested = check(str(page), "--suggest")
    assert suggested.exit_code == 0
    (tmp_path / "suggested.toml").write_text(suggested.output, encoding="utf-8")
    result = check(str(page), "--selectors", str(tmp_path / "suggested.toml"))
    assert result.exit_code == 0
    titles = [line.split("  ")[1] for line in result.output.splitlines()[:-1]]
    assert titles == [line.split("  ")[1] for line in expected_lines(sample_season())]


def test_postponed_and_shifted_games_are_listed_after_the_count(tmp_path):
    html = (PAGES / "kaagent-2025-26.html").read_text(encoding="utf-8")
    html = html.replace('<td class="uur">20u45</td>', '<td class="uur">uitgesteld</td>', 1)
    html = html.replace('<td class="datum">zo 29/03/2026</td><td class="uur">18u30</td>',
                        '<td class="datum">zo 29/03/2026</td><td class="uur">2u30</td>', 1)
    (tmp_path / "page.html").write_text(html, encoding="utf-8")
    result = check(str(tmp_path / "page.html"))
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert all(LINE.match(line) for line in lines[:16]) and lines[16] == "16 home games, 1 postponed"
    assert lines[17] == "postponed: 2025-08-02 (Europe/Brussels)  KAA Gent - Club Brugge  [Jupiler Pro League]"
    assert lines[18].startswith("shifted: row ") and lines[18].endswith(
        "02:30 does not exist on 2026-03-29 in Europe/Brussels (clocks go forward); read as 03:30")
    assert "2026-03-29 03:30 (Europe/Brussels)  KAA Gent - FCV Dender EH" in result.output


# -- a page with a repeated pairing, feeds as real feeds write them --------------------------------

FEEDS = PAGES.parent / "feeds"


def test_a_page_where_a_pairing_meets_three_times_reads_game_by_game():
    result = check(str(PAGES / "playoffs-2025-26.html"))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "2026-03-29 18:30 (Europe/Brussels)  KAA Gent - Club Brugge  [Champions' Play-offs]",
        "2026-04-11 20:45 (Europe/Brussels)  KAA Gent - Union Saint-Gilloise  [Champions' Play-offs]",
        "2026-04-19 16:00 (Europe/Brussels)  KAA Gent - RSC Anderlecht  [Champions' Play-offs]",
        "2026-05-03 18:30 (Europe/Brussels)  KAA Gent - Club Brugge  [Champions' Play-offs]",
        "2026-05-17 18:30 (Europe/Brussels)  KAA Gent - RSC Anderlecht  [Champions' Play-offs]",
        "2026-05-21 20:30 (Europe/Brussels)  KAA Gent - Club Brugge  [Champions' Play-offs]",
        "6 home games",
    ]


def test_a_row_repeating_a_game_is_refused_alone_and_the_store_still_gets_the_rest(tmp_path):
    html = (PAGES / "playoffs-2025-26.html").read_text(encoding="utf-8")
    first = html.index('<tr class="wedstrijd"><td class="datum">zo 03/05/2026')
    row = html[first:html.index("</tr>", first) + len("</tr>")]
    (tmp_path / "page.html").write_text(html.replace(row, row + "\n" + row), encoding="utf-8")
    db = str(tmp_path / "controller.db")
    Store(db).close()
    result = check(str(tmp_path / "page.html"), "--store", db, "--at", "2026-03-01T10:00:00+01:00")
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[6] == "6 home games"
    assert lines[7] == ("refused: row 7 (zo 03/05/2026 | 18u30 | KAA Gent - Club Brugge): duplicate_row: the same "
                        "game as row 6 (zo 03/05/2026 | 18u30 | KAA Gent - Club Brugge), "
                        "KAA Gent|Club Brugge|Champions' Play-offs|2025-26#2, at the same kickoff")
    assert lines[8] == f"against {db} (0 games stored), the controller would:"
    assert [line.split()[0] for line in lines[9:]] == ["add"] * 6


def test_a_feed_with_competition_home_away_summaries_in_utc_reads_game_by_game():
    result = check(str(FEEDS / "barcelona-next-2025-10-10.ics"), "--club", "Barcelona", "--tz", "Europe/Madrid")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "2025-10-18 18:30 (Europe/Madrid)  Barcelona - Girona FC  [Liga EA Sports]",
        "2025-11-02 18:30 (Europe/Madrid)  Barcelona - Elche CF  [Liga EA Sports]",
        "2025-11-22 16:15 (Europe/Madrid)  Barcelona - Athletic Club  [Liga EA Sports]",
        "3 home games",
    ]


def test_every_summary_shape_reads_and_an_ambiguous_one_needs_the_selectors_files_template():
    shapes = check(str(FEEDS / "barcelona-shapes.ics"), "--club", "Barcelona", "--tz", "Europe/Madrid")
    assert shapes.exit_code == 0, shapes.output
    assert shapes.output.splitlines() == [
        "2025-09-28 21:00 (Europe/Madrid)  Barcelona - Real Sociedad  [Liga EA Sports]",
        "2025-10-18 18:30 (Europe/Madrid)  Barcelona - Girona FC  [Liga EA Sports]",
        "2025-11-02 18:30 (Europe/Madrid)  Barcelona - Elche CF  [Liga EA Sports]",
        "2025-11-22 16:15 (Europe/Madrid)  Barcelona - Athletic Club  [Liga EA Sports]",
        "2025-11-29 18:30 (Europe/Madrid)  Barcelona - Deportivo Alavés  [Liga EA Sports]",
        "2025-12-03 21:00 (Europe/Madrid)  Barcelona - Racing Santander  [Copa del Rey]",
        "6 home games",
    ]
    feed = str(FEEDS / "barcelona-home-away-competition.ics")
    refused = check(feed, "--club", "Barcelona", "--tz", "Europe/Madrid")
    assert refused.exit_code == 1
    assert 'ambiguous_summary' in refused.output and 'summary = "{competition} - {home} - {away}"' in refused.output
    told = check(feed, "--selectors", str(FEEDS / "barcelona-home-away-competition.toml"), "--tz", "Europe/Madrid")
    assert told.exit_code == 0, told.output
    assert told.output.splitlines() == [
        "2025-08-10 21:00 (Europe/Madrid)  Barcelona - Como 1907  [Trofeu Joan Gamper]",
        "2025-09-28 21:00 (Europe/Madrid)  Barcelona - Real Sociedad  [Liga EA Sports]",
        "2 home games",
    ]


def test_a_dry_run_of_the_next_snapshot_of_a_rolling_feed_cancels_nothing(tmp_path):
    db = str(tmp_path / "controller.db")
    feed = FEEDS / "barcelona-next-2025-10-10.ics"
    store = Store(db)
    store.apply(reconcile([], read_fixtures_ical(feed.read_bytes(), club="Barcelona", source="club-site").events,
                          now=0.0, source="club-site"))
    store.close()
    result = check(str(FEEDS / "barcelona-next-2025-10-18.ics"), "--club", "Barcelona", "--tz", "Europe/Madrid",
                   "--store", db, "--at", "2025-10-18T10:00:00+02:00")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-2:] == [
        f"against {db} (3 games stored), the controller would:",
        "  add         2025-11-29 18:30 (Europe/Madrid)  Barcelona - Deportivo Alavés  [Liga EA Sports]"]
