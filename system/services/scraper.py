"""The scraper service: every hour, fetch the club's fixtures, reconcile them with the store.

A thin loop around pure parts (:mod:`system.decisions.fixtures` reads the text,
:mod:`system.decisions.reconcile` decides) and two ports: an ``httpx.AsyncClient`` (live: the
internet; sim: :class:`sim.models.club_site.SiteTransport`) and a :class:`FixturesStore`, which
the store satisfies (``stored_events()`` and ``apply(reconciliation)``).

What it writes to the trace, where it happens:

- ``fixture.added``, ``fixture.rescheduled``, ``fixture.cancelled``,
  ``fixture.reinstated``, ``fixture.updated``: after the store applied a change;
- ``source.suspicious``: the source was refused (``reason="refused:<code>"``) or looked
  unhealthy (``empty``, ``dropped``, ``duplicate_key``, ``too_many_cancelled``); nothing changed;
- ``scrape.failed``: no answer after the retries (``reason`` is ``unreachable``,
  ``timeout``, ``http_<status>`` or ``transport``); nothing changed.

A feed is reconciled as the window it covers (:attr:`Fixtures.window`): a rolling feed
never cancels the games that rolled out of it.

Fetch errors are retried with capped, jittered exponential backoff inside the hour;
the next scrape keeps the hourly cadence whatever happened. Counters are in
:attr:`Scraper.stats` and go to an optional ``count(name, n)`` callable:
``scrapes``, ``scrape_failed``, ``input_refused``, ``source_suspicious``.
"""

from __future__ import annotations

import inspect
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import httpx

from firmware.backoff import next_backoff
from system.errors import BackendError, ConfigError, RefusedInput
from system.decisions.fixtures import DEFAULT_CLUB, DEFAULT_TZ, Fixtures, Selectors, read_fixtures_html, read_fixtures_ical
from system.decisions.localtime import to_local, zone
from system.decisions.page_text import decode_page, source_kind
from system.decisions.selectors import SelectorsFile
from system.decisions.reconcile import Reconciliation, changed_details, reconcile
from system.ports import FixturesStore

HTML = "html"
ICAL = "ical"
AUTO = "auto"  # told apart by content (system.decisions.page_text.source_kind)


@dataclass(frozen=True)
class Source:
    """Where the fixtures come from and how to read them.

    ``name`` becomes :attr:`Event.source` of the games it lists, so two sources never
    cancel each other's games. ``club`` are the names the club goes by, ``ground`` its
    home ground(s); ``season`` dates cells written without a year; ``utc_is_local``
    reads a feed's ``Z`` times as local wall-clock times (see
    :mod:`system.decisions.fixtures`); ``summary`` is the shape of a feed's summaries
    when the club's names leave it ambiguous (:mod:`system.decisions.summary`).
    :meth:`from_file` takes all but the URL from a selectors file.
    """

    url: str
    format: str = HTML
    selectors: Selectors = field(default_factory=Selectors)
    club: str | tuple[str, ...] = DEFAULT_CLUB
    tz: str = DEFAULT_TZ
    name: str = "club-site"
    ground: tuple[str, ...] = ()
    season: str | None = None
    utc_is_local: bool = False
    summary: str | None = None

    def __post_init__(self) -> None:
        if self.format not in (HTML, ICAL, AUTO):
            raise ConfigError(f"{self.format!r} is not {HTML!r}, {ICAL!r} or {AUTO!r}", source="format")
        try:
            zone(self.tz)
        except RefusedInput:
            raise ConfigError(f"{self.tz!r} is not a time zone name like Europe/Brussels", source="tz") from None

    @classmethod
    def from_file(cls, url: str, config: SelectorsFile, *, format: str = HTML,
                  club: str | tuple[str, ...] | None = None, **options: Any) -> "Source":
        """A source read as a selectors file says; ``club`` (e.g. from ``--club``) wins over the file's."""
        names = club or config.club or DEFAULT_CLUB
        return cls(url, format=format, selectors=config.selectors, club=names, ground=config.ground,
                   season=config.season, utc_is_local=config.utc_is_local, summary=config.summary, **options)


class FetchFailed(BackendError):
    """The source could not be fetched; ``reason`` is a short stable code (``http_500``, ``timeout``, ...)."""

    def __init__(self, reason: str, detail: str = ""):
        self.reason = reason
        super().__init__(f"{reason}: {detail}" if detail else reason)


async def fetch_text(client: httpx.AsyncClient, url: str) -> str:
    """GET ``url`` and return its text (charset by :func:`~system.decisions.page_text.decode_page`: header,
    meta, detection); every failure becomes :class:`FetchFailed`."""
    try:
        response = await client.get(url, headers={"accept": "text/html, text/calendar;q=0.9, */*;q=0.5"})
    except httpx.TimeoutException as exc:
        raise FetchFailed("timeout", str(exc)) from exc
    except (httpx.ConnectError, httpx.NetworkError) as exc:
        raise FetchFailed("unreachable", str(exc)) from exc
    except httpx.HTTPError as exc:
        raise FetchFailed("transport", f"{type(exc).__name__}: {exc}") from exc
    if response.status_code != 200:
        raise FetchFailed(f"http_{response.status_code}", url)
    return decode_page(response.content, response.headers.get("content-type"))


def read_source(text: str, source: Source, *, strict: bool = True) -> Fixtures:
    """Parse fetched text as ``source`` says (pure; raises RefusedInput when garbled; ``strict=False``
    lists refused rows instead, for ``hilsim fixtures check``)."""
    kind = source_kind(text) if source.format == AUTO else source.format
    if kind == ICAL:
        return read_fixtures_ical(text, tz=source.tz, club=source.club, source=source.name, ground=source.ground,
                                  utc_is_local=source.utc_is_local, summary=source.summary, strict=strict)
    return read_fixtures_html(text, source.selectors, tz=source.tz, club=source.club, source=source.name,
                              ground=source.ground, season=source.season, strict=strict)


class Scraper:
    """Hourly scrape, reconcile, apply; see the module docstring for what it traces and counts."""

    def __init__(self, rt, client: httpx.AsyncClient, source: Source, port: FixturesStore, *,
                 every: float = 3600.0, retries: int = 4, backoff_base: float = 60.0, backoff_cap: float = 900.0,
                 guards: Mapping[str, Any] | None = None, count: Callable[[str, int], None] | None = None):
        self.rt = rt
        self.client = client
        self.source = source
        self.port = port
        self.every = every
        self.retries = retries
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.guards = dict(guards or {})  # min_ratio, min_upcoming, max_cancelled for reconcile()
        self.stats: Counter[str] = Counter()
        self._count_hook = count
        self._rng = rt.rng(f"scraper/{source.name}/backoff")
        self._last: tuple[str, Fixtures | RefusedInput] | None = None  # the last text read, and what it said

    def _count(self, name: str, n: int = 1) -> None:
        self.stats[name] += n
        if self._count_hook is not None:
            self._count_hook(name, n)

    async def run(self) -> None:
        """Scrape now, then every ``every`` seconds on a fixed cadence, forever."""
        first = self.rt.now()
        n = 0
        while True:
            try:
                await self.scrape_once(deadline=first + (n + 1) * self.every)
            except Exception as exc:  # the store could not take the changes (a full disk): the next scrape
                self._count("scrape_failed")  # finds them again, as nothing of them was committed
                self.rt.trace("scrape.failed", url=self.source.url, reason="store", detail=repr(exc)[:120])
            n += 1
            while first + n * self.every <= self.rt.now():
                n += 1  # a scrape that overran its slot skips to the next one
            await self.rt.sleep(first + n * self.every - self.rt.now())

    async def scrape_once(self, deadline: float | None = None) -> Reconciliation | None:
        """One scrape: fetch (with retries until ``deadline``), read, reconcile, apply.

        Returns the reconciliation (suspicious ones included), or ``None`` when nothing
        could be fetched.
        """
        self._count("scrapes")
        text = await self._fetch(deadline)
        if text is None:
            return None
        try:
            fixtures = self._read(text)
        except RefusedInput as refused:
            self._count("input_refused")
            result = Reconciliation.refused(f"refused:{refused.reason}: {refused.detail}")
        else:
            result = reconcile(self.port.stored_events(), fixtures.events, now=self.rt.now(),
                               pending=fixtures.pending, source=self.source.name, window=fixtures.window,
                               **self.guards)
        if result.suspicious:
            self._count("source_suspicious")
            code, _, detail = result.suspicious.partition(": ")
            self.rt.trace("source.suspicious", url=self.source.url, reason=code, detail=detail)
            return result
        if result.changed:
            applied = self.port.apply(result)
            if inspect.isawaitable(applied):
                await applied
            self._trace_changes(result)
        return result

    def _read(self, text: str) -> Fixtures:
        # The page rarely changes between hourly scrapes; parsing it is the costly part
        # (about 10 ms), so an unchanged text is not parsed again. Still reconciled: time moved.
        if self._last is None or self._last[0] != text:
            try:
                self._last = (text, read_source(text, self.source))
            except RefusedInput as refused:
                self._last = (text, refused)
        said = self._last[1]
        if isinstance(said, RefusedInput):
            raise said
        return said

    async def _fetch(self, deadline: float | None) -> str | None:
        attempt = 0
        while True:
            attempt += 1
            try:
                return await fetch_text(self.client, self.source.url)
            except FetchFailed as failed:
                delay = next_backoff(attempt, self._rng, base=self.backoff_base, cap=self.backoff_cap)
                out_of_time = deadline is not None and self.rt.now() + delay >= deadline
                if attempt > self.retries or out_of_time:
                    self._count("scrape_failed")
                    self.rt.trace("scrape.failed", url=self.source.url, reason=failed.reason, attempts=attempt)
                    return None
            await self.rt.sleep(delay)

    def _kickoff(self, start: float) -> str:
        return to_local(start, self.source.tz).isoformat(timespec="minutes")

    def _trace_changes(self, r: Reconciliation) -> None:
        for e in r.added:
            self.rt.trace("fixture.added", key=e.key, title=e.title, start=e.start, kickoff=self._kickoff(e.start))
        for old, new in r.rescheduled:
            self.rt.trace("fixture.rescheduled", key=new.key, title=new.title, old=old.start, new=new.start,
                          kickoff=self._kickoff(new.start))
        for e in r.cancelled:
            self.rt.trace("fixture.cancelled", key=e.key, title=e.title, start=e.start)
        for e in r.reinstated:
            self.rt.trace("fixture.reinstated", key=e.key, title=e.title, start=e.start, kickoff=self._kickoff(e.start))
        for old, new in r.updated:
            self.rt.trace("fixture.updated", key=new.key, title=new.title, fields=list(changed_details(old, new)))
