"""waves.vcd read back with pyvcd's own reader: the states the scenario files schedule, and, for made-up
traces, every wire's changes equal to the trace's own events (the oracle)."""

from __future__ import annotations

import subprocess
import sys
from collections import defaultdict

from hypothesis import given, settings, strategies as st
from vcd.reader import TokenKind, tokenize

from processes import ROOT
from sim.scenario.vcd import write_vcd


def read_waves(path) -> dict[str, list[tuple[int, int]]]:
    """{"scope.wire": [(ms, value), ...]} from a VCD file, through pyvcd's tokenizer."""
    names, scopes, waves, now = {}, [], defaultdict(list), 0
    with open(path, "rb") as f:
        for token in tokenize(f):
            if token.kind is TokenKind.SCOPE:
                scopes.append(token.data.ident)
            elif token.kind is TokenKind.UPSCOPE:
                scopes.pop()
            elif token.kind is TokenKind.VAR:
                names[token.data.id_code] = ".".join(scopes[1:] + [token.data.reference])
            elif token.kind is TokenKind.CHANGE_TIME:
                now = token.data
            elif token.kind is TokenKind.CHANGE_SCALAR:
                waves[names[token.data.id_code]].append((now, int(token.data.value)))
    return dict(waves)


def value_at(wave: list[tuple[int, int]], ms: int) -> int:
    return [v for t, v in wave if t <= ms][-1]


def test_offline_snooze_waves_show_the_internet_outage_and_the_light(tmp_path):
    run = subprocess.run([sys.executable, "-m", "hilsim", "run", "scenarios/offline-snooze.yaml", "--out",
                          str(tmp_path), "-q", "--no-report"], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    waves = read_waves(tmp_path / "waves.vcd")
    hour = 3600_000  # the run starts at 08:00
    internet, relay = waves["link.controller_internet"], waves["relay.controller"]
    assert [value_at(internet, h * hour) for h in (5, 7)] == [1, 0]  # down 14:00-16:00
    assert value_at(internet, 8 * hour + 1) == 1
    assert value_at(relay, int(8.5 * hour) + 5 * 60_000) == 0  # 16:35: snoozed
    assert value_at(relay, 9 * hour + 5 * 60_000) == 1  # 17:05
    assert value_at(relay, 9 * hour + 20 * 60_000) == 1  # 17:20


EVENT = st.sampled_from([("relay.on", "controller", None), ("relay.off", "controller", None),
                         ("link.down", "node-1~broker", None), ("link.up", "node-1~broker", None),
                         ("wifi.disconnected", "node-2", "node"), ("wifi.connected", "node-2", "node"),
                         ("power.lost", "node-3", "party"), ("power.restored", "node-3", "party")])


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 10_000), EVENT), max_size=30))
def test_every_state_change_of_a_trace_is_a_value_change_at_its_time(tmp_path_factory, events):
    records, t = [], 0
    for step, (kind, party, field) in events:
        t += step
        record = {"t": t / 1000, "src": "world" if field else party, "kind": kind}
        if field:
            record[field] = party
        records.append(record)
    path = tmp_path_factory.mktemp("vcd") / "waves.vcd"
    write_vcd(records, {"start": "2026-01-01T00:00:00+00:00", "scenario": "x", "seed": 1}, path)
    waves = read_waves(path)
    wire = {"relay": "relay.controller", "link": "link.node_1_broker", "wifi": "wifi.node_2", "power": "power.node_3"}
    expected = defaultdict(list)
    for r in records:
        party_kind = r["kind"].split(".")[0]
        up = r["kind"] in ("relay.on", "link.up", "wifi.connected", "power.restored")
        expected[wire[party_kind]].append((round(r["t"] * 1000), int(up)))
    assert set(waves) == set(expected)
    for name, states in expected.items():
        for ms, _ in states:  # the state at each event's time is that of the last event up to then
            assert value_at(waves[name], ms) == [v for t, v in states if t <= ms][-1], (name, ms)
        event_times = {ms for ms, _ in states}
        assert all(ms in event_times for ms, _ in waves[name][1:])  # no change the trace did not make
