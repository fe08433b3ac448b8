"""Faults of the match-day controller's world: the club site, its users, its cloud, its disk."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, ClassVar

from sim.models.club_site import LAYOUTS
from sim.scenario.controls import CloudControl, SiteControl, Stage, UserControl
from sim.scenario.faults.names import CLOUD, CLUB_SITE, CONTROLLER
from sim.scenario.yaml_value import YamlValue


@dataclass(frozen=True)
class FixtureChange:
    """The club changes its calendar: ``reschedule`` (to ``kickoff``), ``cancel``, ``postpone``, ``add``,
    ``reinstate`` (a cancelled game back on the calendar, at its old kickoff)."""

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
        elif self.action == "reinstate":
            site.reinstate(self.pair, self.competition)
        else:
            home, away = self.pair.split(" - ", 1)
            site.add_game(home, away, self.kickoff, **({"competition": self.competition} if self.competition else {}))


@dataclass(frozen=True)
class SiteTrouble:
    """The club site misbehaves for ``duration`` s: ``errors`` (HTTP ``status``), ``timeouts``,
    ``garble`` (``how``: template or truncated), or ``layout`` (a new page layout, for good). With
    ``retry_after`` (seconds), the errors carry a ``Retry-After`` header (an HTTP 429's)."""

    kind: str
    duration: float = 3600.0
    status: int = 500
    how: str = "template"
    retry_after: float | None = None
    control: ClassVar[str] = "site"
    target: ClassVar[str] = CLUB_SITE

    def needs(self) -> tuple[str, ...]:
        return ("site troubles",)

    def apply(self, site: SiteControl, stage: Stage) -> None:
        if self.kind == "errors":
            if self.retry_after is None:
                site.serve_errors(self.status, self.duration)
            else:
                site.serve_errors(self.status, self.duration, retry_after=self.retry_after)
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
    racing_scrape: bool = False  # the action waits for the next scrape and lands while the page is on its way
    control: ClassVar[str] = "user"
    target: ClassVar[str] = CONTROLLER

    def needs(self) -> tuple[str, ...]:
        return ("users",)

    def apply(self, users: UserControl, stage: Stage) -> None:
        if self.racing_scrape:
            users.user_racing_scrape(self)
        else:
            users.user(self)


@dataclass(frozen=True)
class CloudFault:
    """The cloud service: ``down`` (for ``duration`` seconds, None: until ``up``), ``up``, ``lose_mirror``
    (the device's mirror gone; the next sync rebuilds it)."""

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


@dataclass(frozen=True)
class CloudStoreFault:
    """The cloud's store: ``snapshot`` (a backup named ``name``, taken now), ``restore`` (the store put back
    as the backup ``name`` held it: what came later, jobs and mirrored rows, is gone) or ``lose`` (the store
    lost and set up again from scratch: the device and the users registered anew, nothing else)."""

    action: str
    name: str | None = None
    control: ClassVar[str] = "cloud"
    target: ClassVar[str] = CLOUD
    trace_kind: ClassVar[str] = "fault.cloud_store"

    def needs(self) -> tuple[str, ...]:
        return ("a store to back up and restore",)

    def apply(self, cloud: Any, stage: Stage) -> None:
        if self.action == "snapshot":
            cloud.snapshot(self.name)
        elif self.action == "restore":
            cloud.restore(self.name)
        else:
            cloud.lose_store()


@dataclass(frozen=True)
class DiskFull:
    """The controller's disk is full for ``duration`` seconds (None: for good): every SQLite write that needs
    a new page fails with SQLITE_FULL ("database or disk is full"), as on a full SD card."""

    duration: float | None = None
    control: ClassVar[str] = "disk"
    target: ClassVar[str] = CONTROLLER
    trace_kind: ClassVar[str] = "fault.disk_full"

    def needs(self) -> tuple[str, ...]:
        return ("a disk that fills up",)

    def apply(self, disk: Any, stage: Stage) -> None:
        disk.fill_disk()
        if self.duration is not None:
            stage.later(self.duration, disk.free_disk, "controller/disk-freed")


def _fixture(node: YamlValue) -> object:
    body = node.keys("fixture", {"reschedule": False, "cancel": False, "postpone": False, "add": False,
                                 "reinstate": False, "kickoff": False, "competition": False})
    actions = [a for a in ("reschedule", "cancel", "postpone", "add", "reinstate") if a in body]
    if len(actions) != 1:
        raise node.error("a fixture event names one of reschedule, cancel, postpone, add, reinstate: "
                         "\"Home - Away\"")
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
    body = node.keys("site", {"errors": False, "timeouts": False, "garble": False, "layout": False, "for": False,
                              "retry_after": False})
    duration = body["for"].duration("for") if "for" in body else 3600.0
    if "retry_after" in body and "errors" not in body:
        raise body["retry_after"].error("retry_after goes with errors (e.g. errors: 429, retry_after: 30m)")
    if "errors" in body:
        retry = body["retry_after"].duration("retry_after") if "retry_after" in body else None
        return SiteTrouble("errors", duration, status=body["errors"].integer("errors", minimum=400), retry_after=retry)
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
                              "bad_hash": False, "bad_signature": False, "racing_scrape": False})
    racing = "racing_scrape" in body and body["racing_scrape"].boolean("racing_scrape")
    action = _user_action(node, body)
    return replace(action, racing_scrape=True) if racing else action


def _user_action(node: YamlValue, body: dict[str, YamlValue]) -> UserAction:
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


def _cloud(node: YamlValue) -> object:
    body = node.keys("cloud", {"down_for": False, "down": False, "up": False, "lose_mirror": False,
                               "lose_store": False, "snapshot": False, "restore": False})
    if "down_for" in body:
        return CloudFault("down", body["down_for"].duration("down_for"))
    for action in ("snapshot", "restore"):
        if action in body:
            return CloudStoreFault(action, body[action].text(f"the {action}'s name"))
    if "lose_store" in body and body["lose_store"].boolean("lose_store"):
        return CloudStoreFault("lose")
    for action in ("down", "up", "lose_mirror"):
        if action in body and body[action].boolean(action):
            return CloudFault(action)
    raise node.error("a cloud event needs down_for, down: true, up: true, lose_mirror: true, lose_store: true, "
                     "snapshot: NAME or restore: NAME")


def _disk(node: YamlValue) -> object:
    body = node.keys("disk", {"full": True, "for": False})
    if not body["full"].boolean("full"):
        raise body["full"].error("the only disk event is 'full: true' (with an optional for: 1h)")
    return DiskFull(body["for"].duration("for") if "for" in body else None)
