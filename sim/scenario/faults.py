"""Faults are world events: plain data, made by scenario files and Hypothesis strategies alike.

Each timeline key (``link:``, ``internet:``, ``broker:``, ``sensor:``, ``wifi:``, ``power:`` (a node's or
the controller's); ``fixture:``, ``site:``, ``user:``, ``cloud:`` for the controller and its cloud) has a parser here that turns the YAML into
a fault object, gathered in :data:`TIMELINE`. A fault applies itself, in one place, to the control of its
target (:mod:`sim.scenario.controls`), whatever backend runs the target: the simulated link or the TCP fault
proxy, the simulated DHT22 or a board's console. The one timeline player is :mod:`sim.scenario.player`.

To add a fault (say an ``earthquake:`` that shakes a node):

1. here, one frozen dataclass with a docstring, its ``control`` (the kind of control it acts on: link,
   node, power, site, broker, cloud, user), its ``target`` (the party or link), ``needs()`` (what it asks
   of a backend, in words a refusal can quote) and ``apply(control, stage)``; and its parser ``_earthquake``,
   raising ``node.error(...)`` for anything wrong;
2. if the control lacks a method it needs, add it to the protocol in :mod:`sim.scenario.controls` and to
   every backend that can suffer it (a backend that cannot lists the need in its ``Backend.cannot``, so the
   fault is refused when the scenario loads, not halfway through a run);
3. one line in :data:`TIMELINE`: ``"earthquake": _earthquake``.

For example::

    @dataclass(frozen=True)
    class Earthquake:
        '''A node shakes for ``duration`` seconds.'''

        node: str
        duration: float
        control: ClassVar[str] = "node"

        @property
        def target(self) -> str:
            return self.node

        def needs(self) -> tuple[str, ...]:
            return ("a shake",)

        def apply(self, node: NodeControl, stage: Stage) -> None:
            node.shake(self.duration)  # NodeControl.shake: the sim node's and the board's

The loader's whole-scenario checks (:mod:`sim.scenario.loader`) then refuse an earthquake on a party the
world lacks, and ``hilsim run --hil`` refuses it on a backend that cannot suffer it.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import ClassVar

from sim.models.club_site import LAYOUTS
from sim.scenario.controls import (BrokerControl, CloudControl, LinkControl, NodeControl, PowerControl,
                                   SiteControl, Stage, UserControl)
from sim.scenario.yaml_value import YamlValue

BROKER, CLUB_SITE, CLOUD, CONTROLLER = "broker", "club-site", "cloud", "controller"  # the parties' names


@dataclass(frozen=True)
class LinkDown:
    """The link goes down; comes back after ``duration`` seconds (None: stays down)."""

    link: str
    duration: float | None = None
    control: ClassVar[str] = "link"

    @property
    def target(self) -> str:
        return self.link

    def needs(self) -> tuple[str, ...]:
        return ("down and up",)

    def apply(self, link: LinkControl, stage: Stage) -> None:
        stage.hold_down(link, "fault")
        if self.duration is not None:
            stage.later(self.duration, lambda: stage.release(link, "fault"), f"{link.name}/restore")


@dataclass(frozen=True)
class LinkUp:
    """The link comes back up, whatever faults held it down."""

    link: str
    control: ClassVar[str] = "link"

    @property
    def target(self) -> str:
        return self.link

    def needs(self) -> tuple[str, ...]:
        return ("down and up",)

    def apply(self, link: LinkControl, stage: Stage) -> None:
        stage.release(link, "fault", all_holds=True)


@dataclass(frozen=True)
class LinkDegraded:
    """Latency and/or loss change on a link, for ``duration`` seconds (None: for good)."""

    link: str
    latency: float | None = None
    loss: float | None = None
    duration: float | None = None
    control: ClassVar[str] = "link"

    @property
    def target(self) -> str:
        return self.link

    def needs(self) -> tuple[str, ...]:
        needs = ("latency",) if self.latency is not None else ()
        return needs + ("packet loss",) if self.loss else needs

    def apply(self, link: LinkControl, stage: Stage) -> None:
        before = (link.latency, link.loss)
        link.configure(latency=self.latency, loss=self.loss)
        if self.duration is not None:
            stage.later(self.duration, lambda: link.configure(latency=before[0], loss=before[1]),
                        f"{link.name}/restore")


@dataclass(frozen=True)
class BrokerRestart:
    """The broker process stops and starts again ``down_for`` seconds later; sessions persist."""

    down_for: float = 0.0
    control: ClassVar[str] = "broker"
    target: ClassVar[str] = BROKER

    def needs(self) -> tuple[str, ...]:
        return ("a restart",)

    def apply(self, broker: BrokerControl, stage: Stage) -> None:
        broker.stop()
        stage.later(self.down_for, broker.start, "broker/restart")


INTERNET = "controller~internet"  # the link an ``internet:`` event acts on

SENSOR_FAULTS = ("stuck", "spike", "drift", "timeout", "checksum", "disconnected")


@dataclass(frozen=True)
class SensorFault:
    """A node's DHT22 misbehaves as ``kind`` for ``duration`` seconds (None: for good).

    ``rate`` is the chance a read is affected (timeout, checksum, spike; None: the
    kind's default), ``size`` a spike's size in degC, ``per_hour`` the drift rate.
    """

    node: str
    kind: str
    duration: float | None = None
    rate: float | None = None
    size: float = 10.0
    per_hour: float = 2.0
    control: ClassVar[str] = "node"

    @property
    def target(self) -> str:
        return self.node

    def needs(self) -> tuple[str, ...]:
        needs = (f"the sensor fault {self.kind!r}",)
        return needs if self.rate in (None, 1.0) else needs + ("a rate of faulty reads",)

    def apply(self, node: NodeControl, stage: Stage) -> None:
        node.sensor_fault(self)


@dataclass(frozen=True)
class WifiWeak:
    """A node's WiFi signal averages ``rssi`` dBm for ``duration`` seconds (None: for good)."""

    node: str
    rssi: float
    duration: float | None = None
    control: ClassVar[str] = "node"

    @property
    def target(self) -> str:
        return self.node

    def needs(self) -> tuple[str, ...]:
        return ("a WiFi signal level",)

    def apply(self, node: NodeControl, stage: Stage) -> None:
        node.weaken_wifi(self.rssi, self.duration)


@dataclass(frozen=True)
class WifiDrop:
    """A node loses its access point for ``duration`` seconds (None: until a later event)."""

    node: str
    duration: float | None = None
    control: ClassVar[str] = "node"

    @property
    def target(self) -> str:
        return self.node

    def needs(self) -> tuple[str, ...]:
        return ("a WiFi drop",)

    def apply(self, node: NodeControl, stage: Stage) -> None:
        node.drop_wifi(self.duration)


def _sensor(node: YamlValue) -> object:
    body = node.keys("sensor", {"node": True, "fault": True, "for": False, "rate": False, "size": False,
                                "per_hour": False})
    kind = body["fault"].text("fault")
    if kind not in SENSOR_FAULTS:
        raise body["fault"].error(f"unknown sensor fault {kind!r}; known: {', '.join(SENSOR_FAULTS)}")
    rate = body["rate"].number("rate") if "rate" in body else None
    if rate is not None and not 0 <= rate <= 1:
        raise body["rate"].error("rate is the fraction of reads affected, between 0 and 1")
    return SensorFault(
        body["node"].text("node"), kind,
        duration=body["for"].duration("for") if "for" in body else None,
        rate=rate,
        size=body["size"].number("size") if "size" in body else 10.0,
        per_hour=body["per_hour"].number("per_hour") if "per_hour" in body else 2.0,
    )


def _wifi(node: YamlValue) -> object:
    body = node.keys("wifi", {"node": True, "rssi": False, "for": False, "drop_for": False})
    name = body["node"].text("node")
    if "drop_for" in body:
        if "rssi" in body or "for" in body:
            raise node.error("a wifi event has either drop_for, or rssi with an optional for")
        return WifiDrop(name, body["drop_for"].duration("drop_for"))
    if "rssi" in body:
        rssi = body["rssi"].number("rssi")
        if not -110 <= rssi <= -20:
            raise body["rssi"].error(f"rssi is a signal level in dBm between -110 and -20, got {rssi:g}")
        return WifiWeak(name, rssi, body["for"].duration("for") if "for" in body else None)
    raise node.error("a wifi event needs rssi (e.g. rssi: -85, for: 10m) or drop_for (e.g. drop_for: 5m)")


def _link(node: YamlValue) -> object:
    body = node.keys("link", {"name": True, "down_for": False, "down": False, "up": False,
                              "latency": False, "loss": False, "for": False})
    name = body["name"].text("link name")
    if "down_for" in body:
        return LinkDown(name, body["down_for"].duration("down_for"))
    if "down" in body and body["down"].boolean("down"):
        return LinkDown(name)
    if "up" in body and body["up"].boolean("up"):
        return LinkUp(name)
    if "latency" in body or "loss" in body:
        loss = body["loss"].number("loss") if "loss" in body else None
        if loss is not None and not 0 <= loss <= 1:
            raise body["loss"].error("loss is a fraction between 0 and 1")
        return LinkDegraded(
            name,
            latency=body["latency"].duration("latency") if "latency" in body else None,
            loss=loss,
            duration=body["for"].duration("for") if "for" in body else None,
        )
    raise node.error("a link event needs one of: down_for, down: true, up: true, latency, loss")


def _internet(node: YamlValue) -> object:
    body = node.keys("internet", {"down_for": False, "down": False, "up": False})
    if "down_for" in body:
        return LinkDown(INTERNET, body["down_for"].duration("down_for"))
    if "up" in body and body["up"].boolean("up"):
        return LinkUp(INTERNET)
    if "down" in body and body["down"].boolean("down"):
        return LinkDown(INTERNET)
    raise node.error("an internet event needs down_for, down: true or up: true")


def _broker(node: YamlValue) -> object:
    body = node.keys("broker", {"restart": True, "down_for": False})
    if not body["restart"].boolean("restart"):
        raise body["restart"].error("the only broker event is 'restart: true'")
    return BrokerRestart(body["down_for"].duration("down_for") if "down_for" in body else 0.0)


# -- the match-day controller's world: the club site, the users, the controller's power --------


@dataclass(frozen=True)
class FixtureChange:
    """The club changes its calendar: ``reschedule`` (to ``kickoff``), ``cancel``, ``postpone``, ``add``."""

    action: str
    pair: str
    kickoff: float | None = None
    competition: str | None = None
    control: ClassVar[str] = "site"
    target: ClassVar[str] = CLUB_SITE

    def needs(self) -> tuple[str, ...]:
        return ("a calendar",)

    def apply(self, site: SiteControl, stage: Stage) -> None:
        if self.action == "reschedule":
            site.reschedule(self.pair, self.kickoff, self.competition)
        elif self.action == "cancel":
            site.cancel(self.pair, self.competition)
        elif self.action == "postpone":
            site.postpone(self.pair, self.competition)
        else:
            home, away = self.pair.split(" - ", 1)
            site.add_game(home, away, self.kickoff, **({"competition": self.competition} if self.competition else {}))


@dataclass(frozen=True)
class SiteTrouble:
    """The club site misbehaves for ``duration`` s: ``errors`` (HTTP ``status``), ``timeouts``,
    ``garble`` (``how``: template or truncated), or ``layout`` (a new page layout, for good)."""

    kind: str
    duration: float = 3600.0
    status: int = 500
    how: str = "template"
    control: ClassVar[str] = "site"
    target: ClassVar[str] = CLUB_SITE

    def needs(self) -> tuple[str, ...]:
        return ("site troubles",)

    def apply(self, site: SiteControl, stage: Stage) -> None:
        if self.kind == "errors":
            site.serve_errors(self.status, self.duration)
        elif self.kind == "timeouts":
            site.timeouts(self.duration)
        elif self.kind == "garble":
            site.garble_page(self.how, self.duration)
        else:
            site.change_layout(self.how)


@dataclass(frozen=True)
class UserAction:
    """A user on the dashboard: ``create_event`` (``title`` at ``start``), ``add_alert``
    (to the event titled ``title``, ``before`` its start, lasting ``duration``),
    ``snooze`` (the lit alert of the event titled ``title``, for ``duration`` seconds,
    or None: for the rest of its window); with a cloud, also ``update_alert`` (the next added
    alert of the event titled ``title``: to ``before`` and/or ``duration``) and
    ``update_application`` (``title`` is the version)."""

    action: str
    title: str
    start: float | None = None
    before: float | None = None
    duration: float | None = 600.0
    bad_hash: bool = False  # update_application (``title`` is the version): a package with the wrong SHA-256
    bad_signature: bool = False  # update_application: signed by a key the controller does not trust
    control: ClassVar[str] = "user"
    target: ClassVar[str] = CONTROLLER

    def needs(self) -> tuple[str, ...]:
        return ("users",)

    def apply(self, users: UserControl, stage: Stage) -> None:
        users.user(self)


@dataclass(frozen=True)
class PowerLoss:
    """A party loses power for ``duration`` seconds, then boots again: the controller (its disk is kept) or a
    simulated sensor node (its RAM and buffer are lost, its flash with the boot counter is kept:
    ``sim.models.power.NodePower``). A board has no power control the run could use: refused at load."""

    party: str
    duration: float
    control: ClassVar[str] = "power"

    @property
    def target(self) -> str:
        return self.party

    def needs(self) -> tuple[str, ...]:
        return ("a power control",)

    def apply(self, power: PowerControl, stage: Stage) -> None:
        power.power_loss(self.duration)


@dataclass(frozen=True)
class CloudFault:
    """The cloud service: ``down`` (for ``duration`` seconds, None: until ``up``), ``up``, ``lose_mirror``
    (as with a restore from an old backup; the next sync rebuilds it)."""

    action: str
    duration: float | None = None
    control: ClassVar[str] = "cloud"
    target: ClassVar[str] = CLOUD

    def needs(self) -> tuple[str, ...]:
        return ("cloud faults",)

    def apply(self, cloud: CloudControl, stage: Stage) -> None:
        if self.action == "down":
            cloud.set_up(False)
            if self.duration is not None:
                stage.later(self.duration, lambda: cloud.set_up(True), "cloud/back")
        elif self.action == "up":
            cloud.set_up(True)
        else:
            cloud.lose_mirror()


def _fixture(node: YamlValue) -> object:
    body = node.keys("fixture", {"reschedule": False, "cancel": False, "postpone": False, "add": False,
                                 "kickoff": False, "competition": False})
    actions = [a for a in ("reschedule", "cancel", "postpone", "add") if a in body]
    if len(actions) != 1:
        raise node.error("a fixture event names one of reschedule, cancel, postpone, add: \"Home - Away\"")
    action = actions[0]
    pair = body[action].text(action)
    if " - " not in pair:
        raise body[action].error(f"name the game as \"Home - Away\", got {pair!r}")
    competition = body["competition"].text("competition") if "competition" in body else None
    if action in ("reschedule", "add"):
        if "kickoff" not in body:
            raise node.error(f"'{action}' needs 'kickoff' (an ISO time with offset)")
        return FixtureChange(action, pair, body["kickoff"].timestamp("kickoff").timestamp(), competition)
    if "kickoff" in body:
        raise body["kickoff"].error(f"'{action}' takes no kickoff")
    return FixtureChange(action, pair, competition=competition)


def _site(node: YamlValue) -> object:
    body = node.keys("site", {"errors": False, "timeouts": False, "garble": False, "layout": False, "for": False})
    duration = body["for"].duration("for") if "for" in body else 3600.0
    if "errors" in body:
        return SiteTrouble("errors", duration, status=body["errors"].integer("errors", minimum=400))
    if "timeouts" in body and body["timeouts"].boolean("timeouts"):
        return SiteTrouble("timeouts", duration)
    if "garble" in body:
        how = body["garble"].text("garble")
        if how not in ("template", "truncated"):
            raise body["garble"].error("garble is 'template' or 'truncated'")
        return SiteTrouble("garble", duration, how=how)
    if "layout" in body:
        layout = body["layout"].text("layout")
        if layout not in LAYOUTS:
            raise body["layout"].error(f"unknown layout {layout!r}; layouts are {', '.join(LAYOUTS)}")
        return SiteTrouble("layout", 0.0, how=layout)
    raise node.error("a site event needs one of: errors: 500, timeouts: true, garble: template, layout: cards")


def _user(node: YamlValue) -> object:
    body = node.keys("user", {"create_event": False, "add_alert": False, "snooze": False, "start": False,
                              "before": False, "for": False, "update_alert": False, "update_application": False,
                              "bad_hash": False, "bad_signature": False})
    if "update_alert" in body:
        if "before" not in body and "for" not in body:
            raise node.error("update_alert needs 'before' and/or 'for'")
        return UserAction("update_alert", body["update_alert"].text("update_alert"),
                          before=body["before"].duration("before") if "before" in body else None,
                          duration=body["for"].duration("for") if "for" in body else None)
    if "update_application" in body:
        return UserAction("update_application", body["update_application"].text("update_application"),
                          bad_hash="bad_hash" in body and body["bad_hash"].boolean("bad_hash"),
                          bad_signature="bad_signature" in body and body["bad_signature"].boolean("bad_signature"))
    for flag in ("bad_hash", "bad_signature"):
        if flag in body:
            raise body[flag].error(f"{flag} goes with update_application: VERSION")
    if "create_event" in body:
        if "start" not in body:
            raise node.error("create_event needs 'start' (an ISO time with offset)")
        return UserAction("create_event", body["create_event"].text("create_event"),
                          start=body["start"].timestamp("start").timestamp())
    if "add_alert" in body:
        if "before" not in body:
            raise node.error("add_alert needs 'before' (how long before the event, e.g. 1h)")
        return UserAction("add_alert", body["add_alert"].text("add_alert"), before=body["before"].duration("before"),
                          duration=body["for"].duration("for") if "for" in body else 600.0)
    if "snooze" in body:
        return UserAction("snooze", body["snooze"].text("snooze"),
                          duration=body["for"].duration("for") if "for" in body else None)
    raise node.error("a user event is create_event: TITLE (with start), add_alert: TITLE (with before), "
                     "snooze: TITLE (optionally with for), update_alert: TITLE (with before and/or for) or "
                     "update_application: VERSION (the last two with a cloud)")


def _power(node: YamlValue) -> object:
    body = node.keys("power", {"party": True, "off_for": True})
    return PowerLoss(body["party"].text("party"), body["off_for"].duration("off_for"))


def _cloud(node: YamlValue) -> object:
    body = node.keys("cloud", {"down_for": False, "down": False, "up": False, "lose_mirror": False})
    if "down_for" in body:
        return CloudFault("down", body["down_for"].duration("down_for"))
    for action in ("down", "up", "lose_mirror"):
        if action in body and body[action].boolean(action):
            return CloudFault(action)
    raise node.error("a cloud event needs down_for, down: true, up: true or lose_mirror: true")


# Every timeline word: its parser. The loader reads the timeline with these (sim/scenario/loader.py).
TIMELINE = MappingProxyType({
    "link": _link, "internet": _internet, "broker": _broker, "sensor": _sensor, "wifi": _wifi,
    "fixture": _fixture, "site": _site, "user": _user, "power": _power, "cloud": _cloud,
})
NEEDS_A_CONTROLLER = ("site", "user", "cloud")  # controls only a world with a controller has
