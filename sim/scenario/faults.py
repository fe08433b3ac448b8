"""Faults are world events: plain data, made by scenario files and Hypothesis strategies alike.

Each timeline key (``link:``, ``internet:``, ``broker:``, ``sensor:``, ``wifi:``; ``fixture:``, ``site:``,
``user:``, ``power:`` for the controller) has a parser here that turns the YAML into a fault object;
``sim/scenario/world.py`` and ``sim/scenario/controller_party.py`` apply fault objects. The parsers are gathered in
:data:`TELEMETRY_EVENTS` and :data:`CONTROLLER_EVENTS` for :mod:`sim.scenario.vocabulary`.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

from sim.scenario.yaml_value import YamlValue
from sim.models.club_site import LAYOUTS


@dataclass(frozen=True)
class LinkDown:
    """The link goes down; comes back after ``duration`` seconds (None: stays down)."""

    link: str
    duration: float | None = None


@dataclass(frozen=True)
class LinkUp:
    link: str


@dataclass(frozen=True)
class LinkDegraded:
    """Latency and/or loss change on a link, for ``duration`` seconds (None: for good)."""

    link: str
    latency: float | None = None
    loss: float | None = None
    duration: float | None = None


@dataclass(frozen=True)
class BrokerRestart:
    """The broker process stops and starts again ``down_for`` seconds later; sessions persist."""

    down_for: float = 0.0


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


@dataclass(frozen=True)
class WifiWeak:
    """A node's WiFi signal averages ``rssi`` dBm for ``duration`` seconds (None: for good)."""

    node: str
    rssi: float
    duration: float | None = None


@dataclass(frozen=True)
class WifiDrop:
    """A node loses its access point for ``duration`` seconds (None: until a later event)."""

    node: str
    duration: float | None = None


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


# The timeline words of the telemetry world, gathered by sim/scenario/vocabulary.py.
TELEMETRY_EVENTS = MappingProxyType({"link": _link, "internet": _internet, "broker": _broker, "sensor": _sensor,
                                     "wifi": _wifi})


# -- the match-day controller's world: the club site, the users, the controller's power --------


@dataclass(frozen=True)
class FixtureChange:
    """The club changes its calendar: ``reschedule`` (to ``kickoff``), ``cancel``, ``postpone``, ``add``."""

    action: str
    pair: str
    kickoff: float | None = None
    competition: str | None = None


@dataclass(frozen=True)
class SiteTrouble:
    """The club site misbehaves for ``duration`` s: ``errors`` (HTTP ``status``), ``timeouts``,
    ``garble`` (``how``: template or truncated), or ``layout`` (a new page layout, for good)."""

    kind: str
    duration: float = 3600.0
    status: int = 500
    how: str = "template"


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


@dataclass(frozen=True)
class PowerLoss:
    """A party loses power for ``duration`` seconds, then boots again."""

    party: str
    duration: float


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
                              "bad_hash": False})
    if "update_alert" in body:
        if "before" not in body and "for" not in body:
            raise node.error("update_alert needs 'before' and/or 'for'")
        return UserAction("update_alert", body["update_alert"].text("update_alert"),
                          before=body["before"].duration("before") if "before" in body else None,
                          duration=body["for"].duration("for") if "for" in body else None)
    if "update_application" in body:
        return UserAction("update_application", body["update_application"].text("update_application"),
                          bad_hash="bad_hash" in body and body["bad_hash"].boolean("bad_hash"))
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


# The timeline words of the match-day controller's world, gathered by sim/scenario/vocabulary.py.
CONTROLLER_EVENTS = MappingProxyType({"fixture": _fixture, "site": _site, "user": _user, "power": _power})
