"""A rolling-window feed (the next five games, UTC times, ``Competition - Home - Away`` summaries) scraped
snapshot after snapshot into the real store: games that roll out of the window are never cancelled, a game
really removed inside it is.

The snapshots are hand-written files in fixtures/feeds/ (an invented season of a club called Barcelona);
what each scrape must do is written out below from reading them, not from the code under test.
"""

from datetime import datetime, timezone
from pathlib import Path

import httpx

from sim.kernel.runtime import SimRuntime
from system.adapters.controller_store import Store
from system.decisions.events import CANCELLED, SCHEDULED
from system.services.scraper import ICAL, Scraper, Source
from system.trace import Trace

FEEDS = Path(__file__).resolve().parent.parent / "fixtures" / "feeds"
URL = "https://sports-calendar.example/barcelona.ics"


def utc(*args) -> float:
    return datetime(*args, tzinfo=timezone.utc).timestamp()


def uid(n: int) -> str:
    return f"bcn-{n:02d}@sports-calendar.example"


# (snapshot, when it is scraped, what the scrape must do: added, rescheduled, cancelled)
SNAPSHOTS = [
    ("2025-09-25", utc(2025, 9, 25, 6), [uid(1), uid(3), uid(5)], [], []),
    ("2025-10-10", utc(2025, 10, 10, 6), [uid(7)], [], []),
    # the morning of the Girona game (16:30 UTC): the feed already starts with the next game
    ("2025-10-18", utc(2025, 10, 18, 8), [uid(8)], [], []),
    ("2025-11-05", utc(2025, 11, 5, 6), [uid(10)], [(uid(7), utc(2025, 11, 22, 15, 15), utc(2025, 11, 23, 18))], []),
    # a cup tie comes in and Osasuna (13 December) falls beyond the five games listed
    ("2025-11-08", utc(2025, 11, 8, 6), [uid(11)], [], []),
]
SEASON_AFTER = {uid(1): utc(2025, 9, 28, 19), uid(3): utc(2025, 10, 18, 16, 30), uid(5): utc(2025, 11, 2, 17, 30),
                uid(7): utc(2025, 11, 23, 18), uid(8): utc(2025, 11, 29, 17, 30), uid(10): utc(2025, 12, 13, 17, 30),
                uid(11): utc(2025, 12, 3, 20)}


def scrape(store: Store, text: str, at: float):
    """One scrape of ``text`` by the scraper service at ``at`` (virtual time), into ``store``."""
    rt = SimRuntime(seed=1, start=at, trace=Trace({"scenario": "test_rolling_feed", "seed": 1}))
    client = httpx.AsyncClient(transport=httpx.MockTransport(lambda request: httpx.Response(200, text=text)))
    source = Source(URL, format=ICAL, club="Barcelona", tz="Europe/Madrid", name="feed")
    return rt.run(Scraper(rt.child("controller"), client, source, store).scrape_once())


def test_consecutive_snapshots_of_a_rolling_window_cancel_nothing(tmp_path):
    store = Store(str(tmp_path / "controller.db"))
    for name, at, added, rescheduled, cancelled in SNAPSHOTS:
        r = scrape(store, (FEEDS / f"barcelona-next-{name}.ics").read_bytes().decode("utf-8"), at)
        assert r.suspicious is None, name
        assert [e.key for e in r.added] == added, name
        assert [(n.key, o.start, n.start) for o, n in r.rescheduled] == rescheduled, name
        assert [e.key for e in r.cancelled] == cancelled, name
    games = {e.key: (e.start, e.status) for e in store.stored_events()}
    assert games == {key: (start, SCHEDULED) for key, start in SEASON_AFTER.items()}
    assert {e.key: e.competition for e in store.stored_events()}[uid(11)] == "Copa del Rey"


def test_a_game_removed_inside_the_window_is_cancelled(tmp_path):
    store = Store(str(tmp_path / "controller.db"))
    for name, at, *_ in SNAPSHOTS[:-1]:
        scrape(store, (FEEDS / f"barcelona-next-{name}.ics").read_bytes().decode("utf-8"), at)
    text = (FEEDS / "barcelona-next-2025-11-08.ics").read_bytes().decode("utf-8")
    start = text.index(f"UID:{uid(8)}")
    event = text[text.rindex("BEGIN:VEVENT", 0, start):text.index("END:VEVENT", start) + len("END:VEVENT\r\n")]
    r = scrape(store, text.replace(event, ""), utc(2025, 11, 8, 6))  # Alavés, 29 November, is gone
    assert r.suspicious is None
    assert [(e.key, e.start) for e in r.cancelled] == [(uid(8), utc(2025, 11, 29, 17, 30))]
    assert [e.key for e in r.added] == [uid(11)]
    assert {e.key: e.status for e in store.stored_events()}[uid(10)] == SCHEDULED  # beyond the window
    assert {e.key: e.status for e in store.stored_events()}[uid(8)] == CANCELLED
