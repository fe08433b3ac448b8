"""The heartbeat alarm's rule, in one place: the controller pushes a heartbeat every period, and whoever
receives the pushes (the controller's own watch, the cloud's alarm) raises an alarm when none arrived
for ``MISSED_PERIODS`` periods.

>>> heartbeat_alarm([0.0, 300.0], now=1199.0)
False
>>> heartbeat_alarm([0.0, 300.0], now=1200.0)
True
"""

from __future__ import annotations

from typing import Iterable

PERIOD = 300.0
MISSED_PERIODS = 3


def heartbeat_alarm(last_push_times: Iterable[float], now: float, period: float = PERIOD,
                    since: float | None = None) -> bool:
    """True when no push arrived for ``MISSED_PERIODS`` periods before ``now``.

    With no push ever seen, counts from ``since`` (when watching began), or never alarms.
    """
    times = [t for t in last_push_times if t <= now]
    last = max(times) if times else since
    return last is not None and now - last >= MISSED_PERIODS * period
