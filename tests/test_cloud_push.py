"""Counters and log lines to the cloud (``system/services/cloud_push.py``): the log buffer is bounded while the
cloud is out of reach and every dropped line is counted and reported; both push targets get every count once."""

from __future__ import annotations

import asyncio
import json

import httpx

from sim.kernel.runtime import SimRuntime
from system.services.cloud_push import CountBoth, LogShipper
from system.services.metrics import Metrics


class Cloud:
    """A recording endpoint that can be unreachable."""

    def __init__(self):
        self.up = False
        self.batches: list[dict] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        if not self.up:
            raise httpx.ConnectError("down", request=request)
        self.batches.append(json.loads(request.content))
        return httpx.Response(200, json={"stored": 1})


def test_offline_lines_are_bounded_and_drops_counted_then_reported():
    cloud = Cloud()
    client = httpx.AsyncClient(transport=httpx.MockTransport(cloud.handler))
    shipper = LogShipper(SimRuntime(seed=1), client, "http://cloud", "pi", "pi.t", capacity=10, batch=4)
    for i in range(25):
        shipper.add(float(i), "k", f"line {i}")
    assert len(shipper.buffer) == 10 and shipper.dropped == 15
    assert asyncio.run(shipper.ship_once()) is False and len(shipper.buffer) == 10  # nothing lost while down
    cloud.up = True
    assert asyncio.run(shipper.ship_once()) is True
    shipped = [ln["line"] for b in cloud.batches for ln in b["lines"]]
    assert shipped == [f"line {i}" for i in range(15, 25)]  # the newest kept, in order
    assert [len(b["lines"]) for b in cloud.batches] == [4, 4, 2]
    assert sum(b["dropped"] for b in cloud.batches) == 15 and shipper.dropped == 0 and shipper.dropped_total == 15


def test_both_push_targets_count_everything_once():
    gateway, cloud = Metrics(), Metrics()
    both = CountBoth(gateway, cloud)
    both.count("alerts_snoozed")
    both.count("events_added", 3)
    gateway.subtract(gateway.snapshot())  # the Pushgateway push succeeded, the cloud's did not
    assert gateway.values["events_added"] == 0 and cloud.values["events_added"] == 3
