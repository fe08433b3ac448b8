"""The simulated club website: what it renders reads back, and it answers through httpx."""

from pathlib import Path

import httpx
import pytest

from sim.runtime import SimRuntime
from sim.website import ClubSite, render_html, render_ical, sample_season
from system.fixtures import parse_fixtures_html, parse_fixtures_ical

PAGES = Path(__file__).resolve().parent.parent / "fixtures" / "pages"


@pytest.mark.parametrize("style", ["tzid", "utc", "floating"])
def test_page_and_feed_in_every_style_read_back_as_the_season(style):
    season = sample_season()
    want = sorted((g.title, g.kickoff) for g in season)
    assert sorted((e.title, e.start) for e in parse_fixtures_html(render_html(season), club=None)) == want
    assert sorted((e.title, e.start) for e in parse_fixtures_ical(render_ical(season, style=style), club=None)) == want


def test_the_sample_files_are_the_rendering_of_the_sample_season():
    season = sample_season()
    assert (PAGES / "kaagent-2025-26.html").read_text(encoding="utf-8") == render_html(season)
    assert (PAGES / "kaagent-2025-26.ics").read_bytes() == render_ical(season)


def test_site_loaded_from_the_sample_page_serves_it_over_httpx_in_sim_time():
    rt = SimRuntime(seed=1, start=1_756_000_000.0)
    site = ClubSite.from_page(rt, PAGES / "kaagent-2025-26.html", latency=0.25)

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
