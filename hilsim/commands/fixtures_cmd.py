"""``hilsim fixtures check``: what the controller would read from a club's page or feed, and what it would do.

Exit codes: 0 the source reads, 1 it is refused (a row the reader refuses, no home
games, a fetch that fails, or a reconciliation refused as suspicious), 2 a bad option
or selectors file. A row that repeats a game (``duplicate_row``) is listed as refused
and exits 1, but the controller drops only that row, so ``--store`` reconciles the rest.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

import click

from hilsim.commands.user_errors import UsageProblem, user_errors
from system.decisions.events import CANCELLED, Event
from system.decisions.fixtures import DEFAULT_CLUB, DUPLICATE_ROW, PENDING, REFUSED, SHIFTED, Fixtures
from system.decisions.localtime import DEFAULT_TZ, format_local, zone
from system.decisions.page_text import ICAL, decode_page, source_kind
from system.decisions.reconcile import Reconciliation, changed_details, reconcile
from system.decisions.selectors import SelectorsFile, format_selectors_file, parse_selectors_file
from system.decisions.suggest import suggest_selectors
from system.errors import ConfigError, RefusedInput
from system.services.scraper import AUTO, Source, read_source


def load_selectors_file(path: str | Path) -> SelectorsFile:
    """Read and validate a selectors file (ConfigError with the file and line on any mistake)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the selectors file ({getattr(exc, 'strerror', None) or exc})",
                          source=str(path)) from None
    return parse_selectors_file(text, str(path))


def read_source_text(source: str) -> str:
    """The text of ``source``: a URL fetched over HTTP(S), or a file; charset by header, meta, detection.
    A fetch that fails is a RefusedInput (exit 1); a missing file a ConfigError (exit 2)."""
    if source.startswith(("http://", "https://")):
        import httpx

        try:
            response = httpx.get(source, follow_redirects=True, timeout=30.0,
                                 headers={"accept": "text/html, text/calendar;q=0.9, */*;q=0.5"})
        except httpx.HTTPError as exc:
            raise RefusedInput("unreachable", f"{type(exc).__name__}: {exc}") from None
        if response.status_code != 200:
            raise RefusedInput(f"http_{response.status_code}", source)
        return decode_page(response.content, response.headers.get("content-type"))
    try:
        return decode_page(Path(source).read_bytes())
    except OSError as exc:
        raise ConfigError(f"cannot read it ({exc.strerror})", source=source) from None


def parse_at(text: str | None) -> float:
    """``--at``: an ISO 8601 instant with its offset (``2025-09-01T10:00:00+02:00``); default now."""
    if text is None:
        return time.time()
    try:
        stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        stamp = None
    if stamp is None or stamp.tzinfo is None:
        raise ConfigError("write an instant with its offset, like 2025-09-01T10:00:00+02:00", source="--at")
    return stamp.timestamp()


def game_line(event: Event, tz: str) -> str:
    """``YYYY-MM-DD HH:MM (zone)  home - away  [competition]``."""
    return f"{format_local(event.start, tz)} ({tz})  {event.home} - {event.away}  [{event.competition}]"


def _show_fixtures(fixtures: Fixtures, tz: str) -> None:
    games = [e for e in fixtures.events if e.status != CANCELLED]
    postponed = [e for e in fixtures.events if e.status == CANCELLED]
    for event in games:
        click.echo(game_line(event, tz))
    count = f"{len(games)} home game{'s' if len(games) != 1 else ''}"
    click.echo(count + (f", {len(postponed)} postponed" if postponed else ""))
    for event in postponed:  # no time on the page: the day only
        click.echo(f"postponed: {format_local(event.start, tz)[:10]} ({tz})  {event.home} - {event.away}  "
                   f"[{event.competition}]")
    for status in (PENDING, SHIFTED, REFUSED):
        for note in fixtures.notes:
            if note.status == status:
                reason = note.detail if status != REFUSED else f"{note.reason}: {note.detail}"
                click.echo(f"{status}: {note.row}: {reason}")


def _show_reconciliation(result: Reconciliation, stored: int, db: str, tz: str) -> None:
    click.echo(f"against {db} ({stored} games stored), the controller would:")
    if result.suspicious:
        click.echo(f"  refuse the source as suspicious: {result.suspicious}")
        return
    rows = [("add", e, "") for e in result.added]
    rows += [("reschedule", new, f"  (was {format_local(old.start, tz)})") for old, new in result.rescheduled]
    rows += [("cancel", e, "") for e in result.cancelled]
    rows += [("reinstate", e, "") for e in result.reinstated]
    rows += [("update", new, "  (" + ", ".join(changed_details(old, new)) + ")") for old, new in result.updated]
    for verb, event, extra in rows:
        click.echo(f"  {verb:<10}  {game_line(event, tz)}{extra}")
    if not rows:
        click.echo("  change nothing")


@click.group(short_help="What the controller reads from a club's page or feed.")
def fixtures() -> None:
    """Check what the controller reads from a club's fixtures page or feed."""


@fixtures.command(short_help="Show the games a page or feed gives, and what the controller would do.")
@click.argument("source")
@click.option("--selectors", "selectors_path", default=None, metavar="FILE",
              help="A selectors file (TOML) for the page [default: the sample page's selectors].")
@click.option("--club", multiple=True, metavar="NAME",
              help="A name the club goes by (repeat for more) [default: the selectors file's, else KAA Gent].")
@click.option("--store", "db", default=None, metavar="DB",
              help="A controller store: also show what reconciling with it would do (it is not changed).")
@click.option("--suggest", is_flag=True, help="Propose a selectors file for the page (printed as TOML).")
@click.option("--tz", default=DEFAULT_TZ, show_default=True, help="The club's time zone.")
@click.option("--source-name", default="club-site", show_default=True,
              help="The source name the controller stores games under (for --store).")
@click.option("--at", "at", default=None, metavar="TIME",
              help="Reconcile as of this instant (ISO 8601 with offset) instead of now (for --store).")
def check(source: str, selectors_path: str | None, club: tuple[str, ...], db: str | None, suggest: bool, tz: str,
          source_name: str, at: str | None) -> None:
    """Read SOURCE (a URL or a file, HTML or iCalendar, told apart by content) as the controller would.

    Prints the home games it reads, one per line, then their count, then pending,
    shifted and refused rows with their reasons. With --store, also what the
    controller would add, reschedule, cancel or refuse against that store, without
    changing it. Exit 0 when the source reads, 1 when it is refused, 2 for a bad
    option or selectors file.
    """
    with user_errors():
        try:
            zone(tz)
        except RefusedInput:
            raise ConfigError(f"{tz!r} is not a time zone name like Europe/Brussels", source="--tz") from None
        config = load_selectors_file(selectors_path) if selectors_path else SelectorsFile(Source("").selectors)
        now = parse_at(at)
        names = club or config.club or (DEFAULT_CLUB,)
        stored = _stored_events(db) if db is not None else None  # a bad --store is found before any output
        try:
            text = read_source_text(source)
        except RefusedInput as refused:
            click.echo(f"refused: {refused}", err=True)
            raise SystemExit(1) from None
        if suggest:
            _suggest(text, names, config)
            return
        src = Source.from_file(source, config, format=AUTO, club=tuple(names), tz=tz, name=source_name)
        try:
            read = read_source(text, src, strict=False)
        except RefusedInput as refused:
            click.echo(f"refused: {refused}")
            raise SystemExit(1) from None
        _show_fixtures(read, tz)
        status = 1 if read.refused or not (read.events or read.pending) else 0
        if not read.events and not read.pending and not read.refused:
            click.echo(f"refused: empty: the {'feed' if source_kind(text) == ICAL else 'page'} lists no home games "
                       f"of {' / '.join(names)}")
        if db is not None and stored is not None:
            # the controller drops a repeated row and reads the rest; any other refused row refuses the source
            fatal = [n for n in read.refused if n.reason != DUPLICATE_ROW]
            if fatal:
                result = Reconciliation.refused(f"refused:{fatal[0].reason}: {fatal[0].detail}")
            else:
                result = reconcile(stored, read.events, now=now, pending=read.pending, source=source_name,
                                   window=read.window)
            games = sum(1 for e in stored if e.kind == "game" and e.source == source_name)
            _show_reconciliation(result, games, db, tz)
            if result.suspicious:
                status = 1
    raise SystemExit(status)


def _stored_events(db: str) -> list[Event]:
    from system.adapters.controller_store import Store

    store = Store(db, readonly=True)
    try:
        return store.stored_events()
    finally:
        store.close()


def _suggest(text: str, names: tuple[str, ...], config: SelectorsFile) -> None:
    if source_kind(text) == ICAL:
        raise UsageProblem("--suggest: this is an iCalendar feed; it needs no selectors")
    try:
        found = suggest_selectors(text, names)
    except RefusedInput as refused:
        click.echo(f"no suggestion: {refused.detail or refused.reason}", err=True)
        raise SystemExit(1) from None
    click.echo(format_selectors_file(found), nl=False)


@fixtures.command(short_help="Write a demo page and feed whose games start tomorrow.")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False), help="Directory to write into.")
def demo(out: str) -> None:
    """Write OUT/fixtures.html and OUT/fixtures.ics: the shipped 2025-26 season moved so that its first game
    is tomorrow, kickoffs at their local times. Point a controller at either (deploy/one-host.toml does) and its
    first run plans alerts."""
    from datetime import date

    from hilsim.demo_fixtures import write_demo

    page, feed, count = write_demo(Path(out), date.today())
    click.echo(f"wrote {page} and {feed}: {count} games from tomorrow on")
