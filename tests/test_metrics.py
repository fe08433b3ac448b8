"""Metrics: exposition text, push-then-reset, failed pushes keep counts, heartbeat alarm.

The live push target (PushgatewayTarget over httpx) is tested in test_prometheus.py.
"""

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from sim.kernel.runtime import SimRuntime
from system.decisions.heartbeat import heartbeat_alarm
from system.services.metrics import COUNTERS, HEARTBEAT, HeartbeatWatch, Metrics, MetricsCollector
from system.services.prometheus import exposition
from sim.models.push_recorder import RecordingPushTarget
from system.trace import Trace

T0 = 1_774_000_000.0


def parse(body):
    """Unlabelled samples of a text exposition as {name: value}, read by Prometheus' own parser."""
    return {s.name: s.value for f in text_string_to_metric_families(body) for s in f.samples}


def test_exposition_text_has_help_type_and_values():
    """Prometheus' own parser reads every counter as a gauge with its help text, and the heartbeat 1."""
    metrics = Metrics()
    metrics.count("events_added", 3)
    metrics.count("alerts_started")
    body = exposition(MetricsCollector(None, metrics, None).registry)
    families = {f.name: (f.type, f.documentation, [(s.name, s.labels, s.value) for s in f.samples])
                for f in text_string_to_metric_families(body)}
    assert families.pop(HEARTBEAT)[::2] == ("gauge", [(HEARTBEAT, {}, 1.0)])
    assert families == {name: ("gauge", help, [(name, {}, {"events_added": 3, "alerts_started": 1}.get(name, 0))])
                        for name, help in COUNTERS.items()}
    assert all(s.timestamp is None for f in text_string_to_metric_families(body) for s in f.samples)


def test_each_controller_renders_only_its_own_counters():
    """Two collectors in one process, each with its registry: counts never mix, the global registry stays empty."""
    first, second = Metrics(), Metrics()
    first.count("scrapes", 5)
    assert parse(exposition(MetricsCollector(None, first, None).registry))["scrapes"] == 5
    assert parse(exposition(MetricsCollector(None, second, None).registry))["scrapes"] == 0
    assert REGISTRY.get_sample_value("scrapes") is None and REGISTRY.get_sample_value(HEARTBEAT) is None


def test_unknown_counter_is_a_programming_error():
    with pytest.raises(KeyError):
        Metrics().count("events_addded")


def test_collector_pushes_every_period_and_resets_after_a_successful_push():
    trace = Trace({"scenario": "metrics"})
    rt = SimRuntime(seed=1, start=T0, trace=trace)
    metrics = Metrics()
    target = RecordingPushTarget(rt)
    collector = MetricsCollector(rt.child("controller"), metrics, target, period=300)

    async def activity():
        metrics.count("events_added", 2)
        await rt.sleep(400)
        metrics.count("alerts_started")
        target.down = True  # the pushes at 600 and 900 fail: counts must carry over
        await rt.sleep(400)
        metrics.count("alerts_started")
        await rt.sleep(350)
        target.down = False

    rt.spawn(collector.run(), "metrics")
    rt.run(activity(), until=1600)
    assert [t - T0 for t in target.push_times()] == [300, 1200, 1500]
    bodies = [parse(body) for _t, _job, body in target.pushes]
    assert bodies[0]["events_added"] == 2 and bodies[0]["alerts_started"] == 0
    assert bodies[1]["events_added"] == 0  # reset after the first push
    assert bodies[1]["alerts_started"] == 2  # both counted while the target was down, delivered together
    assert bodies[2]["alerts_started"] == 0
    assert all(b[HEARTBEAT] == 1 for b in bodies)
    assert collector.failures == 2 and metrics.snapshot()["alerts_started"] == 0
    assert [r["kind"] for r in trace.records if r["kind"].startswith("metrics.")] == [
        "metrics.pushed", "metrics.failed", "metrics.failed", "metrics.pushed", "metrics.pushed"]


def test_heartbeat_alarm_after_three_missed_periods():
    assert not heartbeat_alarm([0.0, 300.0], now=300.0 + 899.0, period=300.0)
    assert heartbeat_alarm([0.0, 300.0], now=300.0 + 900.0, period=300.0)
    assert not heartbeat_alarm([], now=10_000.0, period=300.0)
    assert heartbeat_alarm([], now=900.0, period=300.0, since=0.0)
    assert heartbeat_alarm([2000.0], now=1000.0, period=300.0, since=0.0)  # a push from the future does not count


@given(st.lists(st.floats(0, 10_000), max_size=10), st.floats(0, 20_000))
def test_heartbeat_alarm_iff_the_last_push_is_three_periods_old(times, now):
    seen = [t for t in times if t <= now]
    expected = bool(seen) and now - max(seen) >= 900.0
    assert heartbeat_alarm(times, now, 300.0) == expected


def test_watch_traces_missed_once_and_restored():
    trace = Trace({"scenario": "heartbeat"})
    rt = SimRuntime(seed=1, start=T0, trace=trace)
    target = RecordingPushTarget(rt)
    collector = MetricsCollector(rt.child("controller"), Metrics(), target, period=300)
    watch = HeartbeatWatch(rt.child("cloud"), target.push_times, period=300)

    async def outage():
        await rt.sleep(1000)
        target.down = True
        await rt.sleep(2000)
        target.down = False

    rt.spawn(collector.run(), "metrics")
    rt.spawn(watch.run(), "watch")
    rt.run(outage(), until=4000)
    kinds = [(r["t"], r["kind"]) for r in trace.records if r["kind"].startswith("heartbeat.")]
    # last push before the outage at 900; alarm once 900 s later, cleared after the push at 3000
    assert kinds == [(1800.0, "heartbeat.missed"), (3000.0, "heartbeat.restored")]
    assert watch.alarms == 1
