"""The heartbeat alarm (``system/cloud/alarm.py``), on virtual time: raised after three missing periods, once,
cleared when the heartbeat returns, every change notified; a failing notifier stops nothing."""

from __future__ import annotations

from sim.kernel.runtime import SimRuntime
from system.cloud.alarm import HeartbeatAlarm
from system.adapters.cloud_store import HEARTBEAT, CloudStore
from system.errors import BackendError

PERIOD = 300.0


class Outbox:
    def __init__(self, fail: bool = False):
        self.sent: list[tuple[str, str]] = []
        self.fail = fail

    async def notify(self, subject: str, body: str) -> None:
        if self.fail:
            raise BackendError("mail server down")
        self.sent.append((subject, body))


def setup():
    rt = SimRuntime(seed=1, start=1_800_000_000.0)
    store = CloudStore()
    store.add_device("pi", rt.now())
    mail, broken = Outbox(), Outbox(fail=True)
    alarm = HeartbeatAlarm(rt, store, [broken, mail], period=PERIOD, check_every=60.0)
    rt.spawn(alarm.run(), "alarm")
    return rt, store, mail


def beat_until(rt, store, seconds: float) -> None:
    async def beats():
        while rt.now() < start + seconds:
            store.add_metrics("pi", rt.now(), {HEARTBEAT: 1.0})
            await rt.sleep(PERIOD)
    start = rt.now()
    rt.spawn(beats(), "beats")


def test_raised_after_three_missing_periods_and_cleared_when_back():
    rt, store, mail = setup()
    beat_until(rt, store, 3600)
    rt.run(until=3600 + 2 * PERIOD)  # two periods of silence: not yet
    assert not store.alarm("pi")["raised"] and mail.sent == []
    rt.run(until=PERIOD + 60)
    alarm = store.alarm("pi")
    assert alarm["raised"] and len(mail.sent) == 1 and "ALARM" in mail.sent[0][0]
    rt.run(until=3 * 3600)  # a long silence raises it once, not once per check
    assert len(mail.sent) == 1
    beat_until(rt, store, 3600)
    rt.run(until=120)
    assert not store.alarm("pi")["raised"] and "back" in mail.sent[-1][0]
    assert [h["state"] for h in store.alarm("pi")["history"]] == ["cleared", "raised"]


def test_a_device_that_never_sent_a_heartbeat_alarms_three_periods_after_the_watch_began():
    rt, store, mail = setup()
    rt.run(until=3 * PERIOD - 61)
    assert not store.alarm("pi")["raised"]
    rt.run(until=120)
    assert store.alarm("pi")["raised"] and "never" in mail.sent[0][1]
