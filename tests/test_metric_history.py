"""The cloud's bounded metrics history (``system/adapters/metric_history.py``): raw samples for a while, then one
point per step per tier, then nothing; reads take the finest history covering each moment; ``after`` gives only
what is new. Expected points are worked out by hand below, not by the module's own arithmetic.
"""

from __future__ import annotations

import asyncio

import pytest

from cloud_fixtures import logged_in, make_cloud
from system.adapters.cloud_store import CloudStore
from system.adapters.metric_history import Retention

# raw samples 100 s, one point a minute for 300 s, one point per 5 minutes for 1200 s
SMALL = Retention(raw_for=100.0, tiers=((60.0, 300.0), (300.0, 1200.0)))


def _pushed_every_30s(until: float = 1500.0) -> CloudStore:
    store = CloudStore(retention=SMALL)
    for t in range(0, int(until) + 1, 30):
        store.add_metrics("pi", float(t), {"c": float(t)})
    return store


def test_each_moment_comes_from_the_finest_history_that_still_holds_it():
    store = _pushed_every_30s()
    # At 1500: raw keeps 1410..1500; the minute tier keeps each minute's last sample (xx:30) from 1200 on, and
    # the current minute's 1500; the 5-minute tier keeps 570, 870, 1170, 1470 and 1500 (270 is past 1200 s).
    expected = [570, 870, 1170, 1230, 1290, 1350, 1410, 1440, 1470, 1500]
    assert [(s["at"], s["value"]) for s in store.metrics("pi")] == [(float(t), float(t)) for t in expected]
    assert [s["at"] for s in store.metrics("pi", 1000.0)] == [float(t) for t in expected if t >= 1000]


def test_the_history_stays_bounded():
    store = _pushed_every_30s(until=20_000.0)
    counts = dict(store.db.execute("SELECT step, count(*) FROM metric_points GROUP BY step"))
    raw = store.db.execute("SELECT count(*) FROM metrics").fetchone()[0]
    # 100 s of samples every 30 s: 4; 300 s of minutes: 5 or 6; 1200 s of 5-minute steps: 4 or 5
    assert raw == 4 and counts[60.0] <= 6 and counts[300.0] <= 5


def test_after_gives_only_what_is_newer():
    store = _pushed_every_30s()
    assert [s["at"] for s in store.metrics("pi", after=1440.0)] == [1470.0, 1500.0]
    assert store.metrics("pi", after=1500.0) == []
    assert [s["at"] for s in store.metrics("pi", after=500.0)][:2] == [570.0, 870.0]


def test_the_last_heartbeat_outlives_the_raw_samples():
    store = CloudStore(retention=SMALL)
    store.add_metrics("pi", 600.0, {"RPI_BACKEND_STATUS": 1.0})
    for t in range(630, 1501, 30):
        store.add_metrics("pi", float(t), {"c": 1.0})
    assert store.last_heartbeat("pi") == 600.0  # from the 5-minute tier: the raw sample is gone


def test_a_retention_must_go_from_fine_to_coarse():
    with pytest.raises(ValueError):
        Retention(tiers=((3600.0, 100.0), (300.0, 100.0)))
    with pytest.raises(ValueError):
        Retention(raw_for=0.0)


def test_the_default_keeps_5_minute_points_for_30_days_and_hourly_for_a_year():
    assert Retention().tiers == ((300.0, 30 * 86400.0), (3600.0, 365 * 86400.0))


def test_the_dashboard_api_answers_what_is_new_since_the_last_fetch():
    loop = asyncio.new_event_loop()
    cloud = make_cloud(loop)
    for t in (100.0, 200.0, 300.0):
        cloud.store.add_metrics("pi", t, {"a": t, "b": 1.0})

    async def go():
        client, _ = await logged_in(cloud)
        whole = (await client.get("/api/devices/pi/metrics")).json()["samples"]
        newer = (await client.get("/api/devices/pi/metrics", params={"after": "200"})).json()["samples"]
        bad = await client.get("/api/devices/pi/metrics", params={"after": "yesterday"})
        return whole, newer, bad.status_code
    try:
        whole, newer, bad = cloud.run(go())
    finally:
        loop.close()
    assert len(whole) == 6 and newer == [{"at": 300.0, "name": "a", "value": 300.0},
                                         {"at": 300.0, "name": "b", "value": 1.0}]
    assert bad == 400
