"""Plain data shared by the match-day controller: events (games, custom) and their alerts.

Times are epoch seconds (UTC); conversion to and from local wall-clock time
(Europe/Brussels by default) happens at the edges (parsers, dashboard).
"""

from __future__ import annotations

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
    ``home|away|competition|season``; custom events use ``custom:<id>``.
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
