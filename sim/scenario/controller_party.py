"""The match-day controller's part of the world: the club site, the internet, the cloud, power.

Enabled by ``world: {controller: {fixtures: PAGE}}`` (with ``selectors: FILE`` and ``layout: NAME`` for
a club page in another layout, read by the same selectors file as ``hilsim controller --selectors``). The controller (system code)
reaches the club site and the cloud's push endpoint only over the
``controller~internet`` link; its SQLite store is its disk and survives power loss.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from types import MappingProxyType

from sim.scenario.cloud_party import CloudConfig, CloudFault, CloudPart, parse_cloud
from sim.models.sim_mqtt import SimMqttClient
from sim.models.network import HttpOverLink
from sim.scenario.faults import FixtureChange, PowerLoss, SiteTrouble, UserAction
from sim.scenario.spec import Scenario, WorldKey
from sim.models.club_site import LAYOUTS, ClubSite, Game, find_game, read_season
from sim.scenario.yaml_value import YamlValue
from system.services.controller import Controller
from system.decisions.selectors import Selectors, SelectorsFile, parse_selectors_file
from system.errors import BackendError, ConfigError, RefusedInput, ScenarioError
from sim.models.push_recorder import RecordingPushTarget
from sim.models.sim_relay import SimRelay
from system.services.scraper import Source
from system.adapters.controller_store import Store
from system.trace import VERSION


@dataclass(frozen=True)
class ControllerConfig:
    """``fixtures``: the saved page the club site serves its season from; ``selectors``: the selectors file
    (the same as ``hilsim controller --selectors``) that reads it, for the site and the controller alike;
    ``layout``: how the site renders the season (``sim.models.club_site.LAYOUTS``)."""

    fixtures: str
    format: str = "html"
    scrape_every: float = 3600.0
    push_every: float = 300.0
    cloud: CloudConfig | None = None
    selectors: SelectorsFile | None = None
    layout: str = LAYOUTS[0]


def _parse(node: YamlValue) -> ControllerConfig:
    body = node.keys("controller", {"fixtures": True, "format": False, "scrape_every": False, "push_every": False,
                                    "selectors": False, "layout": False, "cloud": False})
    page = body["fixtures"].text("fixtures")
    found = _find(page, node.ctx.file)
    if found is None:
        raise body["fixtures"].error(f"no fixtures page {page!r} (looked in the current directory and next to "
                                     "the scenario file)")
    fmt = body["format"].text("format") if "format" in body else "html"
    if fmt not in ("html", "ical"):
        raise body["format"].error("format is 'html' (the fixtures page) or 'ical' (the feed)")
    selectors = None
    if "selectors" in body:
        name = body["selectors"].text("selectors")
        path = _find(name, node.ctx.file)
        if path is None:
            raise body["selectors"].error(f"no selectors file {name!r} (looked in the current directory and next "
                                          "to the scenario file)")
        try:
            selectors = parse_selectors_file(path.read_text(encoding="utf-8"), name)
        except ConfigError as exc:
            raise body["selectors"].error(f"the selectors file is unusable: {exc}") from None
    layout = body["layout"].text("layout") if "layout" in body else LAYOUTS[0]
    if layout not in LAYOUTS:
        raise body["layout"].error(f"unknown layout {layout!r}; layouts are {', '.join(LAYOUTS)}")
    return ControllerConfig(
        fixtures=str(found), format=fmt,
        scrape_every=body["scrape_every"].duration("scrape_every") if "scrape_every" in body else 3600.0,
        push_every=body["push_every"].duration("push_every") if "push_every" in body else 300.0,
        cloud=parse_cloud(body["cloud"]) if "cloud" in body else None,
        selectors=selectors, layout=layout,
    )


def _page_selectors(config: ControllerConfig) -> Selectors:
    return config.selectors.selectors if config.selectors is not None else Selectors()


def _find(page: str, scenario_file: str) -> Path | None:
    here = Path(scenario_file).resolve().parent
    for candidate in (Path(page), here / page, here.parent / page):
        if candidate.is_file():
            return candidate
    return None


# The controller's ``world:`` key, gathered by sim/scenario/vocabulary.py.
WORLD_KEYS = MappingProxyType({"controller": WorldKey(_parse, None)})
CONTROLLER_EVENTS = (FixtureChange, SiteTrouble, UserAction, PowerLoss, CloudFault)


def check(scenario: Scenario) -> None:
    """Refuse, before anything runs, controller events this world cannot apply: events without a
    controller, power cuts of other parties, games that are not on the club's page, user actions on
    events that never exist."""
    config: ControllerConfig | None = scenario.world.get("controller")

    def refuse(event, message: str) -> ScenarioError:
        return ScenarioError(message, file=scenario.file, line=event.line)

    if config is None:
        for event in scenario.timeline:
            if isinstance(event.fault, CONTROLLER_EVENTS) or getattr(event.fault, "link", None) == ControllerPart.LINK:
                raise refuse(event, "this event needs a controller in the world (world: {controller: ...})")
        return
    for event in scenario.timeline:
        needs_cloud = isinstance(event.fault, CloudFault) or (
            isinstance(event.fault, UserAction) and event.fault.action in ("update_alert", "update_application"))
        if needs_cloud and config.cloud is None:
            raise refuse(event, "this event needs a cloud in the world (world: {controller: {cloud: {}}})")
    games = read_season(config.fixtures, selectors=_page_selectors(config))
    titles = {g.title for g in games}  # what users can act on: games and the events they create
    for event in scenario.timeline:
        fault = event.fault
        if isinstance(fault, PowerLoss) and fault.party != "controller":
            raise refuse(event, f"only the controller can lose power so far, not {fault.party!r}; parties: controller")
        if isinstance(fault, FixtureChange) and fault.action == "add":
            home, away = fault.pair.split(" - ", 1)
            games.append(Game(home, away, 0.0, **({"competition": fault.competition} if fault.competition else {})))
            titles.add(fault.pair)
        elif isinstance(fault, FixtureChange) and find_game(games, fault.pair, fault.competition) is None:
            known = sorted({g.title + (f" ({g.competition})" if fault.competition else "") for g in games})
            raise refuse(event, f"no game {fault.pair!r}"
                         + (f" in {fault.competition!r}" if fault.competition else "")
                         + f" on the club's page {Path(config.fixtures).name}; games: {', '.join(known)}")
        if isinstance(fault, UserAction) and fault.action == "create_event":
            titles.add(fault.title)
        elif isinstance(fault, UserAction) and fault.action != "update_application" and fault.title not in titles:
            raise refuse(event, f"{fault.action}: no event {fault.title!r} on the club's page or created earlier "
                         f"in the timeline; events: {', '.join(sorted(titles))}")


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

    LINK = "controller~internet"

    def __init__(self, world: Any, config: ControllerConfig):
        self.world = world
        self.rt = world.rt
        self.config = config
        self.link = world.network.link("controller", "internet", latency=0.02)
        assert self.link.name == self.LINK
        self.site = ClubSite.from_page(self.rt, config.fixtures, _page_selectors(config), layout=config.layout)
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

    def power_loss(self, fault: PowerLoss) -> None:
        self._halt()
        self._power.trace("power.lost", duration=fault.duration)
        if self.relay is not None:
            self.relay.lose_power()
        self.world.later(fault.duration, self._power_back, "controller/power")

    def _power_back(self) -> None:
        self._power.trace("power.restored")
        self.boot()

    def appliers(self) -> dict[type, Any]:
        """The world events this part applies, by type."""
        found = {FixtureChange: self.fixture, SiteTrouble: self.trouble, UserAction: self.user,
                 PowerLoss: self.power_loss}
        if self.cloud_part is not None:
            found[CloudFault] = self.cloud_part.fault
        return found

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
