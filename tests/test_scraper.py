"""The scraper: its fetching adapter (respx), and the service against the simulated club site."""

from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import pytest
import respx

from sim.models.network import HttpOverLink, Network
from sim.kernel.runtime import SimRuntime
from sim.models.club_site import ClubSite, sample_season
from system.adapters.asyncio_runtime import AsyncioRuntime
from system.decisions.events import CANCELLED, SCHEDULED, Event
from system.decisions.reconcile import Reconciliation, apply_reconciliation
from system.services.scraper import ICAL, FetchFailed, Scraper, Source, fetch_text
from system.trace import Trace

BRUSSELS = ZoneInfo("Europe/Brussels")
H = 3600.0
URL = "https://www.kaagent.example/kalender"


def local(*args) -> float:
    return datetime(*args, tzinfo=BRUSSELS).timestamp()


class MemoryEvents:
    """A store port as plain data (the real store is system/adapters/controller_store.py)."""

    def __init__(self, events=()):
        self.events: list[Event] = list(events)
        self.applied: list[Reconciliation] = []

    def stored_events(self) -> list[Event]:
        return list(self.events)

    def apply(self, reconciliation: Reconciliation) -> None:
        self.applied.append(reconciliation)
        self.events = apply_reconciliation(self.events, reconciliation)


# -- the fetching adapter ----------------------------------------------------------------------

@respx.mock
@pytest.mark.parametrize("route, reason", [
    (dict(status_code=500), "http_500"),
    (dict(status_code=404), "http_404"),
    (dict(side_effect=httpx.ConnectError("refused")), "unreachable"),
    (dict(side_effect=httpx.ReadTimeout("slow")), "timeout"),
    (dict(side_effect=httpx.RemoteProtocolError("bad framing")), "transport"),
])
def test_fetch_failures_become_fetch_failed_with_a_reason(route, reason):
    respx.get(URL).mock(**({"return_value": httpx.Response(route["status_code"])} if "status_code" in route else route))
    rt = AsyncioRuntime(seed=1)

    async def main():
        async with httpx.AsyncClient() as client:
            with pytest.raises(FetchFailed) as failed:
                await fetch_text(client, URL)
            return failed.value.reason

    assert rt.run(main()) == reason


@respx.mock
def test_fetch_decodes_the_page_by_its_charset():
    respx.get(URL).mock(return_value=httpx.Response(
        200, content="<td>Standard Luik – Liège é</td>".encode("latin-1", "replace"),
        headers={"content-type": "text/html; charset=iso-8859-1"}))
    rt = AsyncioRuntime(seed=1)

    async def main():
        async with httpx.AsyncClient() as client:
            return await fetch_text(client, URL)

    assert "Liège é" in rt.run(main())


# -- the service in the simulated world ------------------------------------------------------------

START = local(2025, 9, 1, 8, 0)
# what the store must hold after a healthy scrape of the untouched sample season
SEASON_HOME_GAMES = {(g.title, g.kickoff) for g in sample_season() if g.home == "KAA Gent"}


def the_season_is_stored(store) -> bool:
    return ({(e.title, e.start) for e in store.events} == SEASON_HOME_GAMES
            and all(e.status == SCHEDULED for e in store.events))


def world(seed: int = 1, **site_options):
    rt = SimRuntime(seed=seed, start=START, trace=Trace({"scenario": "test_scraper", "seed": seed}))
    site = ClubSite(rt, sample_season(), **site_options)
    store = MemoryEvents()
    return rt, site, store


def internet(rt):
    """The controller's internet link: while it is down, neither page nor feed can be reached."""
    return Network(rt).link("controller", "internet")


def scraper(rt, site, store, *, link=None, **options) -> Scraper:
    fmt = options.pop("format", "html")
    source = Source(site.feed_url if fmt == ICAL else site.page_url, format=fmt)
    link = link or internet(rt)
    client = httpx.AsyncClient(transport=HttpOverLink(link, site.transport()), timeout=20.0, trust_env=False)
    return Scraper(rt.child("controller"), client, source, store, **options)


def run(rt, script, until: float) -> None:
    """Run ``script`` (world changes at sim times) alongside the scraper until ``until`` seconds."""
    rt.run(script(), until=until)


def of(rt, *kinds):
    return rt._trace.of_kind(*kinds)


@pytest.mark.parametrize("fmt", ["html", ICAL])
def test_a_reschedule_on_the_site_shows_up_within_an_hour(fmt):
    rt, site, store = world()
    s = scraper(rt, site, store, format=fmt)
    new_kickoff = local(2025, 10, 5, 20, 45)

    async def script():
        rt.spawn(s.run(), "scraper")
        await rt.sleep(2.5 * H)
        site.reschedule("KAA Gent - OH Leuven", datetime(2025, 10, 5, 20, 45))

    run(rt, script, until=5 * H)
    assert {(r["title"], r["start"]) for r in of(rt, "fixture.added")} == SEASON_HOME_GAMES
    [changed] = of(rt, "site.changed")
    [moved] = of(rt, "fixture.rescheduled")
    assert moved["src"] == "controller" and moved["title"] == "KAA Gent - OH Leuven"
    assert moved["new"] == new_kickoff and moved["kickoff"] == "2025-10-05T20:45+02:00"
    assert 0 < moved["t"] - changed["t"] <= H
    assert {e.title: e.start for e in store.events}["KAA Gent - OH Leuven"] == new_kickoff
    assert s.stats["scrapes"] == 5 and not of(rt, "source.suspicious", "scrape.failed")


@pytest.mark.parametrize("how, reason", [("template", "refused:bad_date"), ("truncated", "dropped")])
def test_a_garbled_page_changes_nothing_and_is_counted(how, reason):
    rt, site, store = world()
    s = scraper(rt, site, store)

    async def script():
        rt.spawn(s.run(), "scraper")
        await rt.sleep(1.5 * H)
        site.garble_page(how, for_=2 * H)

    run(rt, script, until=5.5 * H)
    assert [r["reason"] for r in of(rt, "source.suspicious")] == [reason, reason]
    assert s.stats["source_suspicious"] == 2 and s.stats["input_refused"] == (2 if how == "template" else 0)
    assert len(store.applied) == 1  # the first scrape only
    assert the_season_is_stored(store)


def test_a_new_layout_is_refused_until_the_selectors_are_fixed():
    rt, site, store = world()
    s = scraper(rt, site, store)

    async def script():
        rt.spawn(s.run(), "scraper")
        await rt.sleep(0.5 * H)
        site.change_layout()

    run(rt, script, until=3.5 * H)
    assert [r["reason"] for r in of(rt, "source.suspicious")] == ["refused:no_rows"] * 3
    assert s.stats["source_suspicious"] == s.stats["input_refused"] == 3
    assert the_season_is_stored(store)


def test_cancel_and_reinstate_follow_the_site():
    rt, site, store = world()
    s = scraper(rt, site, store)

    async def script():
        rt.spawn(s.run(), "scraper")
        await rt.sleep(0.5 * H)
        gone = site.cancel("KAA Gent - Cercle Brugge")
        await rt.sleep(2 * H)
        site.add_game(gone.home, gone.away, local(2025, 9, 20, 18, 15), location=gone.location)

    run(rt, script, until=4 * H)
    assert [r["title"] for r in of(rt, "fixture.cancelled")] == ["KAA Gent - Cercle Brugge"]
    [back] = of(rt, "fixture.reinstated")
    assert back["start"] == local(2025, 9, 20, 18, 15)
    assert {e.title: e.status for e in store.events}["KAA Gent - Cercle Brugge"] == SCHEDULED


def test_server_errors_are_retried_inside_the_hour():
    rt, site, store = world()
    s = scraper(rt, site, store)

    async def script():
        site.serve_errors(500, for_=5 * 60)
        rt.spawn(s.run(), "scraper")

    run(rt, script, until=0.9 * H)
    assert not of(rt, "scrape.failed") and the_season_is_stored(store)
    errors = [r for r in of(rt, "request.served") if r["status"] == 500]
    # backoff (base 60 s, full jitter) waits 30-60 s, 60-120 s, 120-240 s: the third retry lands
    # between 211 s and 421 s, so three or four attempts meet the 5-minute outage
    assert 3 <= len(errors) <= 4
    added = {r["t"] for r in of(rt, "fixture.added")}
    assert len(added) == 1 and 5 * 60 <= added.pop() < 5 * 60 + 480 + 1  # stored by the first good retry


def test_an_unreachable_site_and_timeouts_fail_the_scrape_and_keep_the_season():
    rt, site, store = world()
    link = internet(rt)
    s = scraper(rt, site, store, link=link)

    async def script():
        rt.spawn(s.run(), "scraper")
        await rt.sleep(0.5 * H)
        link.set_down("fault")
        await rt.sleep(72 * H)
        link.set_up()
        site.timeouts(for_=2 * H)

    run(rt, script, until=75.5 * H)
    reasons = [r["reason"] for r in of(rt, "scrape.failed")]
    assert reasons == ["unreachable"] * 72 + ["timeout"] * 2
    assert the_season_is_stored(store)
    assert s.stats["scrape_failed"] == 74 and s.stats["scrapes"] == 76


def test_a_whole_season_of_hourly_scrapes_is_deterministic_and_quick():
    hashes = []
    for _ in range(2):
        rt, site, store = world(seed=7)
        s = scraper(rt, site, store)

        async def script():
            rt.spawn(s.run(), "scraper")
            await rt.sleep(30 * 24 * H)
            site.reschedule("KAA Gent - Zulte Waregem", datetime(2025, 11, 8, 20, 45))
            await rt.sleep(10 * 24 * H)
            site.serve_errors(503, for_=3 * H)

        run(rt, script, until=60 * 24 * H - 0.5 * H)
        hashes.append(rt._trace.hexdigest())
        assert s.stats["scrapes"] == 60 * 24
        assert len(of(rt, "fixture.rescheduled")) == 1
    assert hashes[0] == hashes[1]


def test_postponed_game_is_cancelled_and_games_outside_the_source_are_left_alone():
    rt, site, store = world()
    concert = Event("custom:concert", "custom", "Concert", local(2025, 9, 13, 20, 0))
    store.events.append(concert)
    s = scraper(rt, site, store)

    async def script():
        rt.spawn(s.run(), "scraper")
        await rt.sleep(0.5 * H)
        site.postpone("KAA Gent - Cercle Brugge")

    run(rt, script, until=2 * H)
    statuses = {e.title: e.status for e in store.events}
    assert statuses["KAA Gent - Cercle Brugge"] == CANCELLED and statuses["Concert"] == SCHEDULED


@pytest.mark.slow
def test_a_season_against_the_real_store_ends_with_the_site_s_home_games():
    """Ten months of hourly scrapes with reschedules, a cancellation, a garbled page and a
    three-day outage: the SQLite store ends up with exactly the site's home games."""
    from system.adapters.controller_store import Store

    rt = SimRuntime(seed=3, start=local(2025, 7, 25, 9, 0), trace=Trace({"scenario": "season", "seed": 3}))
    site = ClubSite(rt, sample_season())
    store = Store(":memory:")
    link = internet(rt)
    s = scraper(rt, site, store, link=link)

    async def script():
        rt.spawn(s.run(), "scraper")
        await rt.sleep(40 * 24 * H)
        site.reschedule("KAA Gent - Cercle Brugge", datetime(2025, 9, 21, 13, 30))
        await rt.sleep(60 * 24 * H)
        site.garble_page("template", for_=5 * H)
        await rt.sleep(30 * 24 * H)
        link.set_down("fault")
        await rt.sleep(72 * H)
        link.set_up()
        site.cancel("KAA Gent - KV Mechelen")
        site.reschedule("KAA Gent - FCV Dender EH", datetime(2026, 3, 29, 13, 30))
        await rt.sleep(24 * H)
        site.reschedule("KAA Gent - RAAL La Louvière", datetime(2026, 4, 11, 20, 45))

    run(rt, script, until=300 * 24 * H - 0.5 * H)
    expected = {(g.title, g.kickoff) for g in site.games if g.home == "KAA Gent"}
    stored = store.stored_events()
    assert {(e.title, e.start) for e in stored if e.status == SCHEDULED} == expected
    assert [e.title for e in stored if e.status == CANCELLED] == ["KAA Gent - KV Mechelen"]
    assert [r["title"] for r in of(rt, "fixture.rescheduled")] == [
        "KAA Gent - Cercle Brugge", "KAA Gent - FCV Dender EH", "KAA Gent - RAAL La Louvière"]
    assert [r["reason"] for r in of(rt, "source.suspicious")] == ["refused:bad_date"] * 5
    assert len(of(rt, "scrape.failed")) == 72 and s.stats["scrapes"] == 300 * 24
