"""Reconciliation: what changes in the store after a scrape of the fixtures source.

A pure function over the stored events and the scraped games (no store, no clock:
``now`` is passed in). Rules, in one place:

- Games are matched by :attr:`Event.key`. Only stored *games* (of ``source`` when
  given) take part; custom events are never touched. Games keyed by their pairing
  (:func:`~system.decisions.events.pairing_of`: a source without ids) are matched within
  their pairing by date instead (:func:`~system.decisions.meetings.match_meetings`:
  nearest pairs first, so a moved meeting keeps its key, alerts and snoozes), and no game
  of a pairing with a pending game is cancelled.
- ``window`` (a feed's first and last listed kickoff): only stored games inside it
  count as upcoming for the ``dropped`` guard or can be cancelled by their absence; a
  rolling feed no longer lists the games that rolled out of it (past ones, or ones
  beyond its reach). A page covers the whole season (``window=None``).
- A scraped game not stored is *added*; a stored game whose kickoff moved is
  *rescheduled* ``(old, new)`` (alert ids do not contain the time, so alerts and
  snoozes follow the game); a stored game whose title, teams, competition or
  location changed is *updated* ``(old, new)``, and :func:`changed_details` names what
  changed (the scraper traces it, ``hilsim fixtures check`` shows it).
- A scheduled game in the future that the source no longer lists, or lists as
  postponed, is *cancelled*; a cancelled game the source lists again is *reinstated*
  (with the source's kickoff). Past games (kickoff at or before ``now``) are never
  cancelled. A game whose time the source has not fixed yet (``pending``) is left alone.
- Safety first: a source that is empty (``empty``), lists a key twice
  (``duplicate_key``), suddenly lists far fewer upcoming home games than stored
  (``dropped``: fewer than ``min_ratio`` of them, once at least ``min_upcoming`` are
  stored) or would cancel more than ``max_cancelled`` games at once
  (``too_many_cancelled``) changes nothing and sets ``suspicious`` to
  ``"<code>: <detail>"``. A source that failed to parse is :meth:`Reconciliation.refused`
  by the caller. The price: the cancellation of the very last upcoming game is held
  back (and reported every scrape) until someone looks; an alert too many is the safe
  failure here.
- A scraped game whose key belongs to a stored custom event (or to another source's
  game) is ignored rather than allowed to overwrite it.

Every list is sorted by (kickoff, key), so the result does not depend on the order of
either input. :func:`apply_reconciliation` is the reference for what a store does with
a result; reconciling the same scrape again after applying it yields no change.

For example::

    >>> from system.decisions.events import Event, GAME
    >>> stored = [Event("g1", GAME, "KAA Gent - Club Brugge", start=2000.0)]
    >>> scraped = [Event("g1", GAME, "KAA Gent - Club Brugge", start=2600.0)]
    >>> r = reconcile(stored, scraped, now=1000.0)
    >>> [(old.start, new.start) for old, new in r.rescheduled], r.suspicious
    ([(2000.0, 2600.0)], None)
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Collection, Sequence

from system.decisions.events import CANCELLED, DETAILS, GAME, SCHEDULED, Event, pairing_of
from system.decisions.meetings import match_meetings


@dataclass(frozen=True)
class Reconciliation:
    """The changes one scrape asks for; all empty when ``suspicious`` names a reason."""

    added: tuple[Event, ...] = ()
    rescheduled: tuple[tuple[Event, Event], ...] = ()
    cancelled: tuple[Event, ...] = ()
    reinstated: tuple[Event, ...] = ()
    updated: tuple[tuple[Event, Event], ...] = ()
    suspicious: str | None = None

    @classmethod
    def refused(cls, reason: str) -> "Reconciliation":
        """The result for a source that could not be read at all: no change, suspicious."""
        return cls(suspicious=reason)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.rescheduled or self.cancelled or self.reinstated or self.updated)


def changed_details(old: Event, new: Event) -> tuple[str, ...]:
    """The names of the details (:data:`~system.decisions.events.DETAILS`) that differ between ``old`` and
    ``new``, in name order; empty when the update rule sees no change.

    For example::

        >>> from system.decisions.events import Event, GAME
        >>> old = Event("g1", GAME, "KAA Gent - Club Brugge", start=2000.0, location="Ghelamco Arena")
        >>> changed_details(old, Event("g1", GAME, "Gent - Brugge", start=2000.0, location="Planet Group Arena"))
        ('location', 'title')
    """
    return tuple(sorted(name for name in DETAILS if getattr(old, name) != getattr(new, name)))


def _upcoming(event: Event, now: float) -> bool:
    return event.status == SCHEDULED and event.start > now  # past games are never cancelled


def _order(event: Event) -> tuple[float, str]:
    return (event.start, event.key)


def _in_view(event: Event, window: tuple[float, float] | None) -> bool:
    return window is None or window[0] <= event.start <= window[1]


def _pairing_of_key(key: str) -> str:
    base, sep, ordinal = key.rpartition("#")
    return base if sep and ordinal.isdigit() else key


def reconcile(stored: Sequence[Event], scraped: Sequence[Event], *, now: float,
              pending: Collection[str] = (), source: str | None = None,
              min_ratio: float = 0.5, min_upcoming: int = 1,
              max_cancelled: int | None = 3, window: tuple[float, float] | None = None) -> Reconciliation:
    """Compare what is stored with what the source lists now; see the module docstring.

    ``min_ratio=0`` and ``max_cancelled=None`` switch those two guards off.
    """
    games = [e for e in stored if e.kind == GAME and (source is None or e.source == source)]
    by_key = {e.key: e for e in games}
    foreign = {e.key for e in stored} - set(by_key)
    listed = [e for e in scraped if e.kind == GAME and e.key not in foreign]
    pending = [k for k in pending if k not in foreign]
    keys = [e.key for e in listed]
    if not listed and not pending:
        return Reconciliation.refused("empty: the source lists no home games")
    if len(set(keys)) != len(keys) or set(keys) & set(pending):
        return Reconciliation.refused("duplicate_key: the source lists a game twice")
    listed = match_meetings(games, listed, pending, {e.key for e in stored})
    keys = [e.key for e in listed]
    held = {_pairing_of_key(k) for k in pending}  # pairings with a game whose time is not fixed yet
    games_in_view = [e for e in games if _in_view(e, window)]
    stored_upcoming = sum(1 for e in games_in_view if _upcoming(e, now))
    # a game listed without a fixed time yet still counts as listed
    listed_upcoming = sum(1 for e in listed if _upcoming(e, now)) + len(set(pending))
    if stored_upcoming >= min_upcoming and listed_upcoming < min_ratio * stored_upcoming:
        return Reconciliation.refused(
            f"dropped: {listed_upcoming} upcoming home games listed, {stored_upcoming} stored")

    added, moved, cancelled, back, updated = _compare(listed, by_key, now)
    seen = set(keys) | set(pending)
    for old in games_in_view:
        if old.key not in seen and _upcoming(old, now) and pairing_of(old) not in held:
            cancelled.append(replace(old, status=CANCELLED))
    if max_cancelled is not None and len(cancelled) > max_cancelled:
        return Reconciliation.refused(
            f"too_many_cancelled: {len(cancelled)} games would be cancelled at once (at most {max_cancelled})")
    return Reconciliation(
        added=tuple(sorted(added, key=_order)),
        rescheduled=tuple(sorted(moved, key=lambda p: _order(p[1]))),
        cancelled=tuple(sorted(cancelled, key=_order)),
        reinstated=tuple(sorted(back, key=_order)),
        updated=tuple(sorted(updated, key=lambda p: _order(p[1]))),
    )


def _compare(listed: Sequence[Event], by_key: dict[str, Event], now: float) -> tuple[
        list[Event], list[tuple[Event, Event]], list[Event], list[Event], list[tuple[Event, Event]]]:
    """Each listed game against its stored self: added, rescheduled, cancelled, reinstated, updated."""
    added: list[Event] = []
    moved: list[tuple[Event, Event]] = []
    cancelled: list[Event] = []
    back: list[Event] = []
    updated: list[tuple[Event, Event]] = []
    for new in listed:
        old = by_key.get(new.key)
        if old is None:
            if new.status == SCHEDULED:
                added.append(new)
        elif old.status == CANCELLED:
            if new.status == SCHEDULED:
                back.append(new)
        elif new.status == CANCELLED:
            if old.start > now:
                cancelled.append(replace(old, status=CANCELLED))
        elif new.start != old.start:
            moved.append((old, new))
        elif changed_details(old, new):
            updated.append((old, new))
    return added, moved, cancelled, back, updated


def apply_reconciliation(stored: Sequence[Event], result: Reconciliation) -> list[Event]:
    """The stored events after ``result`` (what the store does, as plain data), sorted by (start, key)."""
    by_key = {e.key: e for e in stored}
    for event in result.added:
        by_key[event.key] = event
    for _old, new in result.rescheduled + result.updated:
        by_key[new.key] = new
    for event in result.cancelled:
        by_key[event.key] = replace(by_key.get(event.key, event), status=CANCELLED)
    for event in result.reinstated:
        by_key[event.key] = replace(event, status=SCHEDULED)
    return sorted(by_key.values(), key=_order)
