"""The club's website in the simulated world: a fixtures page and an iCalendar feed.

Party ``club-site``. The site holds a season (a list of :class:`Game`), renders it as
the HTML calendar (``/kalender``) and the feed (``/kalender.ics``) on every request,
and serves both through :class:`SiteTransport`, an ``httpx.AsyncBaseTransport`` whose
latency is ``await rt.sleep``: an ``httpx.AsyncClient`` built on it works unchanged
in the sim runtime (httpx's client awaits nothing but its transport) and on asyncio.

World changes are methods, each traced as ``site.changed`` with ``change=...``:
:meth:`ClubSite.reschedule`, :meth:`~ClubSite.cancel` (the row disappears),
:meth:`~ClubSite.postpone` (the row says *uitgesteld*), :meth:`~ClubSite.add_game`,
:meth:`~ClubSite.change_layout` (the table becomes cards: the configured selectors no
longer match), :meth:`~ClubSite.serve_errors`, :meth:`~ClubSite.timeouts`,
:meth:`~ClubSite.garble_page`. Whether the site can be reached at all is the world's internet
link, not the site's business. Every request is traced as ``request.served``.

The sample files ``fixtures/pages/kaagent-2025-26.{html,ics}``, ``positional-2025-26.html`` and
``day-cards-2025-26.html`` are this module's renderings of an invented 2025-26 season;
:meth:`ClubSite.from_page` loads one back (with the selectors file next to it).
"""

from __future__ import annotations

import html as htmllib
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Iterable
from zoneinfo import ZoneInfo

import httpx

from system.decisions.fixtures import DEFAULT_CLUB, DEFAULT_TZ, read_fixtures_html, season_of
from system.decisions.page_text import decode_page
from system.decisions.selectors import Selectors

PAGE_PATH = "/kalender"
FEED_PATH = "/kalender.ics"
HOST = "www.kaagent.example"
LAYOUTS = ("table", "cards", "positional", "day-cards")
GARBLES = ("template", "truncated")

_DAYS = ("ma", "di", "wo", "do", "vr", "za", "zo")
_FR_DAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
_FR_MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
              "novembre", "décembre")
_MONTHS = ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september",
           "oktober", "november", "december")


@dataclass(frozen=True)
class Game:
    """One game of the season as the club publishes it; ``kickoff`` in epoch seconds.

    ``time_fixed=False`` shows the date with the time *nnb* (not yet known);
    ``postponed`` shows *uitgesteld* in the time column and ``STATUS:CANCELLED`` in the feed.
    """

    home: str
    away: str
    kickoff: float
    competition: str = "Jupiler Pro League"
    location: str = ""
    uid: str = ""
    time_fixed: bool = True
    postponed: bool = False

    @property
    def title(self) -> str:
        return f"{self.home} - {self.away}"


def game_uid(home: str, away: str, season: str, host: str = HOST) -> str:
    """A stable feed UID for a pairing in a season (it survives reschedules)."""
    slug = lambda s: "".join(c if c.isalnum() else "-" for c in s.lower()).strip("-")  # noqa: E731
    return f"{season}-{slug(home)}-{slug(away)}@{host}"


def _as_epoch(kickoff: float | datetime | str, tz: str) -> float:
    if isinstance(kickoff, str):
        kickoff = datetime.fromisoformat(kickoff)
    if isinstance(kickoff, datetime):
        if kickoff.tzinfo is None:
            kickoff = kickoff.replace(tzinfo=ZoneInfo(tz))
        return kickoff.timestamp()
    return float(kickoff)


# -- rendering ---------------------------------------------------------------------------------

def render_html(games: Iterable[Game], *, layout: str = "table", tz: str = DEFAULT_TZ,
                title: str = "Kalender A-kern 2025-2026", garble: str | None = None) -> str:
    """The fixtures page in one of :data:`LAYOUTS`: ``table`` (a row per game with classed cells, month
    headers, times like ``20u30``), ``cards`` (a card per game, same cells), ``positional`` (an old table
    without classes, date and kickoff in one cell) or ``day-cards`` (French day headers above cards that
    hold the kickoff). ``garble`` breaks it as a CMS would (``template``, ``truncated``)."""
    zone = ZoneInfo(tz)
    ordered = sorted(games, key=lambda g: (g.kickoff, g.home, g.away))
    if layout == "positional":
        return _garbled(render_positional(ordered, zone, title, template=garble == "template"), garble, "</tr>")
    if layout == "day-cards":
        return _garbled(render_day_cards(ordered, zone, title, template=garble == "template"), garble, "</p></div>")
    esc = htmllib.escape
    out = ['<!DOCTYPE html>', '<html lang="nl">', '<head>', '<meta charset="utf-8">',
           f'<title>{esc(title)} | KAA Gent</title>', '</head>', '<body>',
           '<header><nav><a href="/">Home</a> <a href="/kalender">Kalender</a> <a href="/tickets">Tickets</a></nav></header>',
           '<main>', f'<h1>{esc(title)}</h1>',
           '<p class="info">Alle uren zijn Belgische uren. Wijzigingen voorbehouden.</p>']
    if layout == "table":
        out += ['<table class="kalender">', '<thead><tr><th>Datum</th><th>Uur</th><th>Competitie</th>'
                '<th>Thuisploeg</th><th>Bezoekers</th><th>Stadion</th></tr></thead>', '<tbody>']
    else:
        out += ['<section class="match-list">']
    month = None
    for game in ordered:
        local = datetime.fromtimestamp(game.kickoff, zone)
        day = f"{_DAYS[local.weekday()]} {local:%d/%m/%Y}"
        clock = "uitgesteld" if game.postponed else (f"{local.hour}u{local.minute:02d}" if game.time_fixed else "nnb")
        if garble == "template":
            day, clock = "{{ match.date|format }}", "{{ match.time }}"
        cells = dict(datum=day, uur=clock, competitie=game.competition, thuis=game.home, uit=game.away,
                     stadion=game.location)
        if layout == "table":
            if (local.year, local.month) != month:
                month = (local.year, local.month)
                out.append(f'<tr class="maand"><td colspan="6">{_MONTHS[local.month - 1].capitalize()} {local.year}</td></tr>')
            row = "".join(f'<td class="{k}">{esc(v)}</td>' for k, v in cells.items())
            out.append(f'<tr class="wedstrijd">{row}</tr>')
        else:
            body = "".join(f'<span class="match-{k}">{esc(v)}</span>' for k, v in cells.items())
            out.append(f'<article class="match-card">{body}</article>')
    out += ['</tbody>', '</table>'] if layout == "table" else ['</section>']
    out += ['</main>', '<footer>KAA Gent (voorbeeldpagina, verzonnen gegevens)</footer>', '</body>', '</html>']
    text = "\n".join(out) + "\n"
    if garble == "truncated":  # the CMS stopped after a third of the rows: what is there is well formed
        rows_end = text.rfind("</tr>" if layout == "table" else "</article>", 0, len(text) // 3)
        text = text[: rows_end + 5] if rows_end >= 0 else text[: len(text) // 3]
    return text


def _garbled(text: str, garble: str | None, row_end: str) -> str:
    if garble == "truncated":  # the CMS stopped after a third of the rows
        end = text.rfind(row_end, 0, len(text) // 3)
        return text[: end + len(row_end)] if end >= 0 else text[: len(text) // 3]
    return text


def _clock(game: Game, local: datetime, sep: str, postponed: str, pending: str) -> str:
    if game.postponed:
        return postponed
    return f"{local.hour}{sep}{local.minute:02d}" if game.time_fixed else pending


def render_positional(games: Iterable[Game], zone: ZoneInfo, title: str = "Wedstrijden", *,
                      charset: str = "utf-8", template: bool = False) -> str:
    """An old table layout: no classes, ``home | - | away | competition | dd/mm/yyyy 20u30``."""
    esc = htmllib.escape
    out = [f'<html><head><meta http-equiv="Content-Type" content="text/html; charset={charset}">',
           f'<title>{esc(title)}</title></head><body>', f'<h2>{esc(title)}</h2>',
           '<table id="wedstrijden" border="1" cellpadding="2">',
           '<tr><th>Thuis</th><th></th><th>Bezoekers</th><th>Reeks</th><th>Datum / uur</th></tr>']
    for game in games:
        local = datetime.fromtimestamp(game.kickoff, zone)
        kickoff = f"{local:%d/%m/%Y} {_clock(game, local, 'u', 'uitgesteld', 'nnb')}"
        if template:
            kickoff = "{{ match.date|format }} {{ match.time }}"
        out.append(f"<tr><td>{esc(game.home)}</td><td>-</td><td>{esc(game.away)}</td>"
                   f"<td>{esc(game.competition)}</td><td>{kickoff}</td></tr>")
    out += ["</table>", "<p>Uren onder voorbehoud.</p>", "</body></html>"]
    return "\n".join(out) + "\n"


def render_day_cards(games: Iterable[Game], zone: ZoneInfo, title: str = "Calendrier", *,
                     template: bool = False) -> str:
    """Day headers in French (``samedi 2 août 2025``) above cards with the kickoff (``20h45``), the teams,
    the competition and the ground."""
    esc = htmllib.escape
    out = ['<!DOCTYPE html>', '<html lang="fr"><head><meta charset="utf-8">', f'<title>{esc(title)}</title>',
           '</head><body>', f'<h1>{esc(title)}</h1>', '<section class="programme">']
    day = None
    for game in games:
        local = datetime.fromtimestamp(game.kickoff, zone)
        if local.date() != day:
            day = local.date()
            header = f"{_FR_DAYS[local.weekday()]} {local.day} {_FR_MONTHS[local.month - 1]} {local.year}"
            out.append(f'<h3 class="titre jour">{"{{ match.date|format }}" if template else header}</h3>')
        clock = "{{ match.time }}" if template else _clock(game, local, "h", "reporté", "à déterminer")
        out.append(f'<div class="kaart"><span class="heure">{clock}</span>'
                   f'<div class="equipes"><span class="domicile">{esc(game.home)}</span> <em>contre</em> '
                   f'<span class="visiteur">{esc(game.away)}</span></div>'
                   f'<p class="competition">{esc(game.competition)}</p><p class="stade">{esc(game.location)}</p></div>')
    out += ['</section>', '<footer>Données inventées</footer>', '</body></html>']
    return "\n".join(out) + "\n"


def render_ical(games: Iterable[Game], *, style: str = "tzid", tz: str = DEFAULT_TZ, host: str = HOST,
                garble: str | None = None, name: str = "KAA Gent kalender") -> bytes:
    """The feed: one VEVENT per game; ``style`` is ``tzid`` (with VTIMEZONE), ``utc`` or ``floating``."""
    import icalendar

    zone = ZoneInfo(tz)
    ordered = sorted(games, key=lambda g: (g.kickoff, g.home, g.away))
    cal = icalendar.Calendar()
    cal.add("prodid", f"-//{host}//kalender//NL")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", name)
    if style == "tzid" and ordered:
        first = datetime.fromtimestamp(ordered[0].kickoff, zone).date().replace(day=1)
        last = datetime.fromtimestamp(ordered[-1].kickoff, zone).date() + timedelta(days=31)
        cal.add_component(icalendar.Timezone.from_tzid(tz, first_date=first, last_date=last))
    stamp = datetime(2025, 7, 1, tzinfo=timezone.utc)
    for game in ordered:
        local = datetime.fromtimestamp(game.kickoff, zone)
        ev = icalendar.Event()
        ev.add("uid", game.uid or game_uid(game.home, game.away, season_of(local.date()), host))
        ev.add("dtstamp", stamp)
        ev.add("summary", "{{ match.title }}" if garble == "template" else game.title)
        if not game.time_fixed:
            ev.add("dtstart", local.date())
        elif style == "utc":
            ev.add("dtstart", local.astimezone(timezone.utc))
        elif style == "floating":
            ev.add("dtstart", local.replace(tzinfo=None))
        else:
            ev.add("dtstart", local)
        if game.location:
            ev.add("location", game.location)
        if game.competition:
            ev.add("categories", [game.competition])
        if game.postponed:
            ev.add("status", "CANCELLED")
        cal.add_component(ev)
    data = cal.to_ical()
    if garble == "truncated":
        data = data[: len(data) // 3]
    return data


# -- the season on a page ---------------------------------------------------------------------------

def read_season(path: str | Path, tz: str = DEFAULT_TZ, selectors: Selectors = Selectors()) -> list[Game]:
    """Every game (home and away) of a saved fixtures page, as the site would serve it (``selectors``: where
    the page's cells are, as for the controller)."""
    fixtures = read_fixtures_html(decode_page(Path(path).read_bytes()), selectors, club=None, tz=tz)
    return [Game(e.home, e.away, e.start, competition=e.competition, location=e.location,
                 postponed=e.status != "scheduled") for e in fixtures.events]


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
        self._timeouts_until: float | None = None
        self._garble: tuple[str, float] | None = None  # (how, until)
        self.requests = 0
        self._version = 0  # bumps on every change of the season, so rendered bodies can be cached
        self._rendered: dict[tuple, object] = {}

    @staticmethod
    def _uid(game: Game, tz: str, host: str) -> str:
        day = datetime.fromtimestamp(game.kickoff, ZoneInfo(tz)).date()
        return game_uid(game.home, game.away, season_of(day), host)

    @classmethod
    def from_page(cls, rt, path: str | Path, selectors: Selectors = Selectors(), **options) -> "ClubSite":
        """A site serving the season found on a saved fixtures page (every game, home and away)."""
        return cls(rt, read_season(path, options.get("tz", DEFAULT_TZ), selectors), **options)

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
        self._changed("cancel", game=pair, kickoff=game.kickoff)
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

    def serve_errors(self, status: int = 500, for_: float = 3600.0) -> None:
        """Answer every request with ``status`` for ``for_`` seconds."""
        self._errors = (status, self.rt.now() + for_)
        self._changed("errors", status=status, duration=for_)

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
        if self._timeouts_until is not None and now < self._timeouts_until:
            read_timeout = (request.extensions.get("timeout") or {}).get("read") or 30.0
            await self.rt.sleep(read_timeout)
            self.rt.trace("request.served", path=path, status=0, error="timeout")
            raise httpx.ReadTimeout("club site did not answer", request=request)
        await self.rt.sleep(self.latency)
        if self._errors is not None and self.rt.now() < self._errors[1]:
            status, body, ctype = self._errors[0], b"<h1>Internal Server Error</h1>", "text/html"
        elif path in (PAGE_PATH, PAGE_PATH + "/"):
            status, body, ctype = 200, self.html().encode("utf-8"), "text/html; charset=utf-8"
        elif path == FEED_PATH:
            status, body, ctype = 200, self.ical(), "text/calendar; charset=utf-8"
        else:
            status, body, ctype = 404, b"<h1>Niet gevonden</h1>", "text/html"
        self.rt.trace("request.served", path=path, status=status)
        return httpx.Response(status, content=body, headers={"content-type": ctype}, request=request)


class SiteTransport(httpx.AsyncBaseTransport):
    """httpx's one-method seam, answered by the simulated club site."""

    def __init__(self, site: ClubSite):
        self.site = site

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host != self.site.host:
            raise httpx.ConnectError(f"no route to {request.url.host} in the simulated world", request=request)
        return await self.site.serve(request)


# -- the invented sample season ----------------------------------------------------------------

OPPONENTS = (
    "Club Brugge", "RSC Anderlecht", "Royal Antwerp FC", "KRC Genk", "Standard Luik",
    "Union Saint-Gilloise", "Cercle Brugge", "KV Mechelen", "OH Leuven", "Sint-Truidense VV",
    "Sporting Charleroi", "FCV Dender EH", "Zulte Waregem", "RAAL La Louvière", "KVC Westerlo",
    "K Beerschot VA", "KV Kortrijk",
)
STADIUM = "Planet Group Arena"
_CLUB_STADIUMS = {"Club Brugge": "Jan Breydelstadion", "Cercle Brugge": "Jan Breydelstadion",
                  "RSC Anderlecht": "Lotto Park", "Royal Antwerp FC": "Bosuil", "KRC Genk": "Cegeka Arena",
                  "Standard Luik": "Stade Maurice Dufrasne", "Union Saint-Gilloise": "Dudenpark",
                  "KV Mechelen": "AFAS-stadion", "OH Leuven": "Den Dreef", "Sint-Truidense VV": "Stayen",
                  "Sporting Charleroi": "Stade du Pays de Charleroi", "FCV Dender EH": "Van Roystadion",
                  "Zulte Waregem": "Elindus Arena", "RAAL La Louvière": "Stade du Tivoli",
                  "KVC Westerlo": "Het Kuipje", "K Beerschot VA": "Olympisch Stadion", "KV Kortrijk": "Guldensporenstadion"}


def sample_season(club: str = DEFAULT_CLUB, tz: str = DEFAULT_TZ) -> list[Game]:
    """An invented 34-round season, August 2025 to May 2026, 17 home games (deterministic).

    Round dates are weekends with a winter break; home kickoffs on the last Sundays of
    October 2025 and March 2026 exercise both DST changes.
    """
    zone = ZoneInfo(tz)
    breaks = {date(2025, 9, 6), date(2025, 10, 11), date(2025, 11, 15), date(2025, 12, 27), date(2026, 1, 3),
              date(2026, 3, 21)}  # international weekends and the winter break
    rounds: list[date] = []
    saturday = date(2025, 8, 2)
    while len(rounds) < 2 * len(OPPONENTS):
        if saturday not in breaks:
            rounds.append(saturday)
        saturday += timedelta(weeks=1)
    dst_weekends = (date(2025, 10, 25), date(2026, 3, 28))
    slots = (("za", 20, 45), ("zo", 13, 30), ("zo", 16, 0), ("zo", 18, 30), ("vr", 20, 45), ("za", 18, 15),
             ("zo", 20, 30))
    games: list[Game] = []
    for n, saturday in enumerate(rounds):
        m = n % len(OPPONENTS)
        opponent = OPPONENTS[m]
        at_home = (m % 2 == 0) if n < len(OPPONENTS) else (m % 2 == 1)  # each pairing once at home
        day_name, hour, minute = slots[(n * 3) % len(slots)]
        day = saturday + timedelta(days={"vr": -1, "za": 0, "zo": 1}[day_name])
        if saturday in dst_weekends:
            day, hour, minute = saturday + timedelta(days=1), 18, 30
        kickoff = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone).timestamp()
        home, away = (club, opponent) if at_home else (opponent, club)
        games.append(Game(home, away, kickoff, location=STADIUM if at_home else _CLUB_STADIUMS[opponent]))
    return games
