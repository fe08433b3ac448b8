"""The interactive timeline's content, read without a browser: kinds read generically, marks capped."""

from __future__ import annotations

from sim.scenario import timeline_html
from sim.scenario.timeline_html import lane_of, marked, spans, write_timeline

HEADER = {"kind": "trace.header", "start": "2026-03-14T08:00:00+01:00", "scenario": "x", "seed": 1}


def test_a_fault_kind_nobody_has_written_yet_is_marked_in_its_targets_lane(tmp_path):
    records = [{"t": 10.0, "src": "node-1", "kind": "reading.stored"},
               {"t": 60.0, "src": "world", "kind": "fault.earthquake", "target": "node-7", "magnitude": 9},
               {"t": 61.0, "src": "world", "kind": "fault.storm", "target": "bridge~broker"},
               {"t": 62.0, "src": "cloud", "kind": "alarm.raised"}]
    assert marked(records) == [1, 2, 3]  # not the reading: routine traffic is counted, not marked
    data = timeline_html._mark_data(records, base=0.0)
    assert data["faults"]["kind"] == ["fault.earthquake", "fault.storm"]
    assert data["faults"]["lane"] == ["nodes", "links"] and data["faults"]["x"] == [60_000.0, 61_000.0]
    assert data["events"]["lane"] == ["cloud"]
    assert '> {"kind":"fault.earthquake","magnitude":9,"src":"world","t":60.0,"target":"node-7"}' \
        in data["faults"]["context"][0]
    write_timeline(records, HEADER, 3600.0, "x", tmp_path / "timeline.html")
    page = (tmp_path / "timeline.html").read_text()
    assert "fault.earthquake" in page and "<script" in page and "cdn.bokeh.org" not in page  # inlined: offline


def test_marks_are_capped_for_a_fleet_and_faults_are_always_kept(monkeypatch):
    monkeypatch.setattr(timeline_html, "MAX_MARKS", 50)
    records = [{"t": float(i), "src": f"node-{i}", "kind": "mqtt.connected"} for i in range(1000)]
    records += [{"t": 500.5, "src": "broker", "kind": "broker.stopped"}]
    kept = marked(records)
    assert len(kept) == 50 and 1000 in kept


def test_spans_pair_outages_latency_changes_and_relay_windows():
    records = [{"t": 5.0, "src": "a~b", "kind": "link.changed", "latency": 2.0},
               {"t": 9.0, "src": "a~b", "kind": "link.changed", "latency": 0.005},
               {"t": 10.0, "src": "controller", "kind": "relay.on"},
               {"t": 20.0, "src": "controller", "kind": "relay.off"},
               {"t": 30.0, "src": "n~broker", "kind": "link.down"}]
    got = spans(records, horizon=100.0)
    assert [(a, b, lane) for a, b, lane, _, _ in got["latency_windows"]] == [(5.0, 9.0, "links")]
    assert [(a, b, lane) for a, b, lane, _, _ in got["light_windows"]] == [(10.0, 20.0, "controller / light")]
    assert [(a, b) for a, b, _, _, _ in got["outage_windows"]] == [(30.0, 100.0)]  # still down at the end


def test_lanes_of_the_parties():
    table = {"node-12": "nodes", "node-3~broker": "links", "controller": "controller / light",
             "club-site": "club site", "user": "user", "adversary": "adversary", "cloud": "cloud",
             "broker": "broker", "world": "world"}
    assert {party: lane_of(party) for party in table} == table
