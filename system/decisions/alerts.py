"""Alert planning: which alert windows exist, which are lit, which are due, at a given time.

Pure functions over plain data (no store, no clock, no I/O); the scheduler is a thin
loop around :func:`plan_alerts`. Rules, in one place:

- Every *scheduled* event gets one alert per rule of its kind's policy plus its extra
  rules; cancelled events have none. Offsets are elapsed seconds before the start, so
  "4 hours before" stays 4 hours across a DST change.
- An alert's id is ``<event key>/<origin>/<before>``: it does not contain the time,
  so it survives a reschedule (snoozes and the dashboard keep referring to it), while
  the fired log is keyed by ``(id, at)`` so a moved alert fires again at its new time.
- A snooze ``[since, until)`` darkens its alert inside that interval only; snoozing
  "until the next alert" is a snooze to the end of this alert's window.
- An alert is *snoozed* at ``t`` when a snooze covers ``max(t, at)`` inside its window (``t``
  itself, or the alert's start while it is still ahead), until the latest end of those snoozes
  (:func:`snoozed_until`); an alert whose window closed is not snoozed, it is over.
- An alert is lit at ``t`` when ``at <= t < at + duration`` and it is not snoozed at ``t``
  (:func:`is_lit`). The device's light, the dashboard and the console all ask these two.
  It *fires* (once per ``(id, at)``) the first time it is lit while the controller
  runs: one whose time passed while the controller was off fires on start-up only if
  its window is still open; once its window has closed unfired it is *skipped*.

For example::

    >>> from system.decisions.events import Event, GAME
    >>> game = Event(key="g1", kind=GAME, title="KAA Gent - Club Brugge", start=36000.0)
    >>> [a.id for a in alerts_for([game], DEFAULT_POLICIES)]
    ['g1/policy/14400', 'g1/policy/12600', 'g1/policy/11700']
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Iterable, Mapping, Sequence

from system.decisions.events import CUSTOM, GAME, SCHEDULED, Alert, AlertRule, Event

DEFAULT_RULES: tuple[AlertRule, ...] = (
    AlertRule(before=4 * 3600.0, duration=600.0),
    AlertRule(before=3.5 * 3600.0, duration=600.0),
    AlertRule(before=3.25 * 3600.0, duration=600.0),
)
# read-only: a caller that changes its policies builds its own mapping (``{**DEFAULT_POLICIES, ...}``)
DEFAULT_POLICIES: Mapping[str, tuple[AlertRule, ...]] = MappingProxyType({GAME: DEFAULT_RULES, CUSTOM: DEFAULT_RULES})


@dataclass(frozen=True)
class Snooze:
    """Alert ``alert_id`` stays dark during ``[since, until)``."""

    alert_id: str
    since: float
    until: float


@dataclass(frozen=True)
class Plan:
    """What the scheduler must do at ``now``.

    ``lit``: alerts whose light is on now. ``due``: lit alerts not fired yet (fire them).
    ``skipped``: unfired alerts whose window closed (log them once; ``reason`` in
    :func:`skip_reason`). ``next_change``: the next instant after ``now`` at which any
    of these may change (``None`` when nothing is ahead).
    """

    now: float
    alerts: tuple[Alert, ...]
    lit: tuple[Alert, ...]
    due: tuple[Alert, ...]
    skipped: tuple[Alert, ...]
    next_change: float | None


def alert_id(event_key: str, origin: str, before: float) -> str:
    """The stable id of the alert ``before`` seconds ahead of event ``event_key``."""
    return f"{event_key}/{origin}/{_seconds(before)}"


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def alerts_for(events: Iterable[Event], policies: Mapping[str, Sequence[AlertRule]],
               extras: Mapping[str, Sequence[AlertRule]] | None = None) -> list[Alert]:
    """Every alert window of every scheduled event, sorted by (time, id).

    Rules with the same id (same origin and offset) are merged: the first one wins,
    so a policy listing an offset twice still gives a single alert.
    """
    extras = extras or {}
    out: dict[str, Alert] = {}
    for event in events:
        if event.status != SCHEDULED:
            continue
        rules = list(policies.get(event.kind, ()))
        rules += [r if r.origin != "policy" else AlertRule(r.before, r.duration, "extra")
                  for r in extras.get(event.key, ())]
        for rule in rules:
            ident = alert_id(event.key, rule.origin, rule.before)
            if ident not in out:
                out[ident] = Alert(ident, event.key, event.start - rule.before, rule.duration, rule.origin)
    return sorted(out.values(), key=lambda a: (a.at, a.id))


def _by_alert(snoozes: Iterable[Snooze]) -> dict[str, list[Snooze]]:
    grouped: dict[str, list[Snooze]] = {}
    for s in snoozes:
        grouped.setdefault(s.alert_id, []).append(s)
    return grouped


def snoozed_until(alert: Alert, snoozes: Sequence[Snooze], t: float) -> float | None:
    """Until when ``alert`` is snoozed as of ``t`` (None: it is not; ``snoozes`` are this alert's)."""
    moment = max(t, alert.at)
    if moment >= alert.until:
        return None
    return max((s.until for s in snoozes if s.since <= moment < s.until), default=None)


def is_lit(alert: Alert, snoozes: Sequence[Snooze], t: float) -> bool:
    """Whether ``alert`` holds the light on at ``t`` (``snoozes`` are this alert's)."""
    return alert.at <= t < alert.until and snoozed_until(alert, snoozes, t) is None


def lit_alerts(alerts: Iterable[Alert], snoozes: Iterable[Snooze], t: float) -> list[Alert]:
    """The light state at ``t``: the alerts holding it on (the light is on iff non-empty)."""
    grouped = _by_alert(snoozes)
    return [a for a in alerts if is_lit(a, grouped.get(a.id, ()), t)]


def lit_intervals(alert: Alert, snoozes: Sequence[Snooze]) -> list[tuple[float, float]]:
    """The parts of ``alert``'s window not covered by ``snoozes``, in order."""
    pieces = [(alert.at, alert.until)]
    for s in snoozes:
        nxt = []
        for lo, hi in pieces:
            if s.until <= lo or s.since >= hi:
                nxt.append((lo, hi))
                continue
            if lo < s.since:
                nxt.append((lo, s.since))
            if s.until < hi:
                nxt.append((s.until, hi))
        pieces = nxt
    return pieces


def light_schedule(alerts: Iterable[Alert], snoozes: Iterable[Snooze]) -> list[tuple[float, float]]:
    """The union of every alert's lit intervals: when the light is on, merged and sorted.

    Overlapping or touching windows merge, so the light stays on until the last ends.
    """
    grouped = _by_alert(snoozes)
    spans = sorted(p for a in alerts for p in lit_intervals(a, grouped.get(a.id, ())))
    merged: list[tuple[float, float]] = []
    for lo, hi in spans:
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def skip_reason(alert: Alert, snoozes: Sequence[Snooze]) -> str:
    """Why an unfired alert's window closed: ``snoozed`` if snoozes darkened all of it, else ``missed``."""
    return "snoozed" if not lit_intervals(alert, snoozes) else "missed"


def plan_alerts(events: Iterable[Event], policies: Mapping[str, Sequence[AlertRule]],
                extras: Mapping[str, Sequence[AlertRule]] | None, snoozes: Iterable[Snooze],
                fired: Iterable[tuple[str, float]], now: float) -> Plan:
    """Decide, at ``now``, which alerts are lit, which must fire, which were skipped, and when to look again.

    ``fired`` holds the ``(alert id, at)`` pairs already settled (fired or skipped) in
    the store's log, which is what makes firing exactly-once across restarts.
    """
    alerts = alerts_for(events, policies, extras)
    grouped = _by_alert(snoozes)
    settled = set(fired)
    lit, due, skipped = [], [], []
    ahead: list[float] = []
    for a in alerts:
        own = grouped.get(a.id, ())
        if is_lit(a, own, now):
            lit.append(a)
            if (a.id, a.at) not in settled:
                due.append(a)
        elif a.until <= now and (a.id, a.at) not in settled:
            skipped.append(a)
        if a.until > now:
            ahead += [x for x in (a.at, a.until) if x > now]
            ahead += [x for s in own for x in (s.since, s.until) if now < x < a.until]
    return Plan(now, tuple(alerts), tuple(lit), tuple(due), tuple(skipped), min(ahead) if ahead else None)
