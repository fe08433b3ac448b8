"""The match-day controller's part of the world: the club site, the internet, the cloud, power.

Enabled by ``world: {controller: {season: FILE}}`` (with ``selectors: FILE`` and ``layout: NAME`` for
a club page in another layout, read by the same selectors file as ``hilsim controller --selectors``). The controller (system code)
reaches the club site and the cloud's push endpoint only over the
``controller~internet`` link; its SQLite store is its disk and survives power loss.

It is the control of ``power:`` (``power_loss``), ``user:`` (``user``, ``user_racing_scrape``) and ``disk:``
events (``fill_disk``: SQLite's ``max_page_count`` pinned to the pages in use, so a write that needs a new page
fails with SQLITE_FULL, as on a full SD card); the club site (``self.site``) is the control of ``fixture:`` and
``site:`` events, and the cloud part of ``cloud:``.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import httpx

from sim.scenario.cloud_party import CloudPart
from sim.models.sim_mqtt import SimMqttClient
from sim.models.network import HttpOverLink
from sim.scenario.faults import INTERNET, UserAction
from sim.scenario.spec import ControllerConfig
from sim.models.club_site import ClubSite
from system.services.controller import Controller
from system.errors import BackendError, RefusedInput
from sim.models.push_recorder import RecordingPushTarget
from sim.models.sim_relay import SimRelay
from system.services.scraper import Source
from system.adapters.controller_store import Store
from system.trace import VERSION


class _PushOverLink:
    def __init__(self, link, inner: RecordingPushTarget):
        self.link, self.inner = link, inner

    async def push(self, job: str, body: str) -> None:
        if not self.link.up:
            raise BackendError(f"{self.link.name} is down")
        await self.inner.push(job, body)


class ControllerPart:
    """The controller machine in the world: boots the system's Controller, loses power, reboots.

    The internet is one link, ``controller~internet``: while it is down, neither the club
    site nor the push endpoint can be reached (the one model of "internet down").
    """

    LINK = INTERNET

    def __init__(self, world: Any, config: ControllerConfig):
        self.world = world
        self.rt = world.rt
        self.config = config
        self.link = world.link("controller", "internet", latency=0.02)
        assert self.link.name == self.LINK
        self.site = ClubSite.from_season(self.rt, config.season, layout=config.layout)
        self.cloud = RecordingPushTarget(self.rt.child("cloud"))
        self.disk = Store(":memory:")  # survives power loss, as the SD card would
        self.controller: Controller | None = None
        self.relay: SimRelay | None = None
        self.client = httpx.AsyncClient(transport=HttpOverLink(self.link, self.site.transport()), timeout=30.0,
                                        trust_env=False)
        self._tasks: list[Any] = []
        self._power = self.rt.child("controller")
        self.version = VERSION
        self.mqtt: SimMqttClient | None = None
        self.cloud_part = CloudPart(world, self, config.cloud) if config.cloud is not None else None

    async def run(self) -> None:
        if self.cloud_part is not None:
            for name, service in self.cloud_part.services():
                self.rt.spawn(service(), name)
        self.boot()

    def boot(self) -> None:
        url = self.site.feed_url if self.config.format == "ical" else self.site.page_url
        self.relay = SimRelay(self.rt.child("controller"))
        cloud: dict[str, Any] = {}
        if self.cloud_part is not None:
            ctl = self.rt.child("controller")
            self.mqtt = SimMqttClient(ctl, self.world.broker, self.link, "controller", clean_session=False)
            cloud = {"cloud": self.cloud_part.link_for(self.link), "cloud_client": self.cloud_part.client_for(self.link),
                     "mqtt": self.mqtt, "updater": self.cloud_part.updater_for(ctl, self.link, self.version)}
        self.controller = Controller(
            self.rt, store=self.disk, relay_backend=self.relay, push_target=_PushOverLink(self.link, self.cloud),
            client=self.client, source=self._source(url),
            scrape_every=self.config.scrape_every, push_every=self.config.push_every, **cloud,
        )
        self._tasks = [self.rt.spawn(service(), name) for name, service in self.controller.services()]

    def _source(self, url: str) -> Source:
        if self.config.selectors is None:
            return Source(url, format=self.config.format)
        return Source.from_file(url, self.config.selectors, format=self.config.format)

    def _halt(self) -> None:
        for task in self._tasks:
            task.cancel()
        self._tasks = []
        if self.mqtt is not None and self.mqtt.connected:
            self.mqtt._conn.broken()  # the machine stops: its TCP connection dies without a DISCONNECT

    def restart_into(self, version: str) -> None:
        """An update installed: the controller restarts into ``version`` (from a task of its own, as the
        restart is asked for by the job agent, which stops with it)."""

        def restart() -> None:
            self._halt()
            self.version = version
            self._power.trace("controller.restarted", version=version)
            self.boot()

        self.world.later(0.0, restart, "controller/restart")

    def power_loss(self, seconds: float) -> None:
        """The power control: the machine stops now and boots again ``seconds`` later."""
        self._halt()
        self._power.trace("power.lost", duration=seconds)
        if self.relay is not None:
            self.relay.lose_power()
        self.world.later(seconds, self._power_back, "controller/power")

    def _power_back(self) -> None:
        self._power.trace("power.restored")
        self.boot()

    def fill_disk(self) -> None:
        """The disk is full: the store may not grow by a page, and its free pages are taken by a filler (as
        other files would take them), so a write fails with SQLITE_FULL as soon as it needs room. The store is
        first rewritten with small pages (the same rows, in the same order), so that a page fills after a few
        rows, not after a hundred: what a real store's journal, which needs room for any write, would show."""
        db = self.disk.db
        small = sqlite3.connect(":memory:", isolation_level=None)
        small.execute("PRAGMA page_size = 512")
        small.executescript("".join(f"{line}\n" for line in db.iterdump()))
        small.execute("CREATE TABLE world_disk_filler (b BLOB)")
        db.deserialize(small.serialize())
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        db.execute(f"PRAGMA max_page_count = {pages}")
        for size in (4096, 512, 64, 8, 1):
            try:
                while True:
                    db.execute("INSERT INTO world_disk_filler VALUES (zeroblob(?))", (size,))
            except sqlite3.OperationalError:  # SQLITE_FULL: this size no longer fits
                continue
        self._power.trace("disk.full", pages=pages)

    def free_disk(self) -> None:
        self.disk.db.execute(f"PRAGMA max_page_count = {2**30 - 1}")
        self.disk.db.execute("DROP TABLE IF EXISTS world_disk_filler")
        self._power.trace("disk.freed")

    def user_racing_scrape(self, action: UserAction) -> None:
        """The user acts the moment the next scrape's request reaches the club site."""

        def now() -> None:
            self._power.trace("user.raced", action=action.action, title=action.title)
            self.user(action)

        self.site.when_requested(now)

    def user(self, action: UserAction) -> None:
        """A user acts: through the dashboard (a job) with a cloud, else on the controller's own scheduler."""
        if self.cloud_part is not None:
            self.cloud_part.user(action)  # through the dashboard: a job for the controller
            return
        scheduler = self.controller.scheduler
        if action.action == "create_event":
            scheduler.create_event(action.title, action.start)
            return
        matches = [e for e in self.disk.stored_events() if e.title == action.title and e.start >= self.rt.now()]
        if not matches:
            self._power.trace("user.refused", action=action.action, title=action.title, reason="unknown_event")
            return
        event = min(matches, key=lambda e: e.start)
        if action.action == "add_alert":
            scheduler.add_alert(event.key, action.before, action.duration)
            return
        # snooze: the alert of this event that lights the light now (the latest to start, if several)
        lit = [a for a in scheduler.plan().lit if a.event_key == event.key]
        if not lit:
            self._power.trace("user.refused", action=action.action, title=action.title, reason="no_alert_on")
            return
        try:
            scheduler.snooze(max(lit, key=lambda a: a.at).id, for_seconds=action.duration)
        except RefusedInput as refused:
            self._power.trace("user.refused", action=action.action, title=action.title, reason=refused.reason)
