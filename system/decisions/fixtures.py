"""Fixtures sources: the club's HTML calendar and its iCalendar feed, parsed into events.

Pure functions over text (no I/O, no clock): the scraper fetches, these decide what
the text says. Rules, in one place:

- Only home games of the configured club are kept (``club=None`` keeps every game,
  which is what the simulated club website uses to load a season from a page). A game
  is home when its home team is one of the club's names (compared after folding case,
  accents and dots: "K.A.A. Gent" is "KAA Gent"), or when it is played at one of the
  club's home grounds (``ground``: the row's ``location`` cell or the feed's
  ``LOCATION`` contains the ground's name), even if the names differ.
- Where the games are on a page is :class:`~system.decisions.selectors.Selectors` (CSS
  or XPath); what a date, time or kickoff cell says is :mod:`system.decisions.kickoff`.
- Local times are Europe/Brussels unless told otherwise and follow the one rule of
  :mod:`system.decisions.localtime`: a game at 18u30 on the last Sunday of March is
  16:30 UTC; a kickoff inside the spring-forward gap is read past the gap (and noted,
  never dropped); an ambiguous autumn time takes its first (summer) reading.
- An iCalendar feed's ``Z`` (UTC) times are read as published, unless the source says
  they are really local wall-clock times (``utc_is_local``, a known bug of some club
  feeds).
- A row whose date is known but whose time is not yet fixed (``nnb``, ``TBD``, empty)
  is *pending*: it is not an event yet, but its key is reported so reconciliation
  does not take it for a cancelled game. A row marked postponed (``uitgesteld``,
  ``afgelast``, ``reporté``) or a VEVENT with ``STATUS:CANCELLED`` is a cancelled event.
- Keys are stable across scrapes: the feed's UID when there is one, else
  ``home|away|competition|season`` (season ``2025-26`` runs from July to June). A
  pairing met more than once in a season (a play-off, a replay) numbers its games by
  date: the first keeps the plain key, the second gets ``#2``, and so on
  (:mod:`system.decisions.meetings`; reconcile matches a moved game to its nearest
  date). A row that repeats a game (same pairing, competition and kickoff) is refused
  alone (``duplicate_row``, a note, even when strict); the rest of the page reads.
- A feed's ``SUMMARY`` is read by :mod:`system.decisions.summary` (``Home - Away``,
  ``Competition - Home - Away``, ``vs``, ``v``, en dash; or the selectors file's
  ``summary`` template). A feed is a window on the season: :attr:`Fixtures.window` is
  the span from its first to its last listed kickoff (any team's), and only games inside
  it can be cancelled by their absence (a rolling feed lists only the next few games).
- Garbled input raises :class:`~system.errors.RefusedInput` with a short reason
  (``no_rows``, ``missing_cell``, ``bad_date``, ``ambiguous_date``, ``bad_time``,
  ``ambiguous_time``, ``bad_kickoff``, ``ical_unparseable``, ``bad_summary``,
  ``ambiguous_summary``, ``bad_dtstart``, ``unknown_tzid``, ``duplicate_key``); the
  service counts it and changes nothing. With ``strict=False`` a reader instead reports every refused row
  in :attr:`Fixtures.notes` (what ``hilsim fixtures check`` prints); the page is still
  refused as a whole when any row is (:attr:`Fixtures.refused`).

For example::

    >>> html = ('<table class="kalender"><tr class="wedstrijd"><td class="datum">zo 29/03/2026</td>'
    ...         '<td class="uur">18u30</td><td class="competitie">Jupiler Pro League</td>'
    ...         '<td class="thuis">KAA Gent</td><td class="uit">Club Brugge</td></tr></table>')
    >>> [(e.key, e.start) for e in read_fixtures_html(html, Selectors()).events]
    [('KAA Gent|Club Brugge|Jupiler Pro League|2025-26', 1774801800.0)]
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any, Iterable, Sequence
from zoneinfo import ZoneInfo

from system.decisions.events import CANCELLED, GAME, SCHEDULED, Event, pairing_key, with_ordinal
from system.decisions.kickoff import (Kickoff, KickoffFormat, fold, is_postponed, parse_date, parse_time,
                                      read_kickoff)
from system.decisions.localtime import DEFAULT_TZ, LocalTime, aware_epoch, resolve, zone
from system.decisions.meetings import number_meetings
from system.decisions.selectors import Selectors, expression
from system.decisions.summary import read_summary
from system.errors import RefusedInput

__all__ = ["DEFAULT_CLUB", "DEFAULT_TZ", "Fixtures", "HomeRule", "Note", "Selectors", "parse_date", "parse_time",
           "pairing_key", "season_of", "read_fixtures_html", "read_fixtures_ical"]

DEFAULT_CLUB = "KAA Gent"
DUPLICATE_ROW = "duplicate_row"
_PENDING_MINUTE = 24 * 60  # a game whose time is not fixed sorts after that day's timed games
PENDING = "pending"
REFUSED = "refused"
SHIFTED = "shifted"


@dataclass(frozen=True)
class Note:
    """A row that did not become a plain game: ``pending`` (time not fixed), ``refused`` (with the refusal's
    ``reason`` code and ``detail``), or ``shifted`` (a kickoff inside the spring gap, read past it)."""

    status: str
    row: str
    reason: str
    detail: str = ""
    key: str = ""


@dataclass(frozen=True)
class Fixtures:
    """What a source says: its (home) games, the keys of games whose time is not fixed yet, and notes.

    ``window`` is the span (first and last listed kickoff, epoch seconds) a feed covers;
    ``None`` for a page, which covers the whole season."""

    events: tuple[Event, ...]
    pending: frozenset[str] = field(default_factory=frozenset)
    notes: tuple[Note, ...] = ()
    window: tuple[float, float] | None = None

    @property
    def refused(self) -> tuple[Note, ...]:
        """The refused rows (only with ``strict=False``; a strict read raises at the first)."""
        return tuple(n for n in self.notes if n.status == REFUSED)


@dataclass(frozen=True)
class HomeRule:
    """Which games are the club's home games: by the home team's name, or by where they are played."""

    names: frozenset[str] | None
    grounds: tuple[str, ...] = ()

    @classmethod
    def of(cls, club: str | Iterable[str] | None, ground: str | Iterable[str] = ()) -> "HomeRule":
        names = None if club is None else frozenset(fold(n) for n in ([club] if isinstance(club, str) else club))
        grounds = tuple(" ".join(_words(g)) for g in ([ground] if isinstance(ground, str) else ground) if _words(g))
        return cls(names, grounds)

    def is_home(self, home: str, location: str = "") -> bool:
        if self.names is None or fold(home) in self.names:
            return True
        # the ground's words in a row, anywhere in the location ("Planet Group Arena, Gent")
        where = f" {' '.join(_words(location))} "
        return any(f" {g} " in where for g in self.grounds)


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", fold(text))


# -- shared helpers ----------------------------------------------------------------------

def _clean(text: str) -> str:
    return " ".join(text.split())


def season_of(day: date) -> str:
    """The football season a date belongs to: ``2025-26`` from 1 July 2025 to 30 June 2026."""
    first = day.year if day.month >= 7 else day.year - 1
    return f"{first}-{(first + 1) % 100:02d}"


def _shifted_note(row: str, when: LocalTime, day: date, clock: tuple[int, int], tz: str, key: str) -> Note:
    shown = datetime.fromtimestamp(when.epoch, zone(tz)).strftime("%H:%M")
    return Note(SHIFTED, row, "nonexistent_local_time",
                f"{clock[0]:02d}:{clock[1]:02d} does not exist on {day.isoformat()} in {tz} (clocks go forward); "
                f"read as {shown}", key)


def _check_unique(events: Sequence[Event], pending: Iterable[str]) -> None:
    seen: set[str] = set()
    for key in [e.key for e in events] + list(pending):
        if key in seen:
            raise RefusedInput("duplicate_key", f"two games share the key {key!r}")
        seen.add(key)


@dataclass(frozen=True)
class _Game:
    """A game (``event``) or a pending one (``event=None``) as read, before its pairing's ordinal is known.

    ``pairing`` is its pairing key (``None``: the key is the source's id), ``order`` its place among the
    pairing's games (day, minutes; a pending game after the day's timed ones), ``notes`` the indexes of
    the notes that carry its key."""

    key: str
    label: str
    pairing: str | None
    order: tuple[date, int]
    event: Event | None
    notes: tuple[int, ...] = ()


class _Reader:
    """Collects games, pending keys and notes; raises at the first refusal when strict."""

    def __init__(self, strict: bool):
        self.strict = strict
        self.games: list[_Game] = []
        self.notes: list[Note] = []
        self.kickoffs: list[float] = []  # every listed kickoff, any team's: the span a feed covers

    def refuse(self, row: str, refused: RefusedInput) -> None:
        if self.strict:
            raise refused  # as it was found: the trace's source.suspicious detail says what the cell said
        self.notes.append(Note(REFUSED, row, refused.reason, refused.detail))

    def note(self, note: Note) -> int:
        self.notes.append(note)
        return len(self.notes) - 1

    def result(self, window: bool = False) -> Fixtures:
        games = self._numbered()
        events = [g.event for g in games if g.event is not None]
        pending = [g.key for g in games if g.event is None]
        try:
            _check_unique(events, pending)
        except RefusedInput as refused:
            if self.strict:
                raise
            self.notes.append(Note(REFUSED, "page", refused.reason, refused.detail))
        span = (min(self.kickoffs), max(self.kickoffs)) if window and self.kickoffs else None
        return Fixtures(tuple(events), frozenset(pending), tuple(self.notes), span)

    def _numbered(self) -> list[_Game]:
        """The games with their final keys (``#n`` for the n-th meeting of a pairing), in the order read;
        a row repeating a game is dropped with a ``duplicate_row`` note."""
        ordinals, repeats = number_meetings([(g.pairing, g.order) for g in self.games])
        games = [self._keyed(g, with_ordinal(g.pairing, ordinals[i])) if i in ordinals else g
                 for i, g in enumerate(self.games)]
        for i in sorted(repeats):
            kept = games[repeats[i]]
            self.notes.append(Note(REFUSED, games[i].label, DUPLICATE_ROW,
                                   f"the same game as {kept.label}, {kept.key}, at the same kickoff"))
        return [g for i, g in enumerate(games) if i not in repeats]

    def _keyed(self, game: _Game, key: str) -> _Game:
        for n in game.notes:
            self.notes[n] = replace(self.notes[n], key=key)
        return replace(game, key=key, event=replace(game.event, key=key) if game.event else None)


# -- HTML ----------------------------------------------------------------------------------

_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*>")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def html_document(html: str) -> Any:
    """The page as an lxml tree; refuses (``no_rows``) text lxml cannot make a document of."""
    from lxml import etree, html as lxml_html  # imported here so importing the module stays cheap

    if not isinstance(html, str):
        raise RefusedInput("not_text", type(html).__name__)
    text = _CONTROL.sub("", _XML_DECLARATION.sub("", html))
    try:
        return lxml_html.document_fromstring(text)
    except (etree.ParserError, ValueError) as exc:
        raise RefusedInput("no_rows", f"not an HTML page: {exc}") from None


def _row_label(n: int, cells: dict[str, str | None], row: Any) -> str:
    shown = [cells.get(k) for k in ("kickoff", "date", "time")] + [
        f"{cells.get('home') or '?'} - {cells.get('away') or '?'}" if cells.get("home") or cells.get("away") else None]
    text = " | ".join(c for c in shown if c) or " ".join(" ".join(row.itertext()).split())
    return f"row {n} ({text[:80]})"


def read_fixtures_html(html: str, selectors: Selectors = Selectors(), tz: str = DEFAULT_TZ,
                       club: str | Iterable[str] | None = DEFAULT_CLUB, source: str = "html", *,
                       ground: str | Iterable[str] = (), season: str | None = None,
                       strict: bool = True) -> Fixtures:
    """Read an HTML fixtures page into home games and pending keys.

    Rows matched by ``selectors.row`` that hold none of the cells (month headers,
    separators) are skipped; a row with some but not all cells refuses the page,
    because a half-understood page must not cancel games. ``season`` (``2025-26``)
    dates cells written without a year.
    """
    document = html_document(html)
    rows = [r for r in expression(selectors.row, row=True).nodes(document) if hasattr(r, "itertext")]
    if not rows:
        raise RefusedInput("no_rows", f"selector {selectors.row!r} matched nothing")
    page = _HtmlPage(selectors, tz, club, ground, source, season)
    reader = _Reader(strict)
    for n, row in enumerate(rows, start=1):
        page.read_row(reader, n, row)
    return reader.result()  # a page covers the whole season: no window


class _HtmlPage:
    """How to read a page's rows (its cells, its kickoff format, whose home games count), compiled once."""

    def __init__(self, selectors: Selectors, tz: str, club: str | Iterable[str] | None, ground: str | Iterable[str],
                 source: str, season: str | None):
        wanted = {"home": selectors.home, "away": selectors.away}
        if selectors.kickoff:
            wanted["kickoff"] = selectors.kickoff
        else:
            wanted.update(date=selectors.date or "", time=selectors.time or "")
        self.cells = {name: expression(sel) for name, sel in wanted.items()}
        self.kickoff_format = KickoffFormat(selectors.kickoff_format) if selectors.kickoff_format else None
        self.rule = HomeRule.of(club, ground)
        self.selectors, self.tz, self.source, self.season = selectors, tz, source, season

    def read_row(self, reader: _Reader, n: int, row: Any) -> None:
        """Row ``n``: a home game, a pending key or a note for ``reader``; nothing for another club's game."""
        cells = {name: expr.text(row) for name, expr in self.cells.items()}
        label = _row_label(n, cells, row)
        try:
            teams = _teams(n, cells)
        except RefusedInput as refused:
            reader.refuse(label, refused)
            return
        if teams is None:
            return  # none of the cells: a month header, a separator
        home, away = teams
        competition = _optional_cell(row, self.selectors.competition)
        location = _optional_cell(row, self.selectors.location)
        home_game = self.rule.is_home(home, location)
        try:
            kickoff = _kickoff(cells, self.kickoff_format, self.season, home_game)
        except RefusedInput as refused:
            reader.refuse(label, refused)
            return
        if kickoff is None or not home_game:
            return  # not the club's home game: only its date had to make sense
        self._add_game(reader, label, kickoff, home, away, competition, location)

    def _add_game(self, reader: _Reader, label: str, kickoff: Kickoff, home: str, away: str, competition: str,
                  location: str) -> None:
        day_season = season_of(kickoff.day)
        key = pairing_key(home, away, competition, day_season)
        if kickoff.clock is None and not kickoff.postponed:
            note = reader.note(Note(PENDING, label, "time_not_fixed", "the time is not fixed yet", key))
            reader.games.append(_Game(key, label, key, (kickoff.day, _PENDING_MINUTE), None, (note,)))
            return
        clock = kickoff.clock or (0, 0)
        try:
            when = resolve(kickoff.day, *clock, self.tz)
        except RefusedInput as refused:
            reader.refuse(label, refused)
            return
        notes: tuple[int, ...] = ()
        if when.shifted and not kickoff.postponed:
            notes = (reader.note(_shifted_note(label, when, kickoff.day, clock, self.tz, key)),)
        event = Event(key=key, kind=GAME, title=f"{home} - {away}", start=when.epoch,
                      status=CANCELLED if kickoff.postponed else SCHEDULED, home=home, away=away,
                      competition=competition, season=day_season, location=location, source=self.source)
        minute = -1 if kickoff.postponed else clock[0] * 60 + clock[1]  # a postponed row has no time
        reader.games.append(_Game(key, label, key, (kickoff.day, minute), event, notes))


def _teams(n: int, cells: dict[str, str | None]) -> tuple[str, str] | None:
    """The row's home and away teams; None for a row with none of the cells; refused when it has only some."""
    present = [name for name, text in cells.items() if text is not None]
    if not present:
        return None
    if len(present) < len(cells):
        missing = sorted(set(cells) - set(present))
        raise RefusedInput("missing_cell", f"row {n} has no {', '.join(missing)}")
    home, away = cells["home"] or "", cells["away"] or ""
    if not home or not away:
        raise RefusedInput("missing_cell", f"row {n} has an empty team name")
    return home, away


def _kickoff(cells: dict[str, str | None], fmt: KickoffFormat | None, season: str | None,
             home_game: bool) -> Kickoff | None:
    """The row's kickoff; ``None`` for an away game whose time cannot be read (its date still must be)."""
    if "kickoff" in cells:
        text = cells["kickoff"] or ""
        try:
            return fmt.read(text, season) if fmt is not None else read_kickoff(text, season)
        except RefusedInput as refused:
            if home_game or refused.reason not in ("bad_time", "ambiguous_time"):
                raise
            return None
    day = parse_date(cells["date"] or "", season)
    if not home_game:
        return None
    if is_postponed(cells["time"] or ""):
        return Kickoff(day, None, postponed=True)
    return Kickoff(day, parse_time(cells["time"] or ""))


def _optional_cell(row: Any, selector: str | None) -> str:
    if not selector:
        return ""
    return expression(selector).text(row) or ""


# -- iCalendar -------------------------------------------------------------------------------

def read_fixtures_ical(text: str | bytes, tz: str = DEFAULT_TZ, club: str | Iterable[str] | None = DEFAULT_CLUB,
                       source: str = "ical", *, ground: str | Iterable[str] = (), utc_is_local: bool = False,
                       summary: str | None = None, strict: bool = True) -> Fixtures:
    """Read an iCalendar feed: ``SUMMARY`` "Home - Away" (or another shape, see
    :mod:`system.decisions.summary`; ``summary`` is the selectors file's template), ``DTSTART`` with
    TZID, in UTC or floating.

    Floating times are local to ``tz``; ``Z`` times are UTC, or wall-clock times in
    ``tz`` when ``utc_is_local``; a whole-day ``DTSTART`` is a pending game; ``UID`` is
    the key (a feed without UIDs falls back to the pairing key); ``CATEGORIES`` names
    the competition unless the summary does, ``LOCATION`` the ground. The result's
    ``window`` spans the feed's listed kickoffs.
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
    feed = _Feed(HomeRule.of(club, ground), zone(tz), tz, utc_is_local, source, summary)
    reader = _Reader(strict)
    for n, vevent in enumerate(calendar.walk("VEVENT"), start=1):
        text_summary = _clean(str(vevent.get("SUMMARY", "")))
        label = f"event {n} ({text_summary[:60]})"
        try:
            feed.read_vevent(vevent, text_summary, label, reader)
        except RefusedInput as refused:
            reader.refuse(label, RefusedInput(refused.reason, f"event {n}: {refused.detail}"))
    return reader.result(window=True)


@dataclass(frozen=True)
class _Feed:
    """How to read a feed's events: whose home games count, its zone, its summary template."""

    rule: HomeRule
    local_zone: ZoneInfo
    tz: str
    utc_is_local: bool
    source: str
    summary: str | None

    def read_vevent(self, vevent: Any, summary: str, label: str, reader: _Reader) -> None:
        """One VEVENT: a home game, a pending key or a note for ``reader``; only its kickoff for another's."""
        location = _clean(str(vevent.get("LOCATION", "")))
        at_ground = bool(self.rule.grounds) and self.rule.is_home("", location)
        teams = read_summary(summary, self.rule.names, self.summary, at_ground)
        broken = [name for name, _ in getattr(vevent, "errors", ())]
        if "DTSTART" not in vevent or "DTSTART" in broken:
            raise RefusedInput("bad_dtstart", "no usable DTSTART")
        start_prop = vevent["DTSTART"]
        value = getattr(start_prop, "dt", None)
        day = value.date() if isinstance(value, datetime) else value
        if not isinstance(day, date):
            raise RefusedInput("bad_dtstart", repr(value))
        if isinstance(value, datetime) and self.utc_is_local and _written_in_utc(start_prop):
            value = value.replace(tzinfo=None)  # the feed's "Z" is a lie: the wall clock in tz
        if teams is None or not self.rule.is_home(teams.home, location):
            self._listed(reader, value, start_prop)
            return
        competition = teams.competition or _categories(vevent.get("CATEGORIES"))
        season = season_of(_local_day(value, self.local_zone))
        uid = _clean(str(vevent.get("UID", "")))
        key = uid or pairing_key(teams.home, teams.away, competition, season)
        pairing = None if uid else key
        local_day = _local_day(value, self.local_zone)
        if not isinstance(value, datetime):
            note = reader.note(Note(PENDING, label, "time_not_fixed", "a whole-day event: the time is not fixed yet",
                                    key))
            reader.games.append(_Game(key, label, pairing, (local_day, _PENDING_MINUTE), None, (note,)))
            return
        when = _ical_epoch(value, start_prop.params.get("TZID"), self.local_zone)
        reader.kickoffs.append(when.epoch)
        notes: tuple[int, ...] = ()
        if when.shifted:
            wall = value.replace(tzinfo=None)
            notes = (reader.note(_shifted_note(label, when, wall.date(), (wall.hour, wall.minute),
                                               getattr(value.tzinfo, "key", self.tz), key)),)
        status = CANCELLED if str(vevent.get("STATUS", "")).upper() == "CANCELLED" else SCHEDULED
        event = Event(key=key, kind=GAME, title=f"{teams.home} - {teams.away}", start=when.epoch, status=status,
                      home=teams.home, away=teams.away, competition=competition, season=season,
                      location=location, source=self.source)
        local = datetime.fromtimestamp(when.epoch, self.local_zone)
        minute = local.hour * 60 + local.minute
        reader.games.append(_Game(key, label, pairing, (local_day, minute), event, notes))

    def _listed(self, reader: _Reader, value: date | datetime, start_prop: Any) -> None:
        """Another club's game still tells how far the feed reaches."""
        if isinstance(value, datetime):
            try:
                reader.kickoffs.append(_ical_epoch(value, start_prop.params.get("TZID"), self.local_zone).epoch)
            except RefusedInput:
                pass  # its time does not matter to the club


def _written_in_utc(prop: Any) -> bool:
    """Whether the property was written as a UTC time (``...T183000Z``), not with a TZID or floating."""
    if prop.params.get("TZID"):
        return False
    try:
        return prop.to_ical().strip().upper().endswith(b"Z")
    except (AttributeError, ValueError):
        return False


def _local_day(value: date | datetime, where: ZoneInfo) -> date:
    if isinstance(value, datetime):
        return (value.astimezone(where) if value.tzinfo else value).date()
    return value


def _ical_epoch(value: datetime, tzid: str | None, where: ZoneInfo) -> LocalTime:
    if value.tzinfo is not None:
        return aware_epoch(value)  # a zoneinfo zone by the one rule; UTC or the feed's own VTIMEZONE as is
    if tzid:
        # icalendar leaves a time naive when it knows neither the TZID nor a VTIMEZONE for it
        try:
            where = ZoneInfo(str(tzid))
        except (ValueError, OSError, LookupError):
            raise RefusedInput("unknown_tzid", str(tzid)[:60]) from None
    return aware_epoch(value.replace(tzinfo=where))


def _categories(prop: Any) -> str:
    if prop is None:
        return ""
    props = prop if isinstance(prop, list) else [prop]
    names: list[str] = []
    for p in props:
        cats = getattr(p, "cats", None)
        names.extend(str(c) for c in cats) if cats is not None else names.append(str(p))
    return _clean(", ".join(names))


