"""The alert scheduler: a thin service loop around :func:`system.decisions.alerts.plan_alerts`.

Each pass reads the store, plans, and acts in this order: end the firings that are
over (``alert.ended``), log the alerts whose window closed unfired
(``alert.skipped``), log then announce the alerts that start now (``alert.fired``,
written to the store *before* the light switches, so a crash between the two never
fires an alert twice), and finally tell the relay whether any alert holds the light.
Then it sleeps until the next instant the plan can change, waking early when the
store changes (``changed()``, registered with the store) or a user acts.

Users (dashboard, cloud jobs) act through :meth:`Scheduler.snooze`,
:meth:`Scheduler.add_alert` and :meth:`Scheduler.create_event`; bad requests raise
:class:`~system.errors.RefusedInput` for the caller to count and report.

Times are epoch seconds throughout; :mod:`system.decisions.localtime` converts wall-clock
times in the club's zone (Europe/Brussels) for the dashboard, the console and config.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

from system.decisions.alerts import DEFAULT_POLICIES, Plan, Snooze, plan_alerts, skip_reason
from system.decisions.alerts import alert_id as make_alert_id
from system.errors import RefusedInput
from system.decisions.events import CANCELLED, CUSTOM, Alert, AlertRule, Event

LOG_RETRY = 60.0  # seconds: how soon a pass whose log write failed is tried again


class Scheduler:
    """Service: fires alerts exactly once and keeps the light on while any alert is lit.

    ``relay`` needs ``async on()`` / ``async off()`` (a :class:`~system.services.relay.RelayDriver`,
    whose calls return at once); ``metrics`` needs ``count(name)`` or is None;
    ``policies`` are the defaults per event kind (policies stored in the store win).
    """

    def __init__(self, rt: Any, store: Any, relay: Any, metrics: Any = None,
                 policies: Mapping[str, Sequence[AlertRule]] = DEFAULT_POLICIES, *, max_sleep: float = 3600.0):
        self.rt = rt
        self.store = store
        self.relay = relay
        self.metrics = metrics
        self.policies = policies
        self.max_sleep = max_sleep  # re-plan at least this often (guards against wall-clock steps live)
        self.light: bool | None = None  # None until the first pass commands the relay
        self.passes = 0
        self._failed_writes = 0  # alert-log writes the store refused this pass
        self._unwritten: dict[tuple[str, str], tuple[Callable[..., bool], tuple]] = {}  # refused, in order
        self._wake = rt.event()
        store.on_change(self.changed)

    def changed(self) -> None:
        """Wake the service loop: the store or the user changed something."""
        self._wake.set()

    def _count(self, name: str) -> None:
        if self.metrics is not None:
            self.metrics.count(name)

    def plan(self, now: float | None = None) -> Plan:
        """The plan at ``now`` (default: the runtime's now) from the store's current content."""
        store = self.store
        settled = store.settled() | {(args[0].id, args[0].at) for write, args in self._unwritten.values()
                                     if write.__name__ in ("record_fired", "record_skipped")}
        return plan_alerts(store.stored_events(), store.policies(self.policies), store.extras(),
                           store.snoozes(), settled, self.rt.now() if now is None else now)

    async def step(self, now: float) -> float | None:
        """One pass at ``now``: settle, fire, switch. Returns the next instant to look again."""
        self.passes += 1
        self._write_back()
        plan = self.plan(now)
        current = {(a.id, a.at): a for a in plan.alerts}
        for entry in self.store.open_firings():
            alert = current.get((entry.alert_id, entry.at))
            if alert is not None and alert.until > now:
                continue
            if alert is not None:
                reason = "window"
            else:
                event = self.store.event(entry.event_key)
                reason = "cancelled" if event is None or event.status == CANCELLED else "moved"
            if self._log(self.store.record_ended, entry.alert_id, entry.at, now):
                self._count("alerts_stopped")
                self.rt.trace("alert.ended", alert=entry.alert_id, event=entry.event_key, reason=reason,
                              late=max(0.0, now - (entry.at + entry.duration)) if reason == "window" else 0.0)
        if plan.skipped:
            snoozes = self.store.snoozes()
            for alert in plan.skipped:
                reason = skip_reason(alert, [s for s in snoozes if s.alert_id == alert.id])
                if self._log(self.store.record_skipped, alert, reason, now):
                    self.rt.trace("alert.skipped", alert=alert.id, event=alert.event_key, at=alert.at, reason=reason)
        for alert in plan.due:
            if self._log(self.store.record_fired, alert, now):
                self._count("alerts_started")
                self.rt.trace("alert.fired", alert=alert.id, event=alert.event_key, at=alert.at,
                              until=alert.until, late=now - alert.at)
        light = bool(plan.lit)
        if light != self.light:
            await (self.relay.on() if light else self.relay.off())
            self.light = light
        if self._failed_writes:  # write the log again soon; the light followed the plan meanwhile
            self._failed_writes = 0
            return min(plan.next_change or now + LOG_RETRY, now + LOG_RETRY)
        return plan.next_change

    def _log(self, write: Callable[..., bool], *args: Any) -> bool:
        """Write to the alert log; True when the entry is new (to count and trace once). A store that fails (a
        full disk) is traced, the entry remembered and written on a later pass; the light follows the plan."""
        key = (write.__name__, repr(args[:-1]))
        if key in self._unwritten:
            return False
        try:
            return write(*args)
        except Exception as exc:  # the store's failure is the log's, never the light's
            self._failed_writes += 1
            self._unwritten[key] = (write, args)  # with its own time
            self.rt.trace("store.failed", what=write.__name__, error=str(exc)[:120])
            return True

    def _write_back(self) -> None:
        """Write the log entries the store refused, in their order and with their own times, before the
        plan reads the log: a firing the store could not take is remembered, not taken later for a miss."""
        for key, (write, args) in list(self._unwritten.items()):
            try:
                write(*args)
            except Exception:  # still no room: the rest wait with it
                self._failed_writes += 1
                return
            del self._unwritten[key]

    async def run(self) -> None:
        """Service loop: plan, act, sleep until the next change or a wake-up."""
        target: float | None = None
        while True:
            self._wake.clear()
            now = self.rt.now()
            if target is not None:
                now = max(now, target)  # a timer never lands before its target, even in float time
            nxt = await self.step(now)
            target = None
            timeout = None if nxt is None else nxt - now
            if timeout is None or timeout > self.max_sleep:
                timeout, nxt = self.max_sleep, None
            try:
                await self.rt.wait_for(self._wake.wait(), timeout)
            except TimeoutError:
                target = nxt

    # -- user operations ----------------------------------------------------------

    def _alert(self, alert_id: str, now: float) -> Alert:
        for alert in self.plan(now).alerts:
            if alert.id == alert_id:
                return alert
        raise RefusedInput("unknown_alert", alert_id)

    def snooze(self, alert_id: str, until: float | None = None, for_seconds: float | None = None) -> Snooze:
        """Keep alert ``alert_id`` dark from now until ``until``, for ``for_seconds``, or
        (neither given) until the next alert, i.e. for the rest of this alert's window."""
        now = self.rt.now()
        alert = self._alert(alert_id, now)
        if alert.until <= now:
            raise RefusedInput("alert_over", f"{alert_id} ended already")
        if for_seconds is not None:
            if for_seconds <= 0:
                raise RefusedInput("bad_duration", f"snooze for {for_seconds!r} s")
            until = now + for_seconds
        elif until is None:
            until = alert.until
        if until <= now:
            raise RefusedInput("snooze_in_past", f"until {until!r} is not after now")
        snooze = Snooze(alert_id, now, float(until))
        self.store.add_snooze(snooze)
        self._count("alerts_snoozed")
        self.rt.trace("alert.snoozed", alert=alert_id, event=alert.event_key, until=snooze.until)
        self.changed()
        return snooze

    def add_alert(self, event_key: str, before: float, duration: float = 600.0) -> Alert:
        """Add an extra alert ``before`` seconds ahead of event ``event_key``; returns it."""
        self.store.add_extra(event_key, before, duration)
        alert = self._alert(make_alert_id(event_key, "extra", before), self.rt.now())
        self.rt.trace("alert.added", alert=alert.id, event=event_key, at=alert.at, duration=alert.duration)
        self.changed()
        return alert

    def create_event(self, title: str, start: float, kind: str = CUSTOM) -> Event:
        """Create a custom event (a concert, a party); its kind's policy gives it alerts."""
        event = self.store.create_event(title, start, kind)
        self.rt.trace("event.created", event=event.key, title=event.title, start=event.start, event_kind=event.kind)
        self.changed()
        return event

