"""The cloud in the simulated world: the same app, store and services as ``hilsim cloud``, in process.

Enabled by ``world: {controller: {season: ..., cloud: {}}}`` (keys: ``sync_every``, ``poll_every``,
``heartbeat_period``, ``job_timeout``). The controller reaches the cloud's HTTP API through httpx's ASGI
transport *over the ``controller~internet`` link*, and its jobs through the broker model over the same
link; the cloud's jobs service talks to the broker over ``cloud~broker``. Users act through the dashboard
API (log in, read the events from the mirror, queue a job), so a snooze made while the controller is
offline waits as a QUEUED job, as it would in production.

World events (``cloud:`` on the timeline): ``down_for: 1h`` / ``down: true`` / ``up: true`` (the cloud
service unreachable: HTTP refused, its broker link down) and ``lose_mirror: true`` (the mirror is lost,
as with a restore from an old backup; the next sync rebuilds it). ``user: {update_application: VERSION}``
(optionally ``bad_hash: true`` or ``bad_signature: true``) is an OTA update: the package comes from the world's
update site, signed by the world's release key (an Ed25519 pair drawn from the scenario's seed, whose public
half the controller trusts; ``bad_signature``: signed by another key), and a good one makes the controller
restart into ``VERSION`` (a world event: no real installation).

Every ``check_every`` seconds the world compares the mirror with the device's store and traces
``mirror.checked`` (``in_sync``, ``behind``): what ``cloud_in_sync`` (``sim/scenario/cloud_check.py``) reads.
The cloud is the control of ``cloud:`` events (``set_up``, ``lose_mirror``).
"""

from __future__ import annotations

import hashlib
import io
import re
import sqlite3
import zipfile
from typing import Any

import httpx

from sim.scenario.faults import UserAction
from sim.models.sim_mqtt import SimMqttClient
from sim.models.network import HttpOverLink
from sim.scenario.spec import CloudConfig
from system.cloud.alarm import HeartbeatAlarm
from system.cloud.app import CloudSettings, create_app
from system.cloud.jobs_api import JobsService
from system.adapters.cloud_store import CloudStore
from system.services.controller import CloudLink
from system.decisions.signed_updates import Ed25519PrivateKey, private_key_from_seed, sign
from system.services.updater import Updater

DEVICE = "controller"
USER, PASSWORD = "office", "sim-password"
UPDATES = "http://updates.example"
START_SNAPSHOT = "start"  # the backup every world has: the store as provisioned, before the run


class _Gate(httpx.AsyncBaseTransport):
    """The cloud's front door: refuses to connect while the cloud is down."""

    def __init__(self, part: "CloudPart", inner: httpx.AsyncBaseTransport):
        self.part, self.inner = part, inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not self.part.up:
            raise httpx.ConnectError("the cloud is down", request=request)
        return await self.inner.handle_async_request(request)


class _UpdateSite(httpx.AsyncBaseTransport):
    """Where packages come from: ``<UPDATES>/hilsim-<version>.whl`` is a stand-in package of that version."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        found = re.fullmatch(r"/hilsim-([0-9A-Za-z.+_-]+)\.whl", request.url.path)
        if not found:
            return httpx.Response(404)
        return httpx.Response(200, content=package(found[1]))


def _key(rt: Any, stream: str) -> Ed25519PrivateKey:
    """A key pair drawn from the scenario's seed (the same key on every run of the scenario)."""
    rng = rt.rng(stream)
    return private_key_from_seed(bytes(rng.getrandbits(8) for _ in range(32)))


def package(version: str) -> bytes:
    """A stand-in wheel of ``version``: only its metadata (the same bytes on every run)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as wheel:
        wheel.writestr(zipfile.ZipInfo(f"hilsim-{version}.dist-info/METADATA", date_time=(2025, 1, 1, 0, 0, 0)),
                       f"Metadata-Version: 2.1\nName: hilsim\nVersion: {version}\n")
    return out.getvalue()


class _TracedNotifier:
    """The alarm's e-mail, in sim: a trace line."""

    def __init__(self, rt: Any):
        self.rt = rt

    async def notify(self, subject: str, body: str) -> None:
        self.rt.trace("alarm.notified", subject=subject)


class _WorldInstaller:
    """An update in sim is a world event: 'installing' remembers the version, 'restarting' reboots the
    controller into it; the new version then reports SUCCEEDED."""

    def __init__(self, part: "CloudPart"):
        self.part = part
        self.pending: dict | None = None

    async def install(self, job_id: str, version: str, package: bytes, filename: str) -> None:
        self.pending = {"job": job_id, "version": version, "previous": self.part.controller_part.version}

    def outcome(self, running_version: str) -> tuple[str, str, dict] | None:
        if self.pending and self.pending["version"] == running_version:
            return self.pending["job"], "SUCCEEDED", {"version": running_version,
                                                       "previous": str(self.pending["previous"])}
        return None

    def settle(self) -> None:
        self.pending = None

    def restart(self) -> None:
        self.part.controller_part.restart_into(self.pending["version"])


class CloudPart:
    """The cloud party: app, store, jobs service and heartbeat alarm, plus the users of its dashboard."""

    def __init__(self, world: Any, controller_part: Any, config: CloudConfig):
        self.world = world
        self.controller_part = controller_part
        self.config = config
        self.rt = world.rt.child("cloud")
        self.up = True
        self.store = CloudStore(":memory:")
        self.token = self.store.add_device(DEVICE, self.rt.now())
        self.store.add_user(USER, PASSWORD, time_cost=1, memory_cost=1024)  # a simulated user: a cheap hash
        self.link = world.link("cloud", "broker", latency=0.01)
        mqtt = SimMqttClient(self.rt, world.broker, self.link, "cloud-jobs", clean_session=False, account="cloud")
        self.jobs = JobsService(self.rt, self.store, mqtt, sweep_every=60.0)
        self.alarm = HeartbeatAlarm(self.rt, self.store, [_TracedNotifier(self.rt)], period=config.heartbeat_period)
        self.app = create_app(self.store, world.rt, settings=CloudSettings(job_timeout=config.job_timeout),
                              job_created=self.jobs.notify)
        self.asgi = httpx.ASGITransport(app=self.app)
        self.users = httpx.AsyncClient(transport=_Gate(self, self.asgi), base_url="http://cloud", trust_env=False)
        self._csrf: str | None = None
        self.installer = _WorldInstaller(self)
        self.release_key = _key(self.rt, "cloud/release-key")  # the controller trusts its public half
        self._pristine = sqlite3.connect(":memory:", check_same_thread=False)  # just provisioned: for lose_store
        self.store.db.backup(self._pristine)
        self._snapshots: dict[str, sqlite3.Connection] = {START_SNAPSHOT: self._pristine}

    # -- what the controller gets -------------------------------------------------------------

    def link_for(self, device_link: Any) -> CloudLink:
        return CloudLink("http://cloud", DEVICE, self.token, sync_every=self.config.sync_every,
                         poll_every=self.config.poll_every)

    def client_for(self, device_link: Any) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=HttpOverLink(device_link, _Gate(self, self.asgi)), base_url="http://cloud",
                                 trust_env=False)

    def updater_for(self, rt: Any, device_link: Any, version: str) -> Updater:
        client = httpx.AsyncClient(transport=HttpOverLink(device_link, _UpdateSite()), trust_env=False)
        return Updater(rt, client, self.installer, version, self.release_key.public_key())

    def services(self) -> list[tuple[str, Any]]:
        return [("cloud/jobs", self.jobs.run), ("cloud/alarm", self.alarm.run), ("cloud/mirror", self._watch)]

    # -- world events ------------------------------------------------------------------------------

    def set_up(self, up: bool) -> None:
        """The cloud service comes up or goes down (HTTP refused, its broker link held down)."""
        if up == self.up:
            return
        self.up = up
        self.rt.trace("cloud.up" if up else "cloud.down")
        self.world.release(self.link, "cloud") if up else self.world.hold_down(self.link, "cloud")

    def lose_mirror(self) -> None:
        self.store.reset_mirror(DEVICE)
        self.rt.trace("mirror.lost")

    def snapshot(self, name: str) -> None:
        """A backup of the whole store, named ``name``, taken now (SQLite's online backup)."""
        copy = self._snapshots[name] = sqlite3.connect(":memory:", check_same_thread=False)
        self.store.db.backup(copy)
        self.rt.trace("store.snapshot", name=name)

    def restore(self, name: str) -> None:
        """The store put back as the backup ``name`` held it; what came after it is gone."""
        self._snapshots[name].backup(self.store.db)
        self._logged_out()
        self.rt.trace("store.restored", name=name)

    def lose_store(self) -> None:
        """The store is lost and set up anew: the device and the users registered again, nothing else."""
        self._pristine.backup(self.store.db)
        self._logged_out()
        self.rt.trace("store.lost")

    def _logged_out(self) -> None:
        """The store's sessions went with it: the office logs in again at its next action."""
        self._csrf = None
        self.users.cookies.clear()

    async def _watch(self) -> None:
        while True:
            await self.rt.sleep(self.config.check_every)
            upto, rows = self.controller_part.disk.snapshot()
            mirror = self.store.mirror(DEVICE)
            same = {t: k for t, k in rows.items() if k} == mirror
            state = self.store.sync_state(DEVICE)
            self.rt.trace("mirror.checked", in_sync=same and state["applied"] == upto,
                          behind=max(0, upto - state["applied"]))

    # -- users on the dashboard ------------------------------------------------------------------

    def user(self, action: UserAction) -> None:
        self.world.rt.spawn(self._act(action), "user")

    async def _login(self) -> str:
        if self._csrf is None:
            page = await self.users.get("/login")
            token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
            await self.users.post("/login", data={"csrf": token, "username": USER, "password": PASSWORD})
            self._csrf = (await self.users.get("/api/me")).json()["csrf"]
        return self._csrf

    async def _act(self, action: UserAction) -> None:
        who = self.world.rt.child("user")
        try:
            csrf = await self._login()
            document = await self._document(action)
            if isinstance(document, str):
                who.trace("user.refused", action=action.action, title=action.title, reason=document)
                return
            response = await self.users.post(f"/api/devices/{DEVICE}/jobs", json=document,
                                             headers={"X-CSRF-Token": csrf})
        except httpx.HTTPError as exc:
            who.trace("user.refused", action=action.action, title=action.title, reason=f"cloud: {type(exc).__name__}")
            return
        if response.status_code != 201:
            who.trace("user.refused", action=action.action, title=action.title, reason=response.json().get("error"))
            return
        who.trace("user.queued", action=action.action, title=action.title, job=response.json()["id"])

    async def _document(self, action: UserAction) -> dict | str:
        """The job the dashboard makes of ``action``, from what the dashboard shows (the mirror)."""
        now = self.world.rt.now()
        if action.action == "create_event":
            return {"operation": "createEvent", "title": action.title, "start": action.start}
        if action.action == "update_application":
            wheel = package(action.title)
            signer = _key(self.rt, "cloud/stranger-key") if action.bad_signature else self.release_key
            return {"operation": "updateApplication", "version": action.title,
                    "url": f"{UPDATES}/hilsim-{action.title}.whl", "signature": sign(signer, wheel),
                    "sha256": "0" * 64 if action.bad_hash else hashlib.sha256(wheel).hexdigest()}
        answer = await self.users.get(f"/api/devices/{DEVICE}/events")
        if answer.status_code != 200:
            return f"dashboard: HTTP {answer.status_code}"
        shown = answer.json()["events"]
        events = [e for e in shown if e["title"] == action.title and not e["cancelled"]]
        if not events:
            return "unknown_event"
        event = min(events, key=lambda e: e["start"])
        if action.action == "add_alert":
            return {"operation": "createAlert", "event_key": event["key"], "before": action.before,
                    "duration": action.duration, "event_title": action.title}
        if action.action == "update_alert":
            added = [a for a in event["alerts"] if a["origin"] == "extra" and a["until"] > now]
            if not added:
                return "no_added_alert"
            doc = {"operation": "updateAlert", "local_alert_id": added[0]["id"], "event_title": action.title}
            if action.before is not None:
                doc["before"] = action.before
            if action.duration is not None:
                doc["duration"] = action.duration
            return doc
        # snooze: the event's alert that is lit now, else the next one to come
        ahead = [a for a in event["alerts"] if a["until"] > now and not a["snoozed"]]
        if not ahead:
            return "no_alert_ahead"
        alert = max((a for a in ahead if a["lit"]), key=lambda a: a["at"], default=None) or ahead[0]
        doc = {"operation": "snoozeAlert", "local_alert_id": alert["id"], "event_title": action.title}
        if action.duration is not None:
            doc["for_seconds"] = action.duration
        return doc
