"""Cloud sync (``system/services/sync.py``) against the real cloud app in process: in order, idempotent,
resumable, convergent, and rebuilt by a full resync when the mirror is lost.

The link is an httpx transport that can be down (the request never arrives) or lose the answer
(the cloud applied the batch, the device never hears it): the two failures that make sync hard.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cloud_fixtures import make_cloud
from system.adapters.controller_store import Store
from system.decisions.alerts import Snooze
from system.decisions.events import Alert, Event
from system.errors import BackendError
from system.services.sync import Sync
from sim.kernel.runtime import SimRuntime


class Link(httpx.AsyncBaseTransport):
    """Between the device and the cloud: ``up``, ``down``, or ``lossy`` (requests arrive, answers are lost)."""

    def __init__(self, inner: httpx.AsyncBaseTransport):
        self.inner = inner
        self.state = "up"

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.state == "down":
            raise httpx.ConnectError("link down", request=request)
        response = await self.inner.handle_async_request(request)
        if self.state == "lossy":
            await response.aread()
            raise httpx.ReadError("answer lost", request=request)
        return response


def device(loop, store: Store | None = None):
    cloud = make_cloud(loop)
    link = Link(httpx.ASGITransport(app=cloud.app))
    client = httpx.AsyncClient(transport=link, base_url="http://cloud")
    store = store or Store(":memory:")
    sync = Sync(SimRuntime(seed=1, start=1_700_000_000.0), store, client, "http://cloud", "pi", cloud.tokens["pi"],
                batch=3)
    return cloud, link, store, sync


def converged(cloud, store) -> bool:
    upto, rows = store.snapshot()
    mirror = cloud.store.mirror("pi")
    return {t: k for t, k in rows.items() if k} == mirror and cloud.store.sync_state("pi")["applied"] == upto


def game(i: int) -> Event:
    return Event(key=f"g{i}", kind="game", title=f"Home - Team {i}", start=1_800_000_000.0 + 86400 * i)


def test_changes_arrive_in_batches_and_the_outbox_empties(loop):
    cloud, _, store, sync = device(loop)
    for i in range(7):
        store.put_event(game(i))
    assert loop.run_until_complete(sync.sync_once())
    assert sync.pushed == 3  # 7 changes in batches of 3
    assert store.outbox_pending() == [] and converged(cloud, store)


def test_a_lost_answer_is_replayed_without_applying_twice(loop):
    cloud, link, store, sync = device(loop)
    store.put_event(game(1))
    store.add_extra("g1", 3600.0)
    link.state = "lossy"
    with pytest.raises(BackendError):
        loop.run_until_complete(sync.sync_once())
    assert cloud.store.sync_state("pi")["applied"] == 2 and len(store.outbox_pending()) == 2  # cloud has them
    store.remove_extra("g1", 3600.0)
    link.state = "up"
    loop.run_until_complete(sync.sync_once())
    assert converged(cloud, store) and cloud.store.mirror("pi").get("extras", {}) == {}


def test_sync_resumes_after_an_outage_and_a_restart(tmp_path, loop):
    path = str(tmp_path / "store.sqlite")
    cloud, link, store, sync = device(loop, Store(path))
    store.put_event(game(1))
    loop.run_until_complete(sync.sync_once())
    link.state = "down"
    store.put_event(game(2))
    with pytest.raises(BackendError):
        loop.run_until_complete(sync.sync_once())
    store.close()
    restarted = Store(path)  # power cut: a new process opens the same file
    restarted.put_event(game(3))
    sync2 = Sync(SimRuntime(seed=1), restarted, sync.client, "http://cloud", "pi", cloud.tokens["pi"], batch=3)
    link.state = "up"
    loop.run_until_complete(sync2.sync_once())
    assert converged(cloud, restarted) and sorted(cloud.store.mirror("pi")["events"]) == ["g1", "g2", "g3"]
    assert sync2.resyncs == 0


def test_a_lost_mirror_is_rebuilt_by_a_full_resync(loop):
    cloud, _, store, sync = device(loop)
    store.put_event(game(1))
    store.add_snooze(Snooze("g1/policy/14400", 1.0, 2.0))
    loop.run_until_complete(sync.sync_once())
    cloud.store.reset_mirror("pi")  # the cloud lost it (a restore from an old backup, a new database)
    loop.run_until_complete(sync.sync_once())  # nothing pending on the device, yet the mirror is rebuilt
    assert sync.resyncs == 1 and converged(cloud, store)


def test_a_replaced_device_store_replaces_the_mirror(loop):
    cloud, _, store, sync = device(loop)
    for i in range(4):
        store.put_event(game(i))
    loop.run_until_complete(sync.sync_once())
    fresh = Store(":memory:")  # a new SD card
    fresh.put_event(game(9))
    sync2 = Sync(SimRuntime(seed=1), fresh, sync.client, "http://cloud", "pi", cloud.tokens["pi"])
    loop.run_until_complete(sync2.sync_once())
    assert sync2.resyncs == 1 and converged(cloud, fresh) and list(cloud.store.mirror("pi")["events"]) == ["g9"]


steps = st.lists(st.one_of(
    st.tuples(st.just("event"), st.integers(0, 5)),
    st.tuples(st.just("cancel"), st.integers(0, 5)),
    st.tuples(st.just("extra"), st.integers(0, 5), st.sampled_from([600.0, 3600.0])),
    st.tuples(st.just("unextra"), st.integers(0, 5), st.sampled_from([600.0, 3600.0])),
    st.tuples(st.just("snooze"), st.integers(0, 5)),
    st.tuples(st.just("fire"), st.integers(0, 5)),
    st.tuples(st.just("link"), st.sampled_from(["up", "down", "lossy"])),
    st.tuples(st.just("sync")),
    st.tuples(st.just("cloud_reset")),
    st.tuples(st.just("power_cut")),
), max_size=40)


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(steps)
def test_property_the_mirror_converges_whatever_the_interleaving(tmp_path_factory, plan):
    """Over random device changes, link outages and lost answers, cloud resets and power cuts:
    once the link is up and a sync completes, the mirror equals the device's store."""
    loop = asyncio.new_event_loop()
    path = str(tmp_path_factory.mktemp("sync") / "store.sqlite")
    try:
        cloud, link, store, sync = device(loop, Store(path))
        for step in plan:
            kind = step[0]
            if kind == "event":
                store.put_event(game(step[1]))
            elif kind == "cancel" and store.event(f"g{step[1]}"):
                store.put_event(Event(**{**store.event(f"g{step[1]}").__dict__, "status": "cancelled"}))
            elif kind == "extra" and store.event(f"g{step[1]}"):
                store.add_extra(f"g{step[1]}", step[2])
            elif kind == "unextra":
                store.remove_extra(f"g{step[1]}", step[2])
            elif kind == "snooze":
                store.add_snooze(Snooze(f"g{step[1]}/policy/14400", 1.0, 2.0))
            elif kind == "fire" and store.event(f"g{step[1]}"):
                alert = Alert(f"g{step[1]}/policy/14400", f"g{step[1]}", 100.0, 600.0)
                store.record_fired(alert, 100.0) or store.record_ended(alert.id, alert.at, 700.0)
            elif kind == "link":
                link.state = step[1]
            elif kind == "sync":
                try:
                    loop.run_until_complete(sync.sync_once())
                except BackendError:
                    pass
            elif kind == "cloud_reset":
                cloud.store.reset_mirror("pi")
            elif kind == "power_cut":
                store.close()
                store = Store(path)
                sync = Sync(SimRuntime(seed=1), store, sync.client, "http://cloud", "pi", cloud.tokens["pi"], batch=3)
        link.state = "up"
        loop.run_until_complete(sync.sync_once())
        assert converged(cloud, store)
        store.close()
    finally:
        loop.close()
