"""The simulated club website: what it renders reads back, and it answers through httpx."""

import ast
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from sim.kernel.runtime import SimRuntime
from sim.models.club_pages import render_day_cards, render_html, render_ical, render_positional
from sim.models.club_season import OPPONENTS, load_season, sample_season
from sim.models.club_site import ClubSite
from system.decisions.events import CANCELLED
from system.decisions.fixtures import read_fixtures_html, read_fixtures_ical
from system.trace import Trace

ROOT = Path(__file__).resolve().parent.parent
PAGES = ROOT / "fixtures" / "pages"
SEASON = ROOT / "fixtures" / "seasons" / "kaagent-2025-26.toml"
BRUSSELS = ZoneInfo("Europe/Brussels")


@pytest.mark.parametrize("style", ["tzid", "utc", "floating"])
def test_page_and_feed_in_every_style_read_back_as_the_season(style):
    season = sample_season()
    want = sorted((g.title, g.kickoff) for g in season)
    assert sorted((e.title, e.start) for e in list(read_fixtures_html(render_html(season), club=None).events)) == want
    assert sorted((e.title, e.start) for e in list(read_fixtures_ical(render_ical(season, style=style), club=None).events)) == want


def test_the_sample_files_are_the_rendering_of_the_sample_season():
    season = sample_season()
    assert (PAGES / "kaagent-2025-26.html").read_text(encoding="utf-8") == render_html(season)
    assert (PAGES / "kaagent-2025-26.ics").read_bytes() == render_ical(season)


def test_the_recorded_pages_are_the_site_rendering_of_the_season_file():
    """Byte for byte: what the site renders from the season's data is what was recorded (so the scenarios
    that serve it keep their hashes)."""
    season = load_season(SEASON)
    ordered = sorted(season, key=lambda g: g.kickoff)
    assert (PAGES / "kaagent-2025-26.html").read_text(encoding="utf-8") == render_html(season)
    assert (PAGES / "kaagent-2025-26.ics").read_bytes() == render_ical(season)
    assert (PAGES / "positional-2025-26.html").read_bytes() == render_positional(
        ordered, BRUSSELS, "Wedstrijden seizoen 2025-2026", charset="iso-8859-1").encode("iso-8859-1")
    assert (PAGES / "day-cards-2025-26.html").read_bytes() == render_day_cards(
        ordered, BRUSSELS, "Calendrier 2025-2026").encode("utf-8")


def test_the_site_modules_import_no_parser_of_the_system():
    """The world renders its season; it never reads it through the code it judges."""
    forbidden = ("system.decisions.fixtures", "system.decisions.page_text", "system.decisions.selectors",
                 "system.decisions.kickoff")
    for path in sorted((ROOT / "sim" / "models").glob("club_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        assert not {m for m in imported if m and m.startswith(forbidden)}, path.name


def test_site_loaded_from_the_season_file_serves_it_over_httpx_in_sim_time():
    rt = SimRuntime(seed=1, start=1_756_000_000.0)
    site = ClubSite.from_season(rt, SEASON, latency=0.25)

    async def main():
        async with site.client() as client:
            page = await client.get(site.page_url)
            missing = await client.get(f"https://{site.host}/tickets")
            with pytest.raises(httpx.ConnectError):
                await client.get("https://elsewhere.example/")
            return page, missing, rt.now() - rt.start

    page, missing, elapsed = rt.run(main())
    assert page.status_code == 200 and page.text == render_html(sample_season())
    assert missing.status_code == 404 and elapsed == pytest.approx(0.5)


def test_timeouts_honour_the_client_read_timeout_and_end_on_time():
    rt = SimRuntime(seed=1, start=1_756_000_000.0)
    site = ClubSite(rt, sample_season())

    async def main():
        site.timeouts(for_=60.0)
        async with site.client(timeout=7.0) as client:
            with pytest.raises(httpx.ReadTimeout):
                await client.get(site.page_url)
            waited = rt.now() - rt.start
            await rt.sleep(60.0)
            return waited, (await client.get(site.feed_url)).status_code

    assert rt.run(main()) == (7.0, 200)


def test_sample_season_is_a_double_round_robin_with_home_games_on_both_dst_sundays():
    """What the sample files promise: 34 rounds, each opponent once at home and once away, weekend
    kickoffs from August to May, and home games on the last Sundays of October and March."""
    season = sample_season()
    brussels = ZoneInfo("Europe/Brussels")
    assert len(season) == 2 * len(OPPONENTS) == 34
    assert sorted(g.away for g in season if g.home == "KAA Gent") == sorted(OPPONENTS)
    assert sorted(g.home for g in season if g.away == "KAA Gent") == sorted(OPPONENTS)
    local = [datetime.fromtimestamp(g.kickoff, brussels) for g in season]
    assert all(t.weekday() in (4, 5, 6) for t in local)  # Friday to Sunday
    assert (local[0].year, local[0].month, local[-1].year, local[-1].month) == (2025, 8, 2026, 5)
    home = {(t.date(), t.hour, t.minute) for g, t in zip(season, local) if g.home == "KAA Gent"}
    assert {(date(2025, 10, 26), 18, 30), (date(2026, 3, 29), 18, 30)} <= home


def test_world_changes_show_on_page_and_feed_and_keep_the_feed_uid():
    rt = SimRuntime(seed=1, start=datetime(2025, 9, 1, tzinfo=ZoneInfo("Europe/Brussels")).timestamp(),
                    trace=Trace({"scenario": "test_website"}))
    site = ClubSite(rt, sample_season())

    def read():
        page = {e.title: e for e in read_fixtures_html(site.html(), club=None).events}
        feed = {e.title: e for e in read_fixtures_ical(site.ical(), club=None).events}
        return page, feed

    _, before = read()
    new_kickoff = datetime(2025, 10, 5, 20, 45, tzinfo=ZoneInfo("Europe/Brussels")).timestamp()
    site.reschedule("KAA Gent - OH Leuven", new_kickoff)
    site.postpone("KAA Gent - Cercle Brugge")
    site.cancel("KAA Gent - Standard Luik")
    page, feed = read()
    for source in (page, feed):
        assert source["KAA Gent - OH Leuven"].start == new_kickoff
        assert source["KAA Gent - Cercle Brugge"].status == CANCELLED
        assert "KAA Gent - Standard Luik" not in source
        assert len(source) == 33
    assert feed["KAA Gent - OH Leuven"].key == before["KAA Gent - OH Leuven"].key  # a reschedule, not a new game
    assert [r["change"] for r in rt._trace.of_kind("site.changed")] == ["reschedule", "postpone", "cancel"]


def test_a_truncated_page_is_well_formed_and_lists_the_first_games_only():
    season = sorted(sample_season(), key=lambda g: g.kickoff)
    games = read_fixtures_html(render_html(season, garble="truncated"), club=None).events
    assert 0 < len(games) < len(season) // 2
    assert [(e.title, e.start) for e in games] == [(g.title, g.kickoff) for g in season[:len(games)]]
