"""The club's website in the simulated world: a fixtures page and an iCalendar feed.

Party ``club-site``. The site holds a season (a list of :class:`Game`, loaded from a season file
by :meth:`ClubSite.from_season`), renders it with its own renderers (:mod:`sim.models.club_pages`)
as the HTML calendar (``/kalender``) and the feed (``/kalender.ics``) on every request,
and serves both through :class:`SiteTransport`, an ``httpx.AsyncBaseTransport`` whose
latency is ``await rt.sleep``: an ``httpx.AsyncClient`` built on it works unchanged
in the sim runtime (httpx's client awaits nothing but its transport) and on asyncio.
The site never parses a page: what it serves and what the oracles judge by is the season's data.

World changes are methods, each traced as ``site.changed`` with ``change=...``:
:meth:`ClubSite.reschedule`, :meth:`~ClubSite.cancel` (the row disappears),
:meth:`~ClubSite.postpone` (the row says *uitgesteld*), :meth:`~ClubSite.add_game`,
:meth:`~ClubSite.change_layout` (the table becomes cards: the configured selectors no
longer match), :meth:`~ClubSite.serve_errors`, :meth:`~ClubSite.timeouts`,
:meth:`~ClubSite.garble_page`. Whether the site can be reached at all is the world's internet
link, not the site's business. Every request is traced as ``request.served``.

The sample files ``fixtures/pages/kaagent-2025-26.{html,ics}``, ``positional-2025-26.html`` and
``day-cards-2025-26.html`` are renderings of the invented season ``fixtures/seasons/kaagent-2025-26.toml``.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Iterable
from zoneinfo import ZoneInfo

import httpx

from sim.models.club_pages import GARBLES, LAYOUTS, render_day_cards, render_html, render_ical, render_positional
from sim.models.club_season import HOST, OPPONENTS, Game, game_uid, load_season, sample_season, season_name
from system.decisions.localtime import DEFAULT_TZ

# Names that lived here before the renderers and the season moved out; importers may keep using them.
__all__ = ["FEED_PATH", "GARBLES", "HOST", "LAYOUTS", "OPPONENTS", "PAGE_PATH", "ClubSite", "Game",
           "SiteTransport", "find_game", "game_uid", "load_season", "render_day_cards",
           "render_html", "render_ical", "render_positional", "sample_season"]

PAGE_PATH = "/kalender"
FEED_PATH = "/kalender.ics"


def _as_epoch(kickoff: float | datetime | str, tz: str) -> float:
    if isinstance(kickoff, str):
        kickoff = datetime.fromisoformat(kickoff)
    if isinstance(kickoff, datetime):
        if kickoff.tzinfo is None:
            kickoff = kickoff.replace(tzinfo=ZoneInfo(tz))
        return kickoff.timestamp()
    return float(kickoff)


def find_game(games: list[Game], pair: str, competition: str | None = None, *, now: float | None = None) -> int | None:
    """Index of the game titled ``pair`` ("Home - Away", case and spacing aside), in ``competition`` if
    given: the next one to come after ``now``, else the last; None when there is none."""
    wanted = " ".join(pair.split()).casefold()
    hits = [i for i, g in enumerate(games)
            if g.title.casefold() == wanted and (competition is None or g.competition == competition)]
    if not hits:
        return None
    upcoming = [i for i in hits if now is not None and games[i].kickoff >= now]
    return min(upcoming, key=lambda i: games[i].kickoff) if upcoming else hits[-1]


# -- the site ------------------------------------------------------------------------------------

class ClubSite:
    """The club website party: current season state, scripted changes, an httpx transport."""

    def __init__(self, rt, games: Iterable[Game], *, tz: str = DEFAULT_TZ, latency: float = 0.3,
                 host: str = HOST, ical_style: str = "tzid", layout: str = LAYOUTS[0]):
        self.rt = rt.child("club-site")
        self.games: list[Game] = [g if g.uid else replace(g, uid=self._uid(g, tz, host)) for g in games]
        self.tz = tz
        self.latency = latency
        self.host = host
        self.ical_style = ical_style
        if layout not in LAYOUTS:
            raise ValueError(f"unknown layout {layout!r}; layouts are {', '.join(LAYOUTS)}")
        self.layout = layout
        self._errors: tuple[int, float] | None = None  # (status, until)
        self._retry_after: float | None = None  # with the errors: a Retry-After header (seconds)
        self.cancelled: list[Game] = []  # games taken off the calendar, for a reinstatement
        self._on_request: list = []  # called once, when the next request arrives (a user racing a scrape)
        self._timeouts_until: float | None = None
        self._garble: tuple[str, float] | None = None  # (how, until)
        self.requests = 0
        self._version = 0  # bumps on every change of the season, so rendered bodies can be cached
        self._rendered: dict[tuple, object] = {}

    @staticmethod
    def _uid(game: Game, tz: str, host: str) -> str:
        day = datetime.fromtimestamp(game.kickoff, ZoneInfo(tz)).date()
        return game_uid(game.home, game.away, season_name(day), host)

    @classmethod
    def from_season(cls, rt, path: str | Path, **options) -> "ClubSite":
        """A site serving the games of a season file (``fixtures/seasons/*.toml``); ``options`` as for the
        constructor (``layout``, ``tz``, ``latency``, ``host``, ``ical_style``)."""
        return cls(rt, load_season(path), **options)

    # -- addresses and rendering
    @property
    def page_url(self) -> str:
        return f"https://{self.host}{PAGE_PATH}"

    @property
    def feed_url(self) -> str:
        return f"https://{self.host}{FEED_PATH}"

    def html(self) -> str:
        key = ("html", self._version, self.layout, self._active_garble())
        if key not in self._rendered:
            self._rendered = {k: v for k, v in self._rendered.items() if k[0] != "html"}
            self._rendered[key] = render_html(self.games, layout=self.layout, tz=self.tz, garble=key[3])
        return self._rendered[key]

    def ical(self) -> bytes:
        key = ("ical", self._version, self.ical_style, self._active_garble())
        if key not in self._rendered:
            self._rendered = {k: v for k, v in self._rendered.items() if k[0] != "ical"}
            self._rendered[key] = render_ical(self.games, style=self.ical_style, tz=self.tz, host=self.host,
                                              garble=key[3])
        return self._rendered[key]

    def _changed(self, change: str, **fields) -> None:
        self._version += 1
        self.rt.trace("site.changed", change=change, **fields)

    def transport(self) -> "SiteTransport":
        return SiteTransport(self)

    def client(self, timeout: float = 30.0) -> httpx.AsyncClient:
        """An httpx client whose only network is this site (the controller's client in sim)."""
        return httpx.AsyncClient(transport=self.transport(), timeout=timeout, trust_env=False)

    # -- scripted world changes
    def find(self, pair: str, competition: str | None = None) -> int:
        """Index of the game titled ``pair`` ("Home - Away"): the next one to come, else the last."""
        found = find_game(self.games, pair, competition, now=self.rt.now())
        if found is None:  # the loader refuses such scenarios; a direct caller gets a plain error
            raise KeyError(f"no game {pair!r} on the club site")
        return found

    def reschedule(self, pair: str, kickoff: float | datetime | str, competition: str | None = None) -> Game:
        """Move a game to ``kickoff`` (epoch, aware datetime, or ISO text; naive means local time)."""
        i = self.find(pair, competition)
        old = self.games[i]
        self.games[i] = replace(old, kickoff=_as_epoch(kickoff, self.tz), time_fixed=True, postponed=False)
        self._changed("reschedule", game=pair, old=old.kickoff, new=self.games[i].kickoff)
        return self.games[i]

    def cancel(self, pair: str, competition: str | None = None) -> Game:
        """Take a game off the calendar."""
        game = self.games.pop(self.find(pair, competition))
        self.cancelled.append(game)
        self._changed("cancel", game=pair, kickoff=game.kickoff)
        return game

    def reinstate(self, pair: str, competition: str | None = None) -> Game:
        """Put a cancelled game back on the calendar, as it was (its row, its uid, its kickoff)."""
        found = find_game(self.cancelled, pair, competition, now=self.rt.now())
        if found is None:
            raise KeyError(f"no cancelled game {pair!r} on the club site")
        game = self.cancelled.pop(found)
        self.games.append(game)
        self.games.sort(key=lambda g: g.kickoff)
        self._changed("reinstate", game=pair, kickoff=game.kickoff)
        return game

    def postpone(self, pair: str, competition: str | None = None) -> Game:
        """Keep the row but mark the game *uitgesteld* (postponed, no new date yet)."""
        i = self.find(pair, competition)
        self.games[i] = replace(self.games[i], postponed=True)
        self._changed("postpone", game=pair)
        return self.games[i]

    def add_game(self, home: str, away: str, kickoff: float | datetime | str, *,
                 competition: str = "Jupiler Pro League", location: str = "", time_fixed: bool = True) -> Game:
        """Put a new game on the calendar (a cup tie, a rescheduled friendly, a playoff)."""
        game = Game(home, away, _as_epoch(kickoff, self.tz), competition=competition, location=location,
                    time_fixed=time_fixed)
        game = replace(game, uid=self._uid(game, self.tz, self.host))
        self.games.append(game)
        self._changed("add", game=game.title, kickoff=game.kickoff)
        return game

    def change_layout(self, layout: str | None = None) -> None:
        """Switch the page to another layout (default: the next one); old selectors stop matching."""
        self.layout = layout or LAYOUTS[(LAYOUTS.index(self.layout) + 1) % len(LAYOUTS)]
        if self.layout not in LAYOUTS:
            raise ValueError(f"unknown layout {layout!r}; layouts are {', '.join(LAYOUTS)}")
        self._changed("layout", layout=self.layout)

    def serve_errors(self, status: int = 500, for_: float = 3600.0, retry_after: float | None = None) -> None:
        """Answer every request with ``status`` for ``for_`` seconds (with ``retry_after``: a ``Retry-After``
        header, as a rate limit's HTTP 429 has)."""
        self._errors = (status, self.rt.now() + for_)
        self._retry_after = retry_after
        extra = {} if retry_after is None else {"retry_after": retry_after}
        self._changed("errors", status=status, duration=for_, **extra)

    def when_requested(self, action) -> None:
        """Call ``action()`` when the next request arrives, while its answer is on its way (a race)."""
        self._on_request.append(action)

    def timeouts(self, for_: float = 3600.0) -> None:
        """Accept requests but never answer for ``for_`` seconds (clients hit their read timeout)."""
        self._timeouts_until = self.rt.now() + for_
        self._changed("timeouts", duration=for_)

    def garble_page(self, how: str = "template", for_: float = 3600.0) -> None:
        """Serve a broken page and feed for ``for_`` seconds: raw template tags, or cut off at a third."""
        if how not in GARBLES:
            raise ValueError(f"unknown garble {how!r}; choose one of {', '.join(GARBLES)}")
        self._garble = (how, self.rt.now() + for_)
        self._changed("garble", how=how, duration=for_)

    def _active_garble(self) -> str | None:
        if self._garble and self.rt.now() < self._garble[1]:
            return self._garble[0]
        return None

    # -- serving
    async def serve(self, request: httpx.Request) -> httpx.Response:
        """Answer one request after the site's latency (or fail it as the current faults say)."""
        self.requests += 1
        path = request.url.path
        now = self.rt.now()
        racing, self._on_request = self._on_request, []
        for action in racing:
            action()
        if self._timeouts_until is not None and now < self._timeouts_until:
            read_timeout = (request.extensions.get("timeout") or {}).get("read") or 30.0
            await self.rt.sleep(read_timeout)
            self.rt.trace("request.served", path=path, status=0, error="timeout")
            raise httpx.ReadTimeout("club site did not answer", request=request)
        await self.rt.sleep(self.latency)
        headers: dict[str, str] = {}
        if self._errors is not None and self.rt.now() < self._errors[1]:
            status, body, ctype = self._errors[0], b"<h1>Internal Server Error</h1>", "text/html"
            if self._retry_after is not None:
                headers["retry-after"] = str(int(self._retry_after))
        elif path in (PAGE_PATH, PAGE_PATH + "/"):
            status, body, ctype = 200, self.html().encode("utf-8"), "text/html; charset=utf-8"
        elif path == FEED_PATH:
            status, body, ctype = 200, self.ical(), "text/calendar; charset=utf-8"
        else:
            status, body, ctype = 404, b"<h1>Niet gevonden</h1>", "text/html"
        self.rt.trace("request.served", path=path, status=status)
        return httpx.Response(status, content=body, headers={"content-type": ctype, **headers}, request=request)


class SiteTransport(httpx.AsyncBaseTransport):
    """httpx's one-method seam, answered by the simulated club site."""

    def __init__(self, site: ClubSite):
        self.site = site

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host != self.site.host:
            raise httpx.ConnectError(f"no route to {request.url.host} in the simulated world", request=request)
        return await self.site.serve(request)

