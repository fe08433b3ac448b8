"""The bench's fleet runs what it says: N nodes, a reading every 10 s, every reading stored (no timing asserted)."""

from bench.fleet import measure


def test_a_small_fleet_stores_every_reading_and_counts_kernel_events():
    m = measure(3, 120)
    assert m["ok"] and m["stored"] == 3 * 11  # t=10..110 s; the sample at 120 s is the run's end
    assert 5 < m["events"] / m["stored"] < 30
    assert m["peak_rss"] > 0
