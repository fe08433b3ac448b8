"""Sensor and radio models: DHT22 frames with faults switched in time, WiFi RSSI that can drop the link."""

import statistics

import pytest

from firmware.dht22 import CHECKSUM, NO_RESPONSE, TIMEOUT, SensorError, decode_frame
from sim.scenario.faults import SensorFault
from sim.models.radio import SimClock, SimRadio
from sim.scenario.runner import run_scenario
from sim.kernel.runtime import SimRuntime
from sim.scenario.loader import parse
from sim.models.sensors import SimDHT22, daily_cycle
from system.errors import ScenarioError
from system.trace import Trace

START = 1_773_464_400.0  # 2026-03-14T05:00:00Z


def _reads(rt, sensor, n, every=4.0):
    """n reads, ``every`` seconds apart: decoded (h10, t10) or the failure reason."""
    out = []

    async def main():
        for _ in range(n):
            try:
                out.append(decode_frame(sensor.read_frame()))
            except SensorError as exc:
                out.append(exc.reason)
            await rt.sleep(every)

    rt.run(main())
    return out


def _sensor(seed=1):
    rt = SimRuntime(seed=seed, start=START, trace=Trace({}))
    return rt, SimDHT22(rt, "node-1")


def test_healthy_sensor_follows_the_daily_cycle_with_small_noise():
    rt, sensor = _sensor()
    reads = _reads(rt, sensor, 2000, every=43.2)  # one day
    for i, (h10, t10) in enumerate(reads):
        temperature, humidity = daily_cycle(START + i * 43.2, 21.0, 45.0)
        assert abs(t10 / 10 - temperature) < 0.6 and abs(h10 / 10 - humidity) < 3.0
    temps = [t10 for h10, t10 in reads]
    assert max(temps) - min(temps) > 50  # a 6 degC swing over the day, in tenths
    assert _reads(*_sensor(), 50) == _reads(*_sensor(), 50) != _reads(*_sensor(seed=2), 50)


@pytest.mark.parametrize("kind, reason", [("timeout", TIMEOUT), ("disconnected", NO_RESPONSE),
                                          ("checksum", CHECKSUM)])
def test_failing_faults_fail_every_read_while_on_and_none_after(kind, reason):
    rt, sensor = _sensor()
    fault = SensorFault("node-1", kind)
    sensor.add_fault(fault)
    assert set(_reads(rt, sensor, 30)) == {reason}
    sensor.remove_fault(fault)
    assert all(isinstance(r, tuple) for r in _reads(rt, sensor, 30))
    assert [r["kind"] for r in rt._trace.records] == ["sensor.faulted", "sensor.restored"]


def test_checksum_rate_corrupts_about_that_fraction_and_intact_values_are_recorded():
    rt, sensor = _sensor()
    sensor.add_fault(SensorFault("node-1", "checksum", rate=0.3))
    reads = _reads(rt, sensor, 1000)
    bad = reads.count(CHECKSUM)
    assert 230 < bad < 370 and sensor.corrupted == bad
    assert {r for r in reads if r != CHECKSUM} <= sensor.intact_values


def test_stuck_sensor_repeats_the_frame_of_the_fault_start_until_removed():
    rt, sensor = _sensor()
    rt.run(until=3 * 3600)
    fault = SensorFault("node-1", "stuck")
    sensor.add_fault(fault)
    since = rt.now()
    reads = _reads(rt, sensor, 100, every=300)  # over 8 hours of cycle
    assert len(set(reads)) == 1 and isinstance(reads[0], tuple)  # one frame, valid checksum
    h10, t10 = reads[0]
    assert abs(t10 / 10 - daily_cycle(since, 21.0, 45.0)[0]) < 0.6  # the value when the fault began
    sensor.remove_fault(fault)
    back = rt.now()
    after = _reads(rt, sensor, 20, every=300)
    assert len(set(after)) > 1
    assert all(abs(t10 / 10 - daily_cycle(back + i * 300, 21.0, 45.0)[0]) < 0.6
               for i, (h10, t10) in enumerate(after))


def test_drift_adds_per_hour_degrees():
    rt, sensor = _sensor()
    rt.run(until=6 * 3600)
    fault = SensorFault("node-1", "drift", per_hour=3.0)
    sensor.add_fault(fault)
    t0 = rt.now()
    reads = _reads(rt, sensor, 100, every=72)  # 2 hours
    offsets = [t10 / 10 - daily_cycle(t0 + i * 72, 21.0, 45.0)[0] for i, (h10, t10) in enumerate(reads)]
    assert abs(statistics.mean(offsets[-10:]) - 3.0 * 2 * 0.95) < 0.4
    assert abs(statistics.mean(offsets[:5])) < 0.3


def test_spikes_hit_about_rate_of_reads_by_size():
    rt, sensor = _sensor()
    sensor.add_fault(SensorFault("node-1", "spike", rate=0.2, size=12.0))
    reads = _reads(rt, sensor, 500)
    offsets = [t10 / 10 - daily_cycle(START + i * 4, 21.0, 45.0)[0] for i, (h10, t10) in enumerate(reads)]
    spikes = [o for o in offsets if abs(o) > 6]
    assert 60 < len(spikes) < 140 and all(abs(abs(o) - 12.0) < 1 for o in spikes)
    assert any(o > 0 for o in spikes) and any(o < 0 for o in spikes)


# --- radio ---------------------------------------------------------------------------


def _radio(**options):
    rt = SimRuntime(seed=5, start=START, trace=Trace({}))
    events = []
    radio = SimRadio(rt, "node-1", on_down=lambda: events.append(("down", rt.now() - START)),
                     on_up=lambda: events.append(("up", rt.now() - START)), **options)
    rt.spawn(radio.run(), "radio")
    return rt, radio, events


def test_rssi_wanders_around_its_mean_and_stays_connected_with_a_good_signal():
    rt, radio, events = _radio()
    samples = []

    async def sample():
        for _ in range(720):
            samples.append(radio.rssi())
            await rt.sleep(10)

    rt.run(sample())
    assert events == [] and all(-80 < s < -45 for s in samples)
    assert abs(statistics.mean(samples) + 62) < 2 and statistics.pstdev(samples) > 1.5


def test_a_weak_signal_flaps_below_sensitivity_and_reports_0_while_disconnected():
    rt, radio, events = _radio()
    radio.weaken(-88)
    seen = []

    async def sample():
        for _ in range(2000):
            seen.append((radio.connected, radio.rssi()))
            await rt.sleep(5)

    rt.run(sample())
    kinds = [k for k, t in events]
    assert kinds.count("down") >= 2 and kinds[:2] == ["down", "up"]
    assert all(r == 0 for c, r in seen if not c) and all(r < 0 for c, r in seen if c)
    down = rt._trace.of_kind("wifi.disconnected")
    assert all(r["reason"] == "weak" and r["rssi"] <= -90 for r in down)


def test_clock_is_unset_until_sntp_answers():
    rt = SimRuntime(start=START, trace=Trace({}))
    clock = SimClock(rt, "node-1", sync_after=15)
    rt.spawn(clock.run(), "clock")
    rt.run(until=14.9)
    assert not clock.synced()
    rt.run(until=0.2)
    assert clock.synced() and clock.time() == rt.now()


# --- the world: timeline events ---------------------------------------------------------

SCENARIO = """
name: faults
start: 2026-03-14T06:00:00+01:00
duration: 2h
world: {nodes: 2}
timeline:
  - at: "+10m"
    wifi: {node: node-1, drop_for: 20m}
  - at: "+20m"
    link: {name: node-1~broker, down_for: 20m}
  - at: "+30m"
    sensor: {node: node-2, fault: disconnected, for: 10m}
"""


def test_wifi_drop_and_link_fault_overlap_the_link_stays_down_until_both_end():
    run = run_scenario(parse(SCENARIO))
    link = [(r["kind"], r["t"]) for r in run.trace.records
            if r["src"] == "node-1~broker" and r["kind"] in ("link.down", "link.up")]
    assert link == [("link.down", 600.0), ("link.up", 2400.0)]  # wifi 10-30 min, fault 20-40 min
    assert [(r["node"], r["reason"], r["t"]) for r in run.trace.of_kind("wifi.disconnected")] == [("node-1", "dropped", 600.0)]
    failed = {r["reason"] for r in run.trace.of_kind("reading.failed") if r["node"] == "node-2"}
    assert failed == {NO_RESPONSE}
    assert [r["t"] for r in run.trace.of_kind("sensor.faulted", "sensor.restored")] == [1800.0, 2400.0]
    assert all(v.ok for v in run.verdicts)


@pytest.mark.parametrize("event, message", [
    ("sensor: {node: node-2, fault: melted}", "unknown sensor fault 'melted'"),
    ("sensor: {node: node-2, fault: checksum, rate: 2}", "rate is the fraction"),
    ("wifi: {node: node-1, rssi: -85, drop_for: 1m}", "either drop_for"),
    ("wifi: {node: node-1}", "needs rssi"),
    ("wifi: {node: node-1, rssi: 5}", "between -110 and -20"),
])
def test_bad_timeline_events_are_refused_with_the_line(event, message):
    text = f"name: x\nstart: 2026-03-14T06:00:00+01:00\nduration: 1h\ntimeline:\n  - at: '+1m'\n    {event}\n"
    with pytest.raises(ScenarioError, match=message) as failure:
        parse(text)
    assert failure.value.line == 6 or "line 6" in str(failure.value)


def test_a_fault_on_a_node_the_world_lacks_is_refused_before_running():
    text = "name: x\nstart: 2026-03-14T06:00:00+01:00\nduration: 1h\nworld: {nodes: 2}\ntimeline:\n" \
           "  - at: '+1m'\n    sensor: {node: node-9, fault: stuck}\n"
    with pytest.raises(ScenarioError, match="no node 'node-9'"):
        run_scenario(parse(text))
