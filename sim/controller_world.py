"""The match-day controller's part of the world: the club site, the internet, the cloud, power.

Enabled by ``world: {controller: {fixtures: PAGE}}``. The controller (system code)
reaches the club site and the cloud's push endpoint only over the
``controller~internet`` link; its SQLite store is its disk and survives power loss.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from sim.faults import FixtureChange, PowerLoss, SiteTrouble, UserAction
from sim.scenario import WORLD_KEYS, Node
from sim.website import ClubSite
from sim.world import EXTENSIONS, World
from system.services.controller import Controller
from system.errors import BackendError, RefusedInput, ScenarioError
from sim.pushgateway import RecordingPushTarget
from sim.relay import SimRelay
from system.services.scraper import Source
from system.adapters.store import Store


@dataclass(frozen=True)
class ControllerConfig:
    fixtures: str
    format: str = "html"
    scrape_every: float = 3600.0
    push_every: float = 300.0


def _parse(node: Node) -> ControllerConfig:
    body = node.keys("controller", {"fixtures": True, "format": False, "scrape_every": False, "push_every": False})
    page = body["fixtures"].text("fixtures")
    found = _find(page, node.ctx.file)
    if found is None:
        raise body["fixtures"].error(f"no fixtures page {page!r} (looked in the current directory and next to "
                                     "the scenario file)")
    fmt = body["format"].text("format") if "format" in body else "html"
    if fmt not in ("html", "ical"):
        raise body["format"].error("format is 'html' (the fixtures page) or 'ical' (the feed)")
    return ControllerConfig(
        fixtures=str(found), format=fmt,
        scrape_every=body["scrape_every"].duration("scrape_every") if "scrape_every" in body else 3600.0,
        push_every=body["push_every"].duration("push_every") if "push_every" in body else 300.0,
    )


def _find(page: str, scenario_file: str) -> Path | None:
    here = Path(scenario_file).resolve().parent
    for candidate in (Path(page), here / page, here.parent / page):
        if candidate.is_file():
            return candidate
    return None


WORLD_KEYS["controller"] = (_parse, None)


class _OverLink(httpx.AsyncBaseTransport):
    """HTTP that only gets through while the link is up (a down internet refuses to connect)."""

    def __init__(self, link, inner: httpx.AsyncBaseTransport):
        self.link, self.inner = link, inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not self.link.up:
            raise httpx.ConnectError(f"{self.link.name} is down", request=request)
        return await self.inner.handle_async_request(request)


class _PushOverLink:
    def __init__(self, link, inner: RecordingPushTarget):
        self.link, self.inner = link, inner

    async def push(self, job: str, body: str) -> None:
        if not self.link.up:
            raise BackendError(f"{self.link.name} is down")
        await self.inner.push(job, body)


class ControllerPart:
    """The controller machine in the world: boots the system's Controller, loses power, reboots."""

    def __init__(self, world: World, config: ControllerConfig):
        self.world = world
        self.rt = world.rt
        self.config = config
        self.link = world.network.link("controller", "internet", latency=0.02)
        self.site = ClubSite.from_page(self.rt, config.fixtures)
        self.cloud = RecordingPushTarget(self.rt.child("cloud"))
        self.disk = Store(":memory:")  # survives power loss, as the SD card would
        self.controller: Controller | None = None
        self.relay: SimRelay | None = None
        self.client = httpx.AsyncClient(transport=_OverLink(self.link, self.site.transport()), timeout=30.0,
                                        trust_env=False)
        self._tasks: list[Any] = []
        self._power = self.rt.child("controller")

    async def run(self) -> None:
        self.boot()

    def boot(self) -> None:
        url = self.site.feed_url if self.config.format == "ical" else self.site.page_url
        self.relay = SimRelay(self.rt.child("controller"))
        self.controller = Controller(
            self.rt, store=self.disk, relay_backend=self.relay, push_target=_PushOverLink(self.link, self.cloud),
            client=self.client, source=Source(url, format=self.config.format),
            scrape_every=self.config.scrape_every, push_every=self.config.push_every,
        )
        self._tasks = [self.rt.spawn(service(), name) for name, service in self.controller.services()]

    def power_loss(self, fault: PowerLoss) -> None:
        for task in self._tasks:
            task.cancel()
        self._tasks = []
        self._power.trace("power.lost", duration=fault.duration)
        if self.relay is not None and self.relay.state:
            self.relay._command(False)  # no power, no light: the relay drops out
        self.world.later(fault.duration, self._power_back, "controller/power")

    def _power_back(self) -> None:
        self._power.trace("power.restored")
        self.boot()

    def fixture(self, change: FixtureChange) -> None:
        if change.action == "reschedule":
            self.site.reschedule(change.pair, change.kickoff, change.competition)
        elif change.action == "cancel":
            self.site.cancel(change.pair, change.competition)
        elif change.action == "postpone":
            self.site.postpone(change.pair, change.competition)
        else:
            home, away = change.pair.split(" - ", 1)
            extra = {"competition": change.competition} if change.competition else {}
            self.site.add_game(home, away, change.kickoff, **extra)

    def trouble(self, trouble: SiteTrouble) -> None:
        if trouble.kind == "errors":
            self.site.serve_errors(trouble.status, trouble.duration)
        elif trouble.kind == "timeouts":
            self.site.timeouts(trouble.duration)
        elif trouble.kind == "garble":
            self.site.garble_page(trouble.how, trouble.duration)
        else:
            self.site.change_layout(trouble.how)

    def user(self, action: UserAction) -> None:
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


def build(world: World) -> None:
    config = world.scenario.world.get("controller")
    world.controller = None
    for event in world.scenario.timeline:
        if isinstance(event.fault, PowerLoss) and event.fault.party != "controller":
            raise ScenarioError(f"only the controller can lose power so far, not {event.fault.party!r}",
                                file=world.scenario.file, line=event.line)
    if config is None:
        for event in world.scenario.timeline:
            if isinstance(event.fault, (FixtureChange, SiteTrouble, UserAction, PowerLoss)):
                raise ScenarioError("this event needs a controller in the world (world: {controller: ...})",
                                    file=world.scenario.file, line=event.line)
        return
    part = ControllerPart(world, config)
    world.controller = part
    world.services.append(("controller", part.run))
    world.on(FixtureChange, part.fixture)
    world.on(SiteTrouble, part.trouble)
    world.on(UserAction, part.user)
    world.on(PowerLoss, part.power_loss)


EXTENSIONS.append(build)
