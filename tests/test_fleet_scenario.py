"""The 1,000-node fleet scenario: a broker restart and lossy links to a tenth of the nodes lose no reading."""

import pytest


pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run(scenario_run):
    # the plugin's item for the file reports its verdicts from this run instead of running it again
    return scenario_run("scenarios/fleet-1000.yaml", hash_only=True)


def test_every_reading_is_stored_once_through_the_restart_and_the_lossy_links(run):
    assert [(v.name, v.ok, v.measured) for v in run.verdicts][:2] == [
        ("readings_lost", True, "0 of 59000"), ("readings_duplicated", True, "0")]
    assert all(v.ok for v in run.verdicts)


def test_the_faults_took_effect(run):
    counts = run.trace.counts
    assert counts["broker.stopped"] == 1 and counts["link.changed"] == 100
    # lost packets on the lossy links make nodes time out and resend, beyond the restart's one reconnect each
    assert counts["mqtt.connected"] > 2 * 1000
    assert counts["reading.duplicate"] > 0  # resent readings the bridge absorbed


def test_hash_only_keeps_just_what_the_expectations_read(run):
    assert run.trace.records == [] and len(run.trace.of_kind("reading.stored")) == 59000
    assert len(run.trace.of_kind("reading.published")) == 0
    assert run.trace.counts["reading.published"] == 59000  # counted and hashed, not kept
