"""Prometheus formats: what the bridge exposes and pushes is read back by Prometheus' own parser."""

import json
import re

import httpx
import pytest
import respx
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from sim.kernel.runtime import SimRuntime
from system.services.bridge import Bridge
from system.errors import BackendError
from sim.models.push_recorder import RecordingPushTarget
from system.adapters.pushgateway import PushgatewayTarget
from system.services.prometheus import LAG_BUCKETS, LagHistogram, ReadingGauges, ReadingPusher, exposition
from system.adapters.reading_store import ReadingStore
from system.decisions.readings import REASONS, Reading

START = 1_773_471_600.0


def parse(text: str) -> dict:
    """{(sample name, sorted labels): value} as Prometheus' client library reads the text."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples}


def payload(node, seq, ts, temperature=21.5):
    return json.dumps({"node": node, "seq": seq, "ts": ts, "temperature": temperature, "humidity": 40.2,
                       "wifi_rssi": -61}).encode()


def test_the_bridge_exposition_counts_what_happened():
    rt = SimRuntime(seed=1, start=START)
    bridge = Bridge(rt, mqtt=None, store=ReadingStore())
    for seq in (1, 2, 2):
        bridge.handle("sensors/node-1/reading", payload("node-1", seq, START - 30))
    bridge.handle("sensors/node-2/reading", payload("node-2", 1, 0))
    bridge.handle("sensors/node-2/reading", b"not json")
    bridge.handle("sensors/node-2/reading", payload("node-2", 2, START, temperature=200))
    samples = parse(bridge.exposition())
    assert samples[("bridge_readings_stored_total", (("node", "node-1"),))] == 2
    assert samples[("bridge_readings_stored_total", (("node", "node-2"),))] == 1
    assert samples[("bridge_readings_duplicate_total", (("node", "node-1"),))] == 1
    assert samples[("bridge_readings_unclocked_total", (("node", "node-2"),))] == 1
    assert samples[("bridge_readings_refused_total", (("reason", "not_json"),))] == 1
    assert samples[("bridge_readings_refused_total", (("reason", "out_of_range"),))] == 1
    assert {labels[0][1] for (name, labels) in samples if name == "bridge_readings_refused_total"} == set(REASONS)
    # Two readings with a clock, each stored 30 s after it was taken (sim time does not move here).
    assert samples[("bridge_reading_lag_seconds_count", ())] == 2
    assert samples[("bridge_reading_lag_seconds_sum", ())] == 60
    assert samples[("bridge_reading_lag_seconds_bucket", (("le", "10.0"),))] == 0
    assert samples[("bridge_reading_lag_seconds_bucket", (("le", "60.0"),))] == 2
    assert samples[("bridge_last_reading_timestamp_seconds", (("node", "node-1"),))] == START - 30
    assert samples[("bridge_mqtt_connected", ())] == 0


def test_a_bridges_series_stay_in_its_own_registry():
    """Two bridges in one process count apart, and neither writes into prometheus_client's global registry."""
    rt = SimRuntime(seed=1, start=START)
    first, second = Bridge(rt, mqtt=None, store=ReadingStore()), Bridge(rt, mqtt=None, store=ReadingStore())
    first.handle("sensors/node-1/reading", payload("node-1", 1, START))
    assert parse(first.exposition())[("bridge_readings_stored_total", (("node", "node-1"),))] == 1
    assert ("bridge_readings_stored_total", (("node", "node-1"),)) not in parse(second.exposition())
    assert REGISTRY.get_sample_value("bridge_readings_stored_total", {"node": "node-1"}) is None
    assert REGISTRY.get_sample_value("bridge_mqtt_connects_total") is None


def test_the_exposition_carries_no_wall_clock_series():
    """No ``_created`` samples (prometheus_client stamps those with the wall clock): a sim run reads no real time."""
    rt = SimRuntime(seed=1, start=START)
    from system.services.remote_write import RemoteWriter

    bridge = Bridge(rt, mqtt=None, store=ReadingStore(), pusher=ReadingPusher(rt, RecordingPushTarget(rt)),
                    remote=RemoteWriter(rt, target=None))
    bridge.handle("sensors/node-1/reading", payload("node-1", 1, START))
    assert "_created" not in bridge.exposition()
    assert bridge.exposition() == bridge.exposition()  # rendering twice changes nothing


def test_the_exposition_is_rendered_when_asked_with_the_values_of_that_moment():
    rt = SimRuntime(seed=1, start=START)
    bridge = Bridge(rt, mqtt=None, store=ReadingStore())
    before = parse(bridge.exposition())
    assert ("bridge_readings_stored_total", (("node", "node-1"),)) not in before
    bridge.handle("sensors/node-1/reading", payload("node-1", 1, START))
    bridge.handle("sensors/node-1/reading", payload("node-1", 2, START))
    assert parse(bridge.exposition())[("bridge_readings_stored_total", (("node", "node-1"),))] == 2


@given(st.lists(st.one_of(st.sampled_from(LAG_BUCKETS), st.floats(-10, 1e6, allow_nan=False)), max_size=30))
def test_the_lag_histogram_has_cumulative_buckets_with_each_bound_inclusive(values):
    """Each bucket counts the observations <= its bound (a value on a bound is in it), +Inf counts all."""
    hist = LagHistogram()
    for value in values:
        hist.observe(value)
    samples = parse(exposition(_Families(hist.family("lag_seconds", "lag"))))
    for bound in LAG_BUCKETS:
        assert samples[("lag_seconds_bucket", (("le", str(bound)),))] == sum(v <= bound for v in values)
    assert samples[("lag_seconds_bucket", (("le", "+Inf"),))] == samples[("lag_seconds_count", ())] == len(values)
    assert samples[("lag_seconds_sum", ())] == pytest.approx(sum(values))


class _Families:
    """A collector of fixed families."""

    def __init__(self, *families):
        self.families = families

    def collect(self):
        return iter(self.families)


def test_the_push_body_has_the_original_three_gauges():
    body = exposition(ReadingGauges(Reading("node-1", 7, START, 21.5, 40.2, -61.0)))
    families = {f.name: f for f in text_string_to_metric_families(body)}
    assert {name: (f.type, f.samples[0].value) for name, f in families.items()} == {
        "temperature": ("gauge", 21.5), "humidity": ("gauge", 40.2), "RSSI": ("gauge", -61.0)}
    assert all(not s.labels and s.timestamp is None for f in families.values() for s in f.samples)


def test_the_pusher_pushes_each_nodes_newest_reading_under_its_own_job():
    """One Pushgateway job per node (here a template), carrying that node's latest values; an older reading
    offered after a newer one does not move the gauges back."""
    rt = SimRuntime(seed=1, start=START)
    target = RecordingPushTarget(rt)
    pusher = ReadingPusher(rt, target, job="esp32-{node}")

    async def main():
        rt.spawn(pusher.run(), "pusher")
        pusher.offer(Reading("node-1", 2, START, 22.0, 41.0, -60.0))
        pusher.offer(Reading("node-1", 1, START - 10, 21.0, 40.0, -59.0))  # late redelivery of an older one
        pusher.offer(Reading("node-2", 7, 0, -3.5, 55.5, -75.0))
        await rt.sleep(1.0)

    rt.run(main(), until=5)
    pushes = [(job, parse(body)) for _t, job, body in target.pushes]
    assert pushes == [
        ("esp32-node-1", {("temperature", ()): 22.0, ("humidity", ()): 41.0, ("RSSI", ()): -60.0}),
        ("esp32-node-2", {("temperature", ()): -3.5, ("humidity", ()): 55.5, ("RSSI", ()): -75.0})]
    assert pusher.pushes == 2 and not pusher.pending


@respx.mock
async def _push(job, response):
    route = respx.post(f"http://pg:9091/metrics/job/{job}").mock(return_value=response)
    async with httpx.AsyncClient() as client:
        await PushgatewayTarget(client, "http://pg:9091/").push(job.replace("%2F", "/"), "temperature 1\n")
    return route


def test_the_pushgateway_target_posts_the_body_to_the_jobs_url():
    import asyncio

    route = asyncio.run(_push("node-1", httpx.Response(200)))
    request = route.calls.last.request
    assert request.content == b"temperature 1\n"
    assert request.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert asyncio.run(_push("a%2Fb", httpx.Response(202))).called  # a job name is one path segment


@pytest.mark.parametrize("failure", [httpx.Response(500, text="boom"), httpx.Response(400, text="bad"),
                                     httpx.ConnectError("refused"), httpx.ReadTimeout("slow")])
def test_every_push_failure_becomes_a_backend_error(failure):
    import asyncio

    async def push():
        with respx.mock:
            route = respx.post("http://pg:9091/metrics/job/node-1")
            if isinstance(failure, Exception):
                route.mock(side_effect=failure)
            else:
                route.mock(return_value=failure)
            async with httpx.AsyncClient() as client:
                await PushgatewayTarget(client, "http://pg:9091").push("node-1", "x 1\n")

    with pytest.raises(BackendError):
        asyncio.run(push())


def test_the_dashboard_charts_only_series_that_exist():
    """Every metric a panel queries is pushed (the three gauges) or exposed by the bridge."""
    dash = json.load(open("deploy/grafana/dashboards/telemetry.json"))
    rt = SimRuntime(seed=1, start=START)
    from system.services.remote_write import RemoteWriter

    bridge = Bridge(rt, mqtt=None, store=ReadingStore(), pusher=ReadingPusher(rt, RecordingPushTarget(rt)),
                    remote=RemoteWriter(rt, target=None))
    bridge.handle("sensors/node-1/reading", payload("node-1", 1, START))
    declared = dict(re.findall(r"^# TYPE (\S+) (\S+)$", bridge.exposition(), re.M))
    exported = {name + suffix for name, kind in declared.items()
                for suffix in (["_bucket", "_sum", "_count"] if kind == "histogram" else [""])}
    exported |= {"temperature", "humidity", "RSSI"}
    titles = [p["title"] for p in dash["panels"]]
    assert {"Temperature", "Humidity", "RSSI"} <= set(titles)
    queried = set()
    for panel in dash["panels"]:
        for target in panel.get("targets", []):
            queried |= set(re.findall(r"\b(bridge_[a-z_]+|temperature|humidity|RSSI)\b", target["expr"]))
    assert queried and queried <= exported, queried - exported
    assert {"bridge_readings_refused_total", "bridge_reading_lag_seconds_bucket"} <= queried

