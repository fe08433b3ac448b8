"""Fixtures sources: the club's HTML calendar and its iCalendar feed, parsed into events.

Pure functions over text (no I/O, no clock): the scraper fetches, these decide what
the text says. Rules, in one place:

- Only home games of the configured club are kept (``club=None`` keeps every game,
  which is what the simulated club website uses to load a season from a page).
- Local times are Europe/Brussels unless told otherwise and are converted with
  zoneinfo, so a game at 18u30 on the last Sunday of March is 16:30 UTC and one on
  the last Sunday of October is 17:30 UTC. A local time that does not exist (inside
  the spring-forward gap) is refused; an ambiguous one takes its first (summer) reading.
- A row whose date is known but whose time is not yet fixed (``nnb``, ``TBD``, empty)
  is *pending*: it is not an event yet, but its key is reported so reconciliation
  does not take it for a cancelled game. A row marked postponed (``uitgesteld``,
  ``afgelast``, ``reporté``) or a VEVENT with ``STATUS:CANCELLED`` is a cancelled event.
- Keys are stable across scrapes: the feed's UID when there is one, else
  ``home|away|competition|season`` (season ``2025-26`` runs from July to June).
- Garbled input raises :class:`~system.errors.RefusedInput` with a short reason
  (``no_rows``, ``missing_cell``, ``bad_date``, ``bad_time``, ``ical_unparseable``,
  ``bad_summary``, ``bad_dtstart``, ``unknown_tzid``, ``nonexistent_local_time``,
  ``duplicate_key``); the service counts it and changes nothing.

For example::

    >>> html = ('<table class="kalender"><tr class="wedstrijd"><td class="datum">zo 29/03/2026</td>'
    ...         '<td class="uur">18u30</td><td class="competitie">Jupiler Pro League</td>'
    ...         '<td class="thuis">KAA Gent</td><td class="uit">Club Brugge</td></tr></table>')
    >>> [(e.key, e.start) for e in parse_fixtures_html(html, Selectors())]
    [('KAA Gent|Club Brugge|Jupiler Pro League|2025-26', 1774801800.0)]
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Iterable, Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from system.errors import RefusedInput
from system.decisions.events import CANCELLED, GAME, SCHEDULED, Event

DEFAULT_TZ = "Europe/Brussels"
DEFAULT_CLUB = "KAA Gent"


@dataclass(frozen=True)
class Selectors:
    """CSS selectors of a fixtures page: ``row`` picks the rows, the others a cell inside a row.

    ``competition`` and ``location`` may be ``None`` when the page has no such column.
    The defaults fit ``fixtures/pages/kaagent-2025-26.html``.
    """

    row: str = "table.kalender tr.wedstrijd"
    date: str = "td.datum"
    time: str = "td.uur"
    home: str = "td.thuis"
    away: str = "td.uit"
    competition: str | None = "td.competitie"
    location: str | None = "td.stadion"


@dataclass(frozen=True)
class Fixtures:
    """What a source says: its (home) games, and the keys of games whose time is not fixed yet."""

    events: tuple[Event, ...]
    pending: frozenset[str] = field(default_factory=frozenset)


# -- shared helpers ----------------------------------------------------------------------

_PENDING_TIMES = {"", "-", "--", "?", "tbd", "tba", "nnb", "n.n.b.", "ntb", "n.t.b.", "nog te bepalen",
                  "à déterminer", "a determiner", "--:--", "-:-"}
_POSTPONED = ("uitgesteld", "afgelast", "reporté", "reporte", "postponed", "cancelled", "canceled", "annulé")

_MONTHS = {
    # Dutch, French, English; abbreviations are matched by their first three letters.
    "januari": 1, "februari": 2, "maart": 3, "april": 4, "mei": 5, "juni": 6, "juli": 7,
    "augustus": 8, "september": 9, "oktober": 10, "november": 11, "december": 12,
    "janvier": 1, "février": 2, "fevrier": 2, "mars": 3, "avril": 4, "mai": 5, "juin": 6,
    "juillet": 7, "août": 8, "aout": 8, "septembre": 9, "octobre": 10, "novembre": 11, "décembre": 12,
    "january": 1, "february": 2, "march": 3, "may": 5, "june": 6, "july": 7, "august": 8,
    "october": 10,
}
_NUMERIC_DATE = re.compile(r"(?<!\d)(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4}|\d{2})(?!\d)")
_WORDED_DATE = re.compile(r"(?<!\d)(\d{1,2})\.?\s+([^\W\d_]+)\.?\s+(\d{4})(?!\d)")
_ISO_DATE = re.compile(r"(?<!\d)(\d{4})-(\d{2})-(\d{2})(?!\d)")
_TIME = re.compile(r"^(\d{1,2})\s*(?:u|h|:|\.)\s*(\d{2})?$")


def _clean(text: str) -> str:
    return " ".join(text.split())


def _fold(name: str) -> str:
    return _clean(name).casefold()


def season_of(day: date) -> str:
    """The football season a date belongs to: ``2025-26`` from 1 July 2025 to 30 June 2026."""
    first = day.year if day.month >= 7 else day.year - 1
    return f"{first}-{(first + 1) % 100:02d}"


def pairing_key(home: str, away: str, competition: str, season: str) -> str:
    """The key of a game on a source without ids: ``home|away|competition|season``."""
    return "|".join((_clean(home), _clean(away), _clean(competition), season))


def parse_date(text: str) -> date:
    """A calendar date as clubs write it: ``za 14/03/2026``, ``14.03.26``, ``zaterdag 14 maart 2026``."""
    cleaned = _clean(text).lower()
    found = _ISO_DATE.search(cleaned)
    try:
        if found:
            return date(int(found[1]), int(found[2]), int(found[3]))
        found = _NUMERIC_DATE.search(cleaned)
        if found:
            year = int(found[3])
            return date(year + 2000 if year < 100 else year, int(found[2]), int(found[1]))
        found = _WORDED_DATE.search(cleaned)
        if found:
            word = found[2]
            month = _MONTHS.get(word) or next((m for n, m in _MONTHS.items() if len(word) >= 3 and n.startswith(word)), None)
            if month:
                return date(int(found[3]), month, int(found[1]))
    except ValueError:
        pass  # 31/02/2026 and the like fall through to the refusal
    raise RefusedInput("bad_date", repr(text[:60]))


def parse_time(text: str) -> tuple[int, int] | None:
    """A kickoff time like ``20u30``, ``20h30``, ``20:30`` or ``20u``; ``None`` when not fixed yet."""
    cleaned = _clean(text).lower()
    if cleaned in _PENDING_TIMES:
        return None
    found = _TIME.match(cleaned)
    if found:
        hour, minute = int(found[1]), int(found[2] or 0)
        if hour < 24 and minute < 60:
            return hour, minute
    raise RefusedInput("bad_time", repr(text[:60]))


def local_epoch(day: date, hour: int, minute: int, tz: str = DEFAULT_TZ) -> float:
    """Epoch seconds of a wall-clock time in ``tz``; refuses times inside a DST gap."""
    zone = ZoneInfo(tz)
    naive = datetime(day.year, day.month, day.day, hour, minute)
    return _aware_epoch(naive.replace(tzinfo=zone), zone)


def _aware_epoch(local: datetime, zone: ZoneInfo) -> float:
    # A wall time that does not exist maps back to a different wall time; fold=0 keeps
    # the first reading of an ambiguous (autumn) time.
    roundtrip = datetime.fromtimestamp(local.timestamp(), zone).replace(tzinfo=None)
    if roundtrip != local.replace(tzinfo=None, fold=0):
        raise RefusedInput("nonexistent_local_time", f"{local:%Y-%m-%d %H:%M} does not exist in {zone.key}")
    return local.timestamp()


def _is_home(home: str, clubs: frozenset[str] | None) -> bool:
    return clubs is None or _fold(home) in clubs


def _club_names(club: str | Iterable[str] | None) -> frozenset[str] | None:
    if club is None:
        return None
    names = [club] if isinstance(club, str) else list(club)
    return frozenset(_fold(n) for n in names)


def _check_unique(events: Sequence[Event], pending: Iterable[str]) -> None:
    seen: set[str] = set()
    for key in [e.key for e in events] + list(pending):
        if key in seen:
            raise RefusedInput("duplicate_key", f"two games share the key {key!r}")
        seen.add(key)


# -- HTML ----------------------------------------------------------------------------------

def read_fixtures_html(html: str, selectors: Selectors = Selectors(), tz: str = DEFAULT_TZ,
                       club: str | Iterable[str] | None = DEFAULT_CLUB, source: str = "html") -> Fixtures:
    """Read an HTML fixtures page into home games and pending keys.

    Rows matched by ``selectors.row`` that hold none of the cells (month headers,
    separators) are skipped; a row with some but not all cells refuses the page,
    because a half-understood page must not cancel games.
    """
    from bs4 import BeautifulSoup  # imported here so importing the module stays cheap

    if not isinstance(html, str):
        raise RefusedInput("not_text", type(html).__name__)
    soup = BeautifulSoup(html, "html.parser")
    rows = soup.select(selectors.row)
    if not rows:
        raise RefusedInput("no_rows", f"selector {selectors.row!r} matched nothing")
    clubs = _club_names(club)
    events: list[Event] = []
    pending: list[str] = []
    wanted = {"date": selectors.date, "time": selectors.time, "home": selectors.home, "away": selectors.away}
    for n, row in enumerate(rows, start=1):
        cells = {name: row.select_one(sel) for name, sel in wanted.items()}
        present = [name for name, cell in cells.items() if cell is not None]
        if not present:
            continue
        if len(present) < len(wanted):
            missing = sorted(set(wanted) - set(present))
            raise RefusedInput("missing_cell", f"row {n} has no {', '.join(missing)}")
        text = {name: _clean(cell.get_text(" ")) for name, cell in cells.items()}
        home, away = text["home"], text["away"]
        if not home or not away:
            raise RefusedInput("missing_cell", f"row {n} has an empty team name")
        competition = _optional_cell(row, selectors.competition)
        location = _optional_cell(row, selectors.location)
        day = parse_date(text["date"])
        key = pairing_key(home, away, competition, season_of(day))
        if not _is_home(home, clubs):
            continue
        postponed = any(word in text["time"].lower() for word in _POSTPONED)
        clock = None if postponed else parse_time(text["time"])
        if clock is None and not postponed:
            pending.append(key)
            continue
        start = local_epoch(day, *(clock or (0, 0)), tz=tz)
        events.append(Event(key=key, kind=GAME, title=f"{home} - {away}", start=start,
                            status=CANCELLED if postponed else SCHEDULED, home=home, away=away,
                            competition=competition, season=season_of(day), location=location,
                            source=source))
    _check_unique(events, pending)
    return Fixtures(tuple(events), frozenset(pending))


def _optional_cell(row, selector: str | None) -> str:
    if not selector:
        return ""
    cell = row.select_one(selector)
    return _clean(cell.get_text(" ")) if cell is not None else ""


def parse_fixtures_html(html: str, selectors: Selectors = Selectors(), tz: str = DEFAULT_TZ,
                        club: str | Iterable[str] | None = DEFAULT_CLUB, source: str = "html") -> list[Event]:
    """The home games on an HTML fixtures page (see :func:`read_fixtures_html`)."""
    return list(read_fixtures_html(html, selectors, tz=tz, club=club, source=source).events)


# -- iCalendar -------------------------------------------------------------------------------

_SUMMARY = re.compile(r"^(.+?)\s+[-\u2013\u2014]\s+(.+)$")


def read_fixtures_ical(text: str | bytes, tz: str = DEFAULT_TZ, club: str | Iterable[str] | None = DEFAULT_CLUB,
                       source: str = "ical") -> Fixtures:
    """Read an iCalendar feed: ``SUMMARY`` "Home - Away", ``DTSTART`` with TZID, in UTC or floating.

    Floating times are local to ``tz``; a whole-day ``DTSTART`` is a pending game;
    ``UID`` is the key (a feed without UIDs falls back to the pairing key);
    ``CATEGORIES`` names the competition, ``LOCATION`` the ground.
    """
    import icalendar

    raw = text.encode("utf-8") if isinstance(text, str) else text
    try:
        calendar = icalendar.Calendar.from_ical(raw)
    except (ValueError, TypeError, LookupError, AttributeError, OSError) as exc:
        # icalendar reports malformed text with several exception types (and an odd
        # TZID may even reach the file system as a zone name): all mean "garbled"
        raise RefusedInput("ical_unparseable", f"{type(exc).__name__}: {str(exc)[:80]}") from None
    if calendar.name != "VCALENDAR":
        raise RefusedInput("ical_unparseable", f"top component is {calendar.name}")
    clubs = _club_names(club)
    zone = ZoneInfo(tz)
    events: list[Event] = []
    pending: list[str] = []
    for n, vevent in enumerate(calendar.walk("VEVENT"), start=1):
        summary = _clean(str(vevent.get("SUMMARY", "")))
        teams = _SUMMARY.match(summary)
        if not teams:
            raise RefusedInput("bad_summary", f"event {n}: {summary[:60]!r} is not 'Home - Away'")
        home, away = _clean(teams[1]), _clean(teams[2])
        broken = [name for name, _ in getattr(vevent, "errors", ())]
        if "DTSTART" not in vevent or "DTSTART" in broken:
            raise RefusedInput("bad_dtstart", f"event {n} ({summary[:40]})")
        start_prop = vevent["DTSTART"]
        value = getattr(start_prop, "dt", None)
        competition = _categories(vevent.get("CATEGORIES"))
        location = _clean(str(vevent.get("LOCATION", "")))
        uid = _clean(str(vevent.get("UID", "")))
        day = value.date() if isinstance(value, datetime) else value
        if not isinstance(day, date):
            raise RefusedInput("bad_dtstart", f"event {n}: {value!r}")
        season = season_of(_local_day(value, zone))
        key = uid or pairing_key(home, away, competition, season)
        if not _is_home(home, clubs):
            continue
        if not isinstance(value, datetime):
            pending.append(key)
            continue
        start = _ical_epoch(value, start_prop.params.get("TZID"), zone)
        status = CANCELLED if str(vevent.get("STATUS", "")).upper() == "CANCELLED" else SCHEDULED
        events.append(Event(key=key, kind=GAME, title=f"{home} - {away}", start=start, status=status,
                            home=home, away=away, competition=competition, season=season,
                            location=location, source=source))
    _check_unique(events, pending)
    return Fixtures(tuple(events), frozenset(pending))


def _local_day(value: date | datetime, zone: ZoneInfo) -> date:
    if isinstance(value, datetime):
        return (value.astimezone(zone) if value.tzinfo else value).date()
    return value


def _ical_epoch(value: datetime, tzid: str | None, zone: ZoneInfo) -> float:
    if value.tzinfo is not None:
        if isinstance(value.tzinfo, ZoneInfo):
            return _aware_epoch(value, value.tzinfo)
        return value.timestamp()  # a zone built from the feed's own VTIMEZONE, or UTC
    if tzid:
        # icalendar leaves a time naive when it knows neither the TZID nor a VTIMEZONE for it
        try:
            zone = ZoneInfo(str(tzid))
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise RefusedInput("unknown_tzid", str(tzid)[:60]) from None
    return _aware_epoch(value.replace(tzinfo=zone), zone)


def _categories(prop) -> str:
    if prop is None:
        return ""
    props = prop if isinstance(prop, list) else [prop]
    names: list[str] = []
    for p in props:
        cats = getattr(p, "cats", None)
        names.extend(str(c) for c in cats) if cats is not None else names.append(str(p))
    return _clean(", ".join(names))


def parse_fixtures_ical(text: str | bytes, tz: str = DEFAULT_TZ, club: str | Iterable[str] | None = DEFAULT_CLUB,
                        source: str = "ical") -> list[Event]:
    """The home games in an iCalendar feed (see :func:`read_fixtures_ical`)."""
    return list(read_fixtures_ical(text, tz=tz, club=club, source=source).events)

