"""What the dashboard shows, computed from a device's mirror with the device's own alert rules.

The mirror holds the device's events, policies, extra alerts, snoozes and alert log as the
device's outbox wrote them; :func:`upcoming` plans the alerts with the same pure function the
device's scheduler uses (:func:`system.decisions.alerts.alerts_for`), and asks the device's own rule
whether each is lit or snoozed (:func:`~system.decisions.alerts.is_lit`,
:func:`~system.decisions.alerts.snoozed_until`), so the dashboard and the light agree. Kinds without a
stored policy use the default policies. Plain data in, plain data out: no store, no HTTP.
"""

from __future__ import annotations

from typing import Mapping

from system.decisions.alerts import DEFAULT_POLICIES, Snooze, alerts_for, is_lit, snoozed_until
from system.decisions.events import AlertRule, Event, SCHEDULED

_EVENT_FIELDS = tuple(Event.__dataclass_fields__)
PAST = 6 * 3600.0  # events that started less than this ago are still shown


def mirror_events(mirror: Mapping[str, Mapping[str, dict]]) -> list[Event]:
    """The mirror's events as :class:`Event` values (rows missing a field are skipped)."""
    out = []
    for row in mirror.get("events", {}).values():
        try:
            out.append(Event(**{k: row[k] for k in _EVENT_FIELDS if k in row}))
        except TypeError:
            continue
    return out


def upcoming(mirror: Mapping[str, Mapping[str, dict]], now: float) -> list[dict]:
    """Events starting after ``now - PAST``, soonest first, each with its alerts and their state."""
    events = [e for e in mirror_events(mirror) if e.start >= now - PAST]
    policies: dict[str, tuple[AlertRule, ...]] = dict(DEFAULT_POLICIES)
    for row in mirror.get("policies", {}).values():
        policies[row["kind"]] = tuple(AlertRule(b, d) for b, d in row.get("rules", []))
    extras: dict[str, list[AlertRule]] = {}
    for row in mirror.get("extras", {}).values():
        extras.setdefault(row["event_key"], []).append(AlertRule(row["before"], row["duration"], "extra"))
    snoozes = [Snooze(r["alert_id"], r["since"], r["until"]) for r in mirror.get("snoozes", {}).values()]
    log = {(r["alert_id"], r["at"]): r for r in mirror.get("alert_log", {}).values()}
    alerts = alerts_for(events, policies, {k: sorted(v, key=lambda r: -r.before) for k, v in extras.items()})
    out = []
    for event in sorted(events, key=lambda e: (e.start, e.key)):
        mine = []
        for alert in (a for a in alerts if a.event_key == event.key):
            own = [s for s in snoozes if s.alert_id == alert.id]
            until = snoozed_until(alert, own, now)
            entry = log.get((alert.id, alert.at))
            mine.append({"id": alert.id, "at": alert.at, "until": alert.until, "duration": alert.duration,
                         "origin": alert.origin, "snoozed": until is not None, "snoozed_until": until,
                         "outcome": entry["outcome"] if entry else None, "lit": is_lit(alert, own, now)})
        out.append({"key": event.key, "title": event.title, "start": event.start, "kind": event.kind,
                    "status": event.status, "cancelled": event.status != SCHEDULED, "alerts": mine})
    return out
