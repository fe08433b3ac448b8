"""The HTML report's timeline shows the scenario's faults where the scenario put them."""

from sim.scenario.report import intervals, timeline_svg
from sim.scenario.runner import run_scenario
from sim.scenario.loader import load


def test_the_timeline_bars_are_the_faults_of_the_scenario_file():
    run = run_scenario(load("scenarios/quickstart.yaml"))
    bars = intervals(run.trace.records, run.duration)
    # quickstart.yaml: node-2~broker down 08:20 for 5m, the broker down 08:40 for 30s (start 08:00)
    assert bars["node-2~broker"] == [(20 * 60.0, 25 * 60.0, "link.down")]
    assert bars["broker"] == [(40 * 60.0, 40 * 60.0 + 30, "broker.stopped")]
    assert set(bars) == {"node-2~broker", "broker"}  # a latency change is no outage: no bar
    svg = timeline_svg(run)
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")


def test_a_fault_still_open_at_the_end_is_drawn_to_the_end():
    records = [{"t": 10.0, "src": "controller~internet", "kind": "link.down"},
               {"t": 20.0, "src": "controller", "kind": "relay.on"},
               {"t": 30.0, "src": "controller", "kind": "relay.off"},
               {"t": 40.0, "src": "controller", "kind": "relay.off"}]  # a second off opens nothing
    assert intervals(records, 100.0) == {"controller~internet": [(10.0, 100.0, "link.down")],
                                         "controller": [(20.0, 30.0, "relay.on")]}
