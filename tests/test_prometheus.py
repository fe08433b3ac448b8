"""Prometheus formats: what the bridge exposes and pushes is read back by Prometheus' own parser."""

import json
import math
import re

import httpx
import pytest
import respx
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from sim.runtime import SimRuntime
from system.services.bridge import Bridge
from system.errors import BackendError
from sim.pushgateway import RecordingPushTarget
from system.adapters.pushgateway import PushgatewayTarget
from system.services.prometheus import Family, ReadingPusher, reading_gauges, render
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


def test_the_push_body_has_the_original_three_gauges():
    body = reading_gauges(Reading("node-1", 7, START, 21.5, 40.2, -61.0))
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


label_text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=20)


@given(st.dictionaries(st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True), label_text, max_size=3),
       st.one_of(st.integers(-2**53, 2**53), st.floats(allow_nan=True)))
def test_any_label_values_and_numbers_read_back_unchanged(labels, value):
    labels = {k: v for k, v in labels.items() if not k.startswith("__")}
    text = render([Family("x_total", "counter", 'help with \\ and\nnewline', (("", labels, value),))])
    (sample,) = [s for f in text_string_to_metric_families(text) for s in f.samples]
    assert sample.labels == labels
    assert (math.isnan(sample.value) and math.isnan(value)) or sample.value == value


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
    dash = json.load(open("dashboards/telemetry.json"))
    rt = SimRuntime(seed=1, start=START)
    bridge = Bridge(rt, mqtt=None, store=ReadingStore(), pusher=_Pusher())
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


class _Pusher:
    pushes = failures = 0
    pending: dict = {}

    def offer(self, reading):
        pass
