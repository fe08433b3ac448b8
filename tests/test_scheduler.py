"""The scheduler in the sim runtime: light exactly during alert windows, exactly-once firing across
restarts, user operations, and (freezegun) a live plan across a DST change."""

import time
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timezone

import pytest
from freezegun import freeze_time

from sim.kernel.runtime import SimRuntime
from system.adapters.asyncio_runtime import AsyncioRuntime
from system.errors import RefusedInput
from system.decisions.events import CUSTOM, GAME, AlertRule, Event
from system.services.metrics import Metrics
from sim.models.sim_relay import SimRelay
from system.services.relay import RelayDriver
from system.services.scheduler import Scheduler
from system.decisions.localtime import local_epoch, to_local
from system.adapters.controller_store import Store
from system.trace import Trace

H = 3600.0
T0 = datetime(2026, 3, 14, 8, 0, tzinfo=timezone.utc).timestamp()


def game(key, start):
    return Event(key=key, kind=GAME, title=f"KAA Gent - {key}", start=start)


@dataclass
class Rec:
    added: list = field(default_factory=list)
    rescheduled: list = field(default_factory=list)
    cancelled: list = field(default_factory=list)
    reinstated: list = field(default_factory=list)


class World:
    """One controller run: store file, sim relay behind the driver, scheduler; ``script`` acts as the world."""

    def __init__(self, path, start=T0):
        self.trace = Trace({"scenario": "scheduler"})
        self.rt = SimRuntime(seed=1, start=start, trace=self.trace)
        ctl = self.rt.child("controller")
        self.metrics = Metrics()
        self.store = Store(path, metrics=self.metrics)
        self.relay = SimRelay(ctl)
        self.driver = RelayDriver(ctl, self.relay)
        self.scheduler = Scheduler(ctl, self.store, self.driver, self.metrics)

    def run(self, until, script=None):
        async def main():
            self.rt.spawn(self.driver.run(), "relay-driver")
            self.rt.spawn(self.scheduler.run(), "scheduler")
            if script is not None:
                await script(self)

        self.rt.run(main(), until=until)
        self.store.close()
        return self

    def edges(self):
        """Relay edges as (epoch, on) pairs, from the trace."""
        return [(self.rt.start + r["t"], r["kind"] == "relay.on") for r in self.trace.records
                if r["kind"] in ("relay.on", "relay.off")]

    def kinds(self, kind):
        return [r for r in self.trace.records if r["kind"] == kind]


def windows_as_edges(windows):
    return [e for lo, hi in windows for e in ((lo, True), (hi, False))]


def settled(edges):
    """The light as a step function: of several edges at one instant only the last state counts
    (a snooze at the very instant an alert fires makes an on/off pair of zero length)."""
    out = []
    for t, on in edges:
        if out and out[-1][0] == t:
            out.pop()
        if (out[-1][1] if out else False) != on:
            out.append((t, on))
    return out


def test_light_is_on_exactly_during_each_alert_window(tmp_path):
    k1, k2 = T0 + 10 * H, T0 + 3 * 24 * H + 0.5 * H
    store = Store(str(tmp_path / "c.db"))
    store.apply(Rec(added=[game("g1", k1), game("g2", k2)]))
    store.close()
    w = World(str(tmp_path / "c.db")).run(until=5 * 24 * H)
    expected = [(k - b, k - b + 600) for k in (k1, k2) for b in (4 * H, 3.5 * H, 3.25 * H)]
    assert w.edges() == windows_as_edges(expected)
    fired = w.kinds("alert.fired")
    assert [r["alert"] for r in fired] == [f"{g}/policy/{b}" for g in ("g1", "g2") for b in (14400, 12600, 11700)]
    assert all(r["late"] == 0 for r in fired)
    assert len(w.kinds("alert.ended")) == 6
    assert w.metrics.snapshot()["alerts_started"] == w.metrics.snapshot()["alerts_stopped"] == 6
    assert w.scheduler.passes < 200  # sleeps until the next change, not a polling loop


def test_restart_mid_window_does_not_fire_twice_and_keeps_the_light_on(tmp_path):
    path = str(tmp_path / "c.db")
    kickoff = T0 + 5 * H
    store = Store(path)
    store.apply(Rec(added=[game("g1", kickoff)]))
    store.close()
    first_alert = kickoff - 4 * H
    before = World(path).run(until=first_alert + 300 - T0)  # killed five minutes into the first alert
    assert [r["alert"] for r in before.kinds("alert.fired")] == ["g1/policy/14400"]
    after = World(path, start=first_alert + 420).run(until=2 * H)  # back two minutes later
    assert after.kinds("alert.fired") and "g1/policy/14400" not in [r["alert"] for r in after.kinds("alert.fired")]
    assert after.edges()[:2] == [(first_alert + 420, True), (first_alert + 600, False)]
    ended = after.kinds("alert.ended")
    assert [r["alert"] for r in ended][0] == "g1/policy/14400"
    log = Store(path).alert_log()
    assert [(e.alert_id, e.outcome) for e in log] == [(f"g1/policy/{b}", "fired") for b in (14400, 12600, 11700)]


def test_alert_missed_while_off_is_skipped_not_fired(tmp_path):
    path = str(tmp_path / "c.db")
    kickoff = T0 + 5 * H
    store = Store(path)
    store.apply(Rec(added=[game("g1", kickoff)]))
    store.close()
    # off from before the first alert until after it: started 4h - 11min before kickoff
    w = World(path, start=kickoff - 4 * H + 660).run(until=2 * H)
    assert [(r["alert"], r["reason"]) for r in w.kinds("alert.skipped")] == [("g1/policy/14400", "missed")]
    assert [r["alert"] for r in w.kinds("alert.fired")] == ["g1/policy/12600", "g1/policy/11700"]
    assert w.edges()[0] == (kickoff - 3.5 * H, True)


def test_reschedule_and_cancel_wake_the_scheduler_and_move_the_light(tmp_path):
    k1, k2 = T0 + 10 * H, T0 + 12 * H
    g1, g2 = game("g1", k1), game("g2", k2)

    async def script(w):
        w.store.apply(Rec(added=[g1, g2]))
        await w.rt.sleep(k1 - 4 * H - T0 + 60)  # one minute into g1's first alert
        w.store.apply(Rec(rescheduled=[(g1, replace(g1, start=k1 + 24 * H))]))  # moved a day: light off now
        await w.rt.sleep(k2 - 4 * H - (k1 - 4 * H + 60) + 120)  # two minutes into g2's first alert
        w.store.apply(Rec(cancelled=[g2]))

    w = World(str(tmp_path / "c.db")).run(until=3 * 24 * H, script=script)
    moved = k1 + 24 * H
    assert w.edges() == windows_as_edges(
        [(k1 - 4 * H, k1 - 4 * H + 60), (k2 - 4 * H, k2 - 4 * H + 120)]
        + [(moved - b, moved - b + 600) for b in (4 * H, 3.5 * H, 3.25 * H)])
    reasons = [(r["alert"], r["reason"]) for r in w.kinds("alert.ended")][:2]
    assert reasons == [("g1/policy/14400", "moved"), ("g2/policy/14400", "cancelled")]
    # same id, new time: fired again at the new time
    assert [r["alert"] for r in w.kinds("alert.fired")].count("g1/policy/14400") == 2


def test_user_operations_snooze_add_alert_create_event(tmp_path):
    kickoff = T0 + 6 * H
    snoozed = {}

    async def script(w):
        s = w.scheduler
        w.store.put_event(game("g1", kickoff))
        extra = s.add_alert("g1", 5 * H, 300)  # light 5 h before for 5 minutes
        concert = s.create_event("Concert", T0 + 9 * H)
        assert concert.kind == CUSTOM and w.store.event(concert.key) == concert
        await w.rt.sleep(kickoff - 4 * H - T0 + 120)
        snoozed["for"] = s.snooze("g1/policy/14400", for_seconds=180)  # dark 2..5 min into the window
        snoozed["next"] = s.snooze("g1/policy/12600")  # before it starts: skip that alert
        with pytest.raises(RefusedInput):
            s.snooze("g1/policy/99")
        with pytest.raises(RefusedInput):
            s.add_alert("nope", H)
        snoozed["extra"] = extra

    w = World(str(tmp_path / "c.db")).run(until=12 * H, script=script)
    a = kickoff - 4 * H
    concert = T0 + 9 * H
    expected = [(kickoff - 5 * H, kickoff - 5 * H + 300), (a, a + 120), (a + 300, a + 600),
                (kickoff - 3.25 * H, kickoff - 3.25 * H + 600)]
    expected += [(concert - b, concert - b + 600) for b in (4 * H, 3.5 * H, 3.25 * H)]
    assert w.edges() == windows_as_edges(sorted(expected))
    assert [r["alert"] for r in w.kinds("alert.snoozed")] == ["g1/policy/14400", "g1/policy/12600"]
    assert [(r["alert"], r["reason"]) for r in w.kinds("alert.skipped")] == [("g1/policy/12600", "snoozed")]
    assert w.metrics.snapshot()["alerts_snoozed"] == 2
    fired = [r["alert"] for r in w.kinds("alert.fired")]
    assert fired.count("g1/policy/14400") == 1  # resuming after a snooze is not a second firing


def test_overlapping_windows_keep_the_light_on_until_the_last_ends(tmp_path):
    kickoff = T0 + 6 * H

    async def script(w):
        w.store.set_policy(GAME, [AlertRule(2 * H, 1200), AlertRule(2 * H - 600, 1200)])
        w.store.put_event(game("g1", kickoff))

    w = World(str(tmp_path / "c.db")).run(until=8 * H, script=script)
    assert w.edges() == [(kickoff - 2 * H, True), (kickoff - 2 * H + 1800, False)]
    assert len(w.kinds("alert.fired")) == 2


def test_same_run_twice_gives_the_same_trace(tmp_path):
    def once(name):
        store = Store(str(tmp_path / name))
        store.apply(Rec(added=[game("g1", T0 + 5 * H)]))
        store.close()
        w = World(str(tmp_path / name)).run(until=6 * H)
        return w.trace.records

    assert once("a.db") == once("b.db")


# -- wall-clock conversion for the live path (Europe/Brussels) -----------------------------

def utc(*args):
    return datetime(*args, tzinfo=timezone.utc).timestamp()


def test_live_plan_across_the_spring_change_uses_elapsed_hours(tmp_path):
    """A 04:00 kickoff on 29 March: 4 h before is 23:00 CET the evening before (only 3 h on the clock face)."""
    kickoff = local_epoch(date(2026, 3, 29), 4, 0)
    store = Store(str(tmp_path / "c.db"))
    store.put_event(game("g1", kickoff))
    with freeze_time("2026-03-28T22:05:00Z"):  # 23:05 CET
        rt = AsyncioRuntime(clock=time.time)
        plan = Scheduler(rt, store, SimRelay(rt)).plan()
    assert [a.id for a in plan.due] == ["g1/policy/14400"]
    assert to_local(plan.due[0].at).strftime("%d %H:%M %Z") == "28 23:00 CET"


# -- a real controller process, SIGKILLed mid-run --------------------------------------------

@pytest.mark.slow
def test_killed_live_controller_fires_every_alert_exactly_once(tmp_path):
    """Real processes on the wall clock: SIGKILL right after the first alert fired, restart at once."""
    import json
    import os
    import signal
    import subprocess
    import sys

    path = str(tmp_path / "c.db")
    # generous margins: a slow CI machine may take seconds to start the process
    kickoff = time.time() + 12
    store = Store(path)
    store.set_policy(GAME, [AlertRule(b, 1.5) for b in (8.0, 6.0, 4.0, 2.0)])
    store.put_event(game("g1", kickoff))
    store.close()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

    def start(until):
        # the production entry point, as deployed: `hilsim controller`
        return subprocess.Popen([sys.executable, "-m", "hilsim", "controller", "--db", path, "--relay", "sim",
                                 "--trace", "-", "--for", repr(max(0.1, until - time.time()))],
                                stdout=subprocess.PIPE, text=True, cwd=root)

    fired = []
    first = start(kickoff + 10)
    try:
        for line in first.stdout:
            record = json.loads(line)
            if record["kind"] == "alert.fired":
                fired.append(record["alert"])
                break
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    second = start(kickoff + 0.3)
    out, _ = second.communicate(timeout=30)
    assert second.returncode == 0
    records = [json.loads(line) for line in out.splitlines()]
    fired += [r["alert"] for r in records if r["kind"] == "alert.fired"]
    assert fired == [f"g1/policy/{b}" for b in (8, 6, 4, 2)]  # none twice, none lost
    log = Store(path).alert_log()
    assert [(e.outcome, e.ended is not None) for e in log] == [("fired", True)] * 4


# -- property: whatever the events and snoozes, the traced light follows the plan ----------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from system.decisions.alerts import DEFAULT_POLICIES, alerts_for, light_schedule  # noqa: E402


@settings(max_examples=25, deadline=None)
@given(starts=st.lists(st.floats(4 * H, 3 * 24 * H, allow_nan=False), min_size=1, max_size=4),
       snoozes=st.lists(st.tuples(st.integers(0, 11), st.floats(0, 3 * 24 * H), st.floats(1, 900)), max_size=5))
def test_traced_light_matches_the_planned_schedule(tmp_path_factory, starts, snoozes):
    path = str(tmp_path_factory.mktemp("prop") / "c.db")
    events = [game(f"g{i}", T0 + s) for i, s in enumerate(starts)]
    alerts = alerts_for(events, DEFAULT_POLICIES)

    async def script(w):
        w.store.apply(Rec(added=events))
        t = 0.0
        for index, when, length in sorted(snoozes, key=lambda x: x[1]):
            await w.rt.sleep(when - t)
            t = when
            try:
                w.scheduler.snooze(alerts[index % len(alerts)].id, for_seconds=length)
            except RefusedInput:
                pass  # that alert was over already

    w = World(path).run(until=4 * 24 * H, script=script)
    expected = windows_as_edges(light_schedule(alerts, Store(path).snoozes()))
    got = settled(w.edges())
    assert [on for _t, on in got] == [on for _t, on in expected]
    assert all(abs(a - b) < 1e-5 for (a, _), (b, _) in zip(got, expected))
    fired = [r["alert"] for r in w.kinds("alert.fired")]
    assert len(fired) == len(set(fired))
