"""Plain data shared by the match-day controller: events (games, custom) and their alerts.

Times are epoch seconds (UTC); conversion to and from local wall-clock time
(Europe/Brussels by default) happens at the edges (parsers, dashboard).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

GAME = "game"
CUSTOM = "custom"
SCHEDULED = "scheduled"
CANCELLED = "cancelled"

# The details of an event a source may change without moving it: a change to any of these is an
# update (reconcile), traced with the names of the fields that changed (scraper).
DETAILS = ("title", "home", "away", "competition", "location")


@dataclass(frozen=True)
class Event:
    """Something alerts attach to: a home game from a fixtures source, or a custom event.

    ``key`` is stable across scrapes: the source's id when it has one, else
    ``home|away|competition|season`` (:func:`pairing_key`, with ``#2``, ``#3`` for the
    second and third meeting of the same pairing); custom events use ``custom:<id>``.
    """

    key: str
    kind: str
    title: str
    start: float
    status: str = SCHEDULED
    home: str = ""
    away: str = ""
    competition: str = ""
    season: str = ""
    location: str = ""
    source: str = ""


@dataclass(frozen=True)
class AlertRule:
    """Light on for ``duration`` seconds, ``before`` seconds before the event starts."""

    before: float
    duration: float = 600.0
    origin: str = "policy"  # "policy" (from the kind's preset) or "extra" (added by a user)


@dataclass(frozen=True)
class Alert:
    """One concrete alert window; ``id`` stays the same when the event is rescheduled."""

    id: str
    event_key: str
    at: float
    duration: float
    origin: str = "policy"

    @property
    def until(self) -> float:
        return self.at + self.duration


# -- keys of games on a source without ids ---------------------------------------------------

_ORDINAL = re.compile(r"#([2-9]|[1-9]\d+)$")


def pairing_key(home: str, away: str, competition: str, season: str, ordinal: int = 1) -> str:
    """The key of a game on a source without ids: ``home|away|competition|season``, and ``#n`` for the
    n-th meeting of that pairing in the season (by date; a play-off, a replay). The first meeting
    has no suffix, so a season with one meeting per pairing keeps the keys it always had."""
    return with_ordinal("|".join((" ".join(home.split()), " ".join(away.split()), " ".join(competition.split()),
                                  season)), ordinal)


def with_ordinal(pairing: str, ordinal: int) -> str:
    """The key of the ``ordinal``-th game of ``pairing`` (a key without ordinal): ``#n`` from the second."""
    return pairing if ordinal == 1 else f"{pairing}#{ordinal}"


def pairing_of(event: Event) -> str | None:
    """The pairing (:func:`pairing_key` without its ordinal) an event's key was made from, or ``None`` when
    its key is a source's own id (a feed's UID) or a custom event's: only those games are matched by date."""
    base = pairing_key(event.home, event.away, event.competition, event.season)
    if event.key == base or (event.key.startswith(base) and _ORDINAL.fullmatch(event.key[len(base):])):
        return base
    return None
