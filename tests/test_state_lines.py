"""State lines (hilsim/wiring/state_lines.py): which trace records an operator sees on stderr, and how."""

import io
import re
from datetime import datetime

from hilsim.wiring.state_lines import LINES, StateLines, state_line


def test_every_state_kind_is_one_line_and_other_kinds_stay_in_the_trace():
    for kind in LINES:
        text = state_line({"kind": kind, "t": 1.0})
        assert text and "\n" not in text, kind
    for kind in ("reading.stored", "reading.duplicate", "metrics.pushed", "client.connected", "relay.on"):
        assert state_line({"kind": kind}) is None


def test_a_lost_session_says_why_and_that_the_bridge_takes_it_back():
    line = state_line({"kind": "bridge.session_lost", "reason": "probe 4 not back within 10 s"})
    assert line == "session lost: probe 4 not back within 10 s; connecting again to take it back"


def test_a_disconnect_says_why_and_when_the_next_attempt_is():
    line = state_line({"kind": "bridge.disconnected", "error": "cannot reach 10.0.0.2:1883: refused",
                       "retry_in": 3.14159})
    assert line == "disconnected: cannot reach 10.0.0.2:1883: refused; retry in 3.1 s"
    assert state_line({"kind": "relay.failed", "op": "on", "error": "board silent", "retry_in": 2.0}) == \
        "relay failed to switch on: board silent; retry in 2.0 s"


def test_refusals_name_the_reason():
    assert state_line({"kind": "reading.refused", "topic": "sensors/x/reading", "reason": "bad_json",
                       "detail": "line 1"}) == "refused input on sensors/x/reading: bad_json (line 1)"
    assert "garbled" in state_line({"kind": "source.suspicious", "url": "http://club", "reason": "garbled",
                                    "detail": "no rows"})


def test_lines_carry_the_wall_clock_time_of_the_record_and_the_process_name():
    out = io.StringIO()
    StateLines("bridge", out, epoch=lambda: 1_764_356_400.0)({"kind": "process.stopped", "t": 2.5,
                                                               "reason": "SIGTERM"})
    StateLines("bridge", out, epoch=lambda: 0.0)({"kind": "reading.stored", "t": 1.0})
    (line,) = out.getvalue().splitlines()
    when = datetime.fromtimestamp(1_764_356_402.5).astimezone().isoformat(timespec="seconds")
    assert line == f"{when} bridge: stopped (SIGTERM)"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d", when)


def test_the_cloud_and_its_controller_say_what_an_operator_acts_on():
    assert state_line({"kind": "alarm.raised", "device": "pi"}) == "alarm raised: no heartbeat from pi"
    assert state_line({"kind": "alarm.cleared", "device": "pi"}) == "alarm cleared: heartbeat back from pi"
    assert state_line({"kind": "sync.failed", "error": "cloud unreachable", "retry_in": 5.04}) == \
        "cloud sync failed: cloud unreachable; retry in 5.0 s"
    assert "keeps running" in state_line({"kind": "ota.failed", "reason": "bad_hash", "detail": "got 00"})
