"""The cloud in the simulated world: the same app, store and services as ``hilsim cloud``, in process.

Enabled by ``world: {controller: {fixtures: ..., cloud: {}}}`` (keys: ``sync_every``, ``poll_every``,
``heartbeat_period``, ``job_timeout``). The controller reaches the cloud's HTTP API through httpx's ASGI
transport *over the ``controller~internet`` link*, and its jobs through the broker model over the same
link; the cloud's jobs service talks to the broker over ``cloud~broker``. Users act through the dashboard
API (log in, read the events from the mirror, queue a job), so a snooze made while the controller is
offline waits as a QUEUED job, as it would in production.

World events (``cloud:`` on the timeline): ``down_for: 1h`` / ``down: true`` / ``up: true`` (the cloud
service unreachable: HTTP refused, its broker link down) and ``lose_mirror: true`` (the mirror is lost,
as with a restore from an old backup; the next sync rebuilds it). ``user: {update_application: VERSION}``
(optionally ``bad_hash: true``) is an OTA update: the package comes from the world's update site, and a
good one makes the controller restart into ``VERSION`` (a world event: no real installation).

Every ``check_every`` seconds the world compares the mirror with the device's store and traces
``mirror.checked`` (``in_sync``, ``behind``): what ``cloud_in_sync`` reads.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import httpx

from sim.scenario.expect import ExpectationKind
from sim.scenario.faults import UserAction
from sim.models.sim_mqtt import SimMqttClient
from sim.models.network import HttpOverLink
from sim.scenario.yaml_value import YamlValue
from system.cloud.alarm import HeartbeatAlarm
from system.cloud.app import CloudSettings, create_app
from system.cloud.jobs_api import JobsService
from system.adapters.cloud_store import CloudStore
from system.decisions.jobs_protocol import STATES
from system.services.controller import CloudLink
from system.services.updater import Updater

DEVICE = "controller"
USER, PASSWORD = "office", "sim-password"
UPDATES = "http://updates.example"


@dataclass(frozen=True)
class CloudConfig:
    sync_every: float = 300.0
    poll_every: float = 30.0
    heartbeat_period: float = 300.0
    job_timeout: float = 3600.0
    check_every: float = 60.0


def parse_cloud(node: YamlValue) -> CloudConfig:
    """``cloud: {}`` or with ``sync_every``, ``poll_every``, ``heartbeat_period``, ``job_timeout``."""
    if node.value in (None, "", {}):
        return CloudConfig()
    keys = ("sync_every", "poll_every", "heartbeat_period", "job_timeout", "check_every")
    body = node.keys("cloud", {k: False for k in keys})
    return CloudConfig(**{k: body[k].duration(k) for k in keys if k in body})


@dataclass(frozen=True)
class CloudFault:
    """The cloud service: ``down`` (for ``duration`` seconds, None: until ``up``), ``up``, ``lose_mirror``."""

    action: str
    duration: float | None = None


def _cloud_event(node: YamlValue) -> object:
    body = node.keys("cloud", {"down_for": False, "down": False, "up": False, "lose_mirror": False})
    if "down_for" in body:
        return CloudFault("down", body["down_for"].duration("down_for"))
    for action in ("down", "up", "lose_mirror"):
        if action in body and body[action].boolean(action):
            return CloudFault(action)
    raise node.error("a cloud event needs down_for, down: true, up: true or lose_mirror: true")


# The cloud's timeline words, gathered by sim/scenario/vocabulary.py.
CLOUD_EVENTS = MappingProxyType({"cloud": _cloud_event})


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


def package(version: str) -> bytes:
    return f"hilsim {version} (simulated package)".encode()


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
        self.link = world.network.link("cloud", "broker", latency=0.01)
        mqtt = SimMqttClient(self.rt, world.broker, self.link, "cloud-jobs", clean_session=False)
        self.jobs = JobsService(self.rt, self.store, mqtt, sweep_every=60.0)
        self.alarm = HeartbeatAlarm(self.rt, self.store, [_TracedNotifier(self.rt)], period=config.heartbeat_period)
        self.app = create_app(self.store, world.rt, settings=CloudSettings(job_timeout=config.job_timeout),
                              job_created=self.jobs.notify)
        self.asgi = httpx.ASGITransport(app=self.app)
        self.users = httpx.AsyncClient(transport=_Gate(self, self.asgi), base_url="http://cloud", trust_env=False)
        self._csrf: str | None = None
        self.installer = _WorldInstaller(self)

    # -- what the controller gets -------------------------------------------------------------

    def link_for(self, device_link: Any) -> CloudLink:
        return CloudLink("http://cloud", DEVICE, self.token, sync_every=self.config.sync_every,
                         poll_every=self.config.poll_every)

    def client_for(self, device_link: Any) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=HttpOverLink(device_link, _Gate(self, self.asgi)), base_url="http://cloud",
                                 trust_env=False)

    def updater_for(self, rt: Any, device_link: Any, version: str) -> Updater:
        client = httpx.AsyncClient(transport=HttpOverLink(device_link, _UpdateSite()), trust_env=False)
        return Updater(rt, client, self.installer, version)

    def services(self) -> list[tuple[str, Any]]:
        return [("cloud/jobs", self.jobs.run), ("cloud/alarm", self.alarm.run), ("cloud/mirror", self._watch)]

    # -- world events ------------------------------------------------------------------------------

    def fault(self, fault: CloudFault) -> None:
        if fault.action == "down":
            self._set(False)
            if fault.duration is not None:
                self.world.later(fault.duration, lambda: self._set(True), "cloud/back")
        elif fault.action == "up":
            self._set(True)
        else:
            self.store.reset_mirror(DEVICE)
            self.rt.trace("mirror.lost")

    def _set(self, up: bool) -> None:
        if up == self.up:
            return
        self.up = up
        self.rt.trace("cloud.up" if up else "cloud.down")
        self.world.release(self.link, "cloud") if up else self.world.hold_down(self.link, "cloud")

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
            digest = hashlib.sha256(package(action.title)).hexdigest()
            return {"operation": "updateApplication", "version": action.title,
                    "url": f"{UPDATES}/hilsim-{action.title}.whl", "sha256": "0" * 64 if action.bad_hash else digest}
        shown = (await self.users.get(f"/api/devices/{DEVICE}/events")).json()["events"]
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


# -- expectations ------------------------------------------------------------------------------------


def _sync_args(node: YamlValue) -> dict:
    body = node.keys("cloud_in_sync", {"within": True, "after": True})
    return {"within": body["within"].duration("within"), "after": body["after"].moment("after")}


def cloud_in_sync(args, run):
    """At ``after + within`` the mirror equals the device's store, and has since the time measured."""
    deadline = args["after"] + args["within"]
    checks = [r for r in run.trace.of_kind("mirror.checked") if args["after"] <= r["t"] <= deadline + 1e-6]
    if not checks or not checks[-1]["in_sync"]:
        behind = checks[-1]["behind"] if checks else "?"
        return False, f"not in sync {args['within']:g} s after ({behind} changes behind)", \
            f"in sync within {args['within']:g} s"
    since = checks[-1]["t"]
    for r in reversed(checks):
        if not r["in_sync"]:
            break
        since = r["t"]
    return True, f"in sync from {since - args['after']:g} s after", f"<= {args['within']:g} s"


def _job_args(node: YamlValue) -> dict:
    body = node.keys("job_state", {"job": True, "state": True, "at": False})
    state = body["state"].text("state")
    if state not in STATES:
        raise body["state"].error(f"state is one of {', '.join(STATES)}")
    return {"job": body["job"].integer("job", minimum=1), "state": state,
            "at": body["at"].moment("at") if "at" in body else None}


def job_state(args, run):
    """The ``job``-th job queued in the run was in ``state`` at ``at`` (default: at the end)."""
    until = run.duration if args["at"] is None else args["at"]
    queued = [r["job"] for r in run.trace.of_kind("job.queued") if r["t"] <= until]
    if len(queued) < args["job"]:
        return False, f"only {len(queued)} jobs queued", args["state"]
    job = queued[args["job"] - 1]
    named = {"job.started": "IN_PROGRESS", "job.timed_out": "TIMED_OUT", "job.canceled": "CANCELED"}
    states = [r["status"] if r["kind"] == "job.updated" else named[r["kind"]] for r in run.trace.records
              if r["kind"] in ("job.updated", *named) and r.get("job") == job and r["src"] == "cloud"
              and r["t"] <= until]
    last = states[-1] if states else "QUEUED"
    return last == args["state"], f"{job}: {' -> '.join(['QUEUED', *states])}", args["state"]


def _count(node: YamlValue) -> dict:
    if isinstance(node.value, str) and node.value.strip().lower() in ("true", "yes"):
        return {"min": 1}
    body = node.keys("the count", {"min": True})
    return {"min": body["min"].integer("min", minimum=0)}


def alarm_raised(args, run):
    n = len(run.trace.of_kind("alarm.raised"))
    return n >= args["min"], f"raised {n} times", f">= {args['min']}"


def alarm_cleared(args, run):
    n = len(run.trace.of_kind("alarm.cleared"))
    return n >= args["min"], f"cleared {n} times", f">= {args['min']}"


def _true(node: YamlValue) -> bool:
    if not node.boolean("jobs_executed_once"):
        raise node.error("write 'jobs_executed_once: true' (or leave it out)")
    return True


def jobs_executed_once(args, run):
    """No job ran twice on the controller, across lost updates, outages and power cuts."""
    runs: dict[str, int] = {}
    for r in run.trace.records:
        if r["kind"] == "job.received" and r["src"] == "controller":
            runs[r["job"]] = runs.get(r["job"], 0) + 1
    twice = sorted(j for j, n in runs.items() if n > 1)
    return not twice, f"{len(runs)} jobs run, {len(twice)} more than once", "each at most once"


# The cloud's expectations, gathered by sim/scenario/vocabulary.py.
EXPECTATIONS = MappingProxyType({
    "cloud_in_sync": ExpectationKind(_sync_args, cloud_in_sync),
    "job_state": ExpectationKind(_job_args, job_state),
    "alarm_raised": ExpectationKind(_count, alarm_raised),
    "alarm_cleared": ExpectationKind(_count, alarm_cleared),
    "jobs_executed_once": ExpectationKind(_true, jobs_executed_once),
})
