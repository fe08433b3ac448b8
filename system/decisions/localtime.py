"""Local wall-clock time: the club's zone, the one rule for DST edges, and HH:MM as people write it.

Every conversion between a local time written by a person (a fixtures page, a
scenario, a console command) and epoch seconds goes through this module. Rules, in
one place:

- The zone is Europe/Brussels (:data:`DEFAULT_TZ`) unless a caller names another
  IANA zone; zones come from ``zoneinfo``.
- A local time that happens twice (the autumn change: 02:30 on the last Sunday of
  October) is its *first* occurrence, summer time (02:30 CEST = 00:30 UTC).
- A local time that never happens (inside the spring-forward gap: 02:30 on the last
  Sunday of March) is read with the offset in force just before the gap, which lands
  as far past the gap as it was into it (02:30 -> 03:30 CEST = 01:30 UTC). It is
  never refused and never dropped: a kickoff written in the gap still gets its
  alerts, and a scheduler time in the gap ("snooze until 02:30") still fires, one
  hour later on the clock. :func:`resolve` says when this happened, so a parser can
  tell the user (``fixtures check`` prints it).
- Both rules are PEP 495's ``fold=0`` reading, which is what ``datetime`` with
  ``zoneinfo`` does by default; the module exists so there is one place that says so.
- ``HH:MM`` is written ``20:30``, ``20u30`` (Dutch), ``20h30`` (French) or ``20.30``;
  ``20u`` and ``20h`` mean the full hour. Anything else is refused (``bad_time``).

For example::

    >>> from datetime import date
    >>> local_epoch(date(2026, 3, 29), *parse_hhmm("2u30")) == local_epoch(date(2026, 3, 29), 3, 30)
    True
    >>> resolve(date(2026, 3, 29), 2, 30).shifted
    True
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time as clock_time, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from system.errors import RefusedInput

DEFAULT_TZ = "Europe/Brussels"

_HHMM = re.compile(r"^\s*(\d{1,2})\s*(?:[:.]\s*(\d{2})|[uUhH]\s*(\d{2})?)\s*$")


@dataclass(frozen=True)
class LocalTime:
    """A wall-clock time resolved to an instant: ``epoch`` seconds; ``shifted`` when the time fell in a
    spring-forward gap (read past it), ``ambiguous`` when it happens twice (the first was taken)."""

    epoch: float
    shifted: bool = False
    ambiguous: bool = False


def zone(tz: str = DEFAULT_TZ) -> ZoneInfo:
    """The IANA zone ``tz``; refuses (``unknown_tz``) a name zoneinfo does not know."""
    try:
        return ZoneInfo(str(tz))
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise RefusedInput("unknown_tz", str(tz)[:60]) from None


def parse_hhmm(text: str) -> tuple[int, int]:
    """``"20:30"``, ``"20u30"``, ``"20h30"``, ``"20.30"`` or ``"20u"`` as (hour, minute); refuses anything else."""
    found = _HHMM.match(text)
    if found:
        hour, minute = int(found[1]), int(found[2] or found[3] or 0)
        if hour < 24 and minute < 60:
            return hour, minute
    raise RefusedInput("bad_time", f"{text[:60]!r} is not a time like 20:30 or 20u30")


def resolve(day: date, hour: int, minute: int, tz: str = DEFAULT_TZ) -> LocalTime:
    """The instant the clock in ``tz`` shows ``hour:minute`` on ``day``, by the rules above."""
    return _resolve(datetime.combine(day, clock_time(hour, minute)), zone(tz))


def _resolve(naive: datetime, where: ZoneInfo) -> LocalTime:
    local = naive.replace(tzinfo=where, fold=0)
    epoch = local.timestamp()
    shifted = datetime.fromtimestamp(epoch, where).replace(tzinfo=None) != naive.replace(fold=0)
    ambiguous = not shifted and local.replace(fold=1).utcoffset() != local.utcoffset()
    return LocalTime(epoch, shifted=shifted, ambiguous=ambiguous)


def local_epoch(day: date, hour: int, minute: int, tz: str = DEFAULT_TZ) -> float:
    """Epoch seconds of wall-clock ``hour:minute`` on ``day`` in ``tz`` (gap: read past it; twice: the first)."""
    return resolve(day, hour, minute, tz).epoch


def aware_epoch(local: datetime) -> LocalTime:
    """An aware ``datetime`` (a feed's TZID time) resolved by the same rules when its zone is a ``ZoneInfo``;
    any other zone (UTC, a feed's own VTIMEZONE) is taken as it says."""
    if isinstance(local.tzinfo, ZoneInfo):
        return _resolve(local.replace(tzinfo=None), local.tzinfo)
    return LocalTime(local.timestamp())


def to_local(epoch: float, tz: str = DEFAULT_TZ) -> datetime:
    """The wall-clock time in ``tz`` of an epoch instant (for display)."""
    return datetime.fromtimestamp(epoch, tz=timezone.utc).astimezone(zone(tz))


def next_local(hour: int, minute: int, now: float, tz: str = DEFAULT_TZ) -> float:
    """The first instant after ``now`` that the clock in ``tz`` shows ``hour:minute`` ("snooze until 08:00").

    A time in tonight's spring gap is read past it, so it still comes (an hour later on the clock).
    """
    today = to_local(now, tz).date()
    for offset in range(3):
        day = today + timedelta(days=offset)
        candidates = (local_epoch(day, hour, minute, tz), _second_showing(day, hour, minute, tz))
        later = [c for c in candidates if c is not None and c > now]
        if later:
            return min(later)
    raise AssertionError("unreachable: a wall-clock time recurs within two days")


def _second_showing(day: date, hour: int, minute: int, tz: str) -> float | None:
    """The second instant the clock shows ``hour:minute`` on ``day``: in the autumn night's repeated hour
    (after the clocks went back), else None."""
    where = zone(tz)
    second = datetime.combine(day, clock_time(hour, minute), tzinfo=where).replace(fold=1)
    first = second.replace(fold=0)
    if second.utcoffset() == first.utcoffset():
        return None
    shown = second.astimezone(timezone.utc).astimezone(where)
    return second.timestamp() if (shown.hour, shown.minute) == (hour, minute) and shown.fold == 1 else None


def format_local(epoch: float, tz: str = DEFAULT_TZ) -> str:
    """``YYYY-MM-DD HH:MM`` in ``tz``: how the console commands show an instant."""
    return to_local(epoch, tz).strftime("%Y-%m-%d %H:%M")
