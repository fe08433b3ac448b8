"""Job ids unique forever: ULIDs (``system/decisions/jobs_protocol.py``'s ``new_job_id``), made by the cloud
from its runtime's clock and random stream, so that a cloud whose store was recreated or restored from an
old backup can't hand the device an id its at-most-once record already holds.
"""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cloud_fixtures import logged_in, make_cloud
from system.adapters.cloud_store import CloudStore
from system.decisions.jobs_protocol import check_job_id, new_job_id
from test_job_agent import FIRST, START, Loop

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


@pytest.mark.parametrize("ms, entropy, expected", [
    # the ULID specification's example time (github.com/ulid/spec): 1469918176385 ms -> 01ARYZ6S41
    (1469918176385, 0, "01ARYZ6S41" + "0" * 16),
    (0, 0, "0" * 26),
    (0, 1, "0" * 25 + "1"),
    (0, 31, "0" * 25 + "Z"),
    (0, 32, "0" * 24 + "10"),
    (1, 0, "0" * 9 + "1" + "0" * 16),
    (2**48 - 1, 2**80 - 1, "7" + "Z" * 25),
])
def test_a_job_id_is_a_ulid(ms, entropy, expected):
    assert new_job_id(ms, entropy) == expected


@given(st.integers(0, 2**48 - 2), st.integers(1, 2**40), st.integers(0, 2**80 - 1), st.integers(0, 2**80 - 1))
def test_ulids_sort_by_their_millisecond(ms, later, a, b):
    first, second = new_job_id(ms, a), new_job_id(min(ms + later, 2**48 - 1), b)
    assert first < second
    assert len(first) == 26 and set(first) <= set(CROCKFORD) and check_job_id(first) is None


def test_the_clouds_api_names_jobs_with_ulids_of_its_clock():
    loop = asyncio.new_event_loop()
    try:
        cloud = make_cloud(loop)

        async def go():
            client, csrf = await logged_in(cloud)
            made = []
            for title in ("One", "Two", "Three"):
                r = await client.post("/api/devices/pi/jobs", headers={"X-CSRF-Token": csrf},
                                      json={"operation": "createEvent", "title": title, "start": START})
                assert r.status_code == 201, r.text
                made.append(r.json())
            return made
        made = cloud.run(go())
    finally:
        loop.close()
    ids = [job["id"] for job in made]
    assert len(set(ids)) == 3 and all(len(i) == 26 and set(i) <= set(CROCKFORD) for i in ids)
    for job in made:  # the first 10 characters are the creation time in ms, base 32
        ms = 0
        for c in job["id"][:10]:
            ms = ms * 32 + CROCKFORD.index(c)
        assert abs(ms / 1000 - job["created"]) < 0.002, job


class IdLoop(Loop):
    """The sim loop of ``test_job_agent``; ``api``: jobs named as the cloud's API names them (its runtime's
    clock and random stream), else as the store names them when given no id."""

    def __init__(self, start: float, api: bool):
        super().__init__(start)
        self.api = api

    def queue(self, document: dict, timeout: float = 600.0) -> str:
        if not self.api:
            return super().queue(document, timeout)
        job_id = new_job_id(int(self.rt.now() * 1000), self.rt.rng("cloud/job-ids").getrandbits(80))
        job = self.cloud.create_job("pi", document, self.rt.now(), timeout=timeout, created_by="ann", job_id=job_id)
        self.service.notify("pi")
        return job.id

    def recreate_cloud_store(self) -> None:
        """The cloud's store lost: a new, empty one with the device registered again."""
        self.cloud = CloudStore()
        self.cloud.add_device("pi", self.rt.now())
        self.service.store = self.cloud


@pytest.mark.parametrize("api", [True, False])
def test_a_recreated_cloud_store_cannot_alias_the_jobs_the_device_already_ran(api):
    loop = IdLoop(START + 3600, api)
    loop.run(5)
    old = [loop.queue({"operation": "createAlert", "event_key": "g1", "before": 600.0 * i}) for i in (1, 2)]
    loop.run(10)
    assert [loop.cloud.job(j).status for j in old] == ["SUCCEEDED"] * 2
    loop.recreate_cloud_store()
    new = [loop.queue({"operation": "snoozeAlert", "local_alert_id": FIRST}),
           loop.queue({"operation": "createAlert", "event_key": "g1", "before": 5400.0})]
    loop.run(10)
    assert not set(new) & set(old)
    assert [loop.cloud.job(j).status for j in new] == ["SUCCEEDED"] * 2
    assert [loop.cloud.job(j).details.get("alert") for j in new] == [FIRST, "g1/extra/5400"]
    assert loop.agent.executed == old + new and len(loop.store.snoozes()) == 1
    assert sorted(r.before for r in loop.store.extras()["g1"]) == [600.0, 1200.0, 5400.0]
