"""The heartbeat alarm: raised when a device's heartbeat is missing for three periods, cleared when it returns.

Every ``check_every`` seconds, for every registered device, :func:`system.decisions.heartbeat.heartbeat_alarm`
decides from the last heartbeat the device pushed (or, before its first one, from when the watch
began). A change of state is stored with its history and sent to every notifier (SMTP, webhook):
ports with ``async notify(subject, body)``; a notifier that fails is traced and does not stop the others.
Trace: ``alarm.raised``, ``alarm.cleared``, ``alarm.notify_failed``.
"""

from __future__ import annotations

from typing import Any, Sequence

from system.adapters.cloud_store import CloudStore
from system.errors import BackendError
from system.decisions.heartbeat import MISSED_PERIODS, PERIOD, heartbeat_alarm


class HeartbeatAlarm:
    """Service: watches every device's heartbeat in ``store``."""

    def __init__(self, rt: Any, store: CloudStore, notifiers: Sequence[Any] = (), *, period: float = PERIOD,
                 check_every: float | None = None):
        self.rt = rt
        self.store = store
        self.notifiers = list(notifiers)
        self.period = period
        self.check_every = check_every if check_every is not None else period / 5
        self.since = rt.now()

    async def check(self) -> None:
        """One look at every device; raises or clears alarms and notifies."""
        now = self.rt.now()
        for device in self.store.devices():
            last = self.store.last_heartbeat(device)
            raised = heartbeat_alarm([last] if last is not None else [], now, self.period, since=self.since)
            if raised:
                detail = (f"no heartbeat from {device} for {MISSED_PERIODS} periods of {self.period:g} s "
                          f"(last {'never' if last is None else f'{now - last:.0f} s ago'})")
            else:
                detail = f"heartbeat from {device} is back"
            if not self.store.set_alarm(device, raised, now, detail):
                continue
            self.rt.trace("alarm.raised" if raised else "alarm.cleared", device=device, last=last)
            subject = f"[match-day] {device}: {'ALARM, heartbeat missing' if raised else 'heartbeat back'}"
            for notifier in self.notifiers:
                try:
                    await notifier.notify(subject, detail)
                except BackendError as exc:
                    self.rt.trace("alarm.notify_failed", device=device, error=str(exc)[:200])

    async def run(self) -> None:
        self.since = self.rt.now()
        while True:
            await self.rt.sleep(self.check_every)
            await self.check()
