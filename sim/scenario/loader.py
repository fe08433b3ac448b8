"""Scenario files: YAML in, a validated :class:`~sim.scenario.spec.Scenario` out, or a ScenarioError.

Validation is complete when the file is loaded, before anything runs, and reads in three files:
this one (the file's structure, the ``world:`` section, and the whole-scenario checks: links and
nodes that exist in the world, games that are on the club's page, events that need a controller or
a cloud, and :func:`check_backends` for a run whose parties have other backends),
:mod:`sim.scenario.faults` (each timeline event's parser) and :mod:`sim.scenario.expect` (each
expectation's parser). Values are typed by :mod:`sim.scenario.yaml_value`. A mistake is a
:class:`~system.errors.ScenarioError` naming the file, the line and the known values.

The words a scenario may use are a :class:`Vocabulary`, handed in; :func:`default_vocabulary` is the
one hilsim ships. A user who adds a world event builds one with one more entry::

    words = default_vocabulary()
    mine = replace(words, timeline={**words.timeline, "earthquake": parse_earthquake})
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Mapping

from sim.models.club_season import load_season
from sim.models.club_site import LAYOUTS, Game, find_game
from sim.models.sensors import read_recording
from sim.scenario import expect, faults
from sim.scenario.controls import Backend
from sim.scenario.expect import ExpectationKind
from sim.scenario.spec import CloudConfig, ControllerConfig, Expectation, Scenario, TimedEvent, WorldKey
from sim.scenario.yaml_value import YamlValue, compose
from system.decisions.selectors import SelectorsFile, parse_selectors_file
from system.errors import ConfigError, ScenarioError

TOP = {"name": True, "seed": False, "start": True, "duration": True, "world": False,
       "timeline": False, "expect": False, "description": False}


@dataclass(frozen=True)
class Vocabulary:
    """``world`` keys (parser and default), ``timeline`` event parsers, ``expectations`` (parser and
    checker), and ``checks`` run on the whole parsed scenario before anything runs."""

    world: Mapping[str, WorldKey]
    timeline: Mapping[str, Callable[[YamlValue], Any]]
    expectations: Mapping[str, ExpectationKind]
    checks: tuple[Callable[[Scenario], None], ...]


def load(path: str | Path, vocabulary: Vocabulary | None = None) -> Scenario:
    """Read and validate a scenario file; raises ScenarioError naming file and line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"cannot read the file: {exc.strerror}", file=str(path)) from None
    return parse(text, str(path), vocabulary)


def parse(text: str, file: str = "<scenario>", vocabulary: Vocabulary | None = None) -> Scenario:
    """Validate scenario text; ``file`` is only used in messages and to find files named in it."""
    words = vocabulary or default_vocabulary()
    root = compose(text, file)
    top = root.keys("the scenario", TOP)
    start = top["start"].timestamp("start")
    root.ctx.start = start
    scenario = Scenario(
        name=top["name"].text("name"),
        seed=top["seed"].integer("seed", minimum=0) if "seed" in top else 0,
        start=start,
        duration=top["duration"].duration("duration"),
        world=_world(top.get("world"), words),
        timeline=tuple(_timeline(top["timeline"], words) if "timeline" in top else ()),
        expect=tuple(_expectations(top["expect"], words) if "expect" in top else ()),
        file=file,
    )
    for check in words.checks:
        check(scenario)
    return scenario


def _world(node: YamlValue | None, words: Vocabulary) -> dict:
    given = node.keys("world", {k: False for k in words.world}) if node is not None else {}
    return {key: kind.parse(given[key]) if key in given else kind.default for key, kind in words.world.items()}


def _timeline(node: YamlValue, words: Vocabulary) -> list[TimedEvent]:
    events = []
    for entry in node.sequence("timeline"):
        items = dict(entry.mapping("a timeline entry"))
        if "at" not in items:
            raise entry.error("each timeline entry needs 'at' (a time like 09:00 or +2h)")
        at_node = items.pop("at")
        at = at_node.moment("at")
        if at < 0:
            raise at_node.error("this time is before the scenario start")
        kind, body = YamlValue(items, entry.line, entry.ctx).single("timeline event", words.timeline)
        events.append(TimedEvent(at, words.timeline[kind](body), entry.line))
    return sorted(events, key=lambda e: e.at)


def _expectations(node: YamlValue, words: Vocabulary) -> list[Expectation]:
    out = []
    for entry in node.sequence("expect"):
        kind, body = entry.single("expectation", words.expectations)
        out.append(Expectation(kind, words.expectations[kind].parse(body), entry.line))
    return out


# -- the world: section ----------------------------------------------------------------------------------


def _find(name: str, scenario_file: str) -> Path | None:
    """A file a scenario names: in the current directory, next to the scenario, or one level up."""
    here = Path(scenario_file).resolve().parent
    return next((p for p in (Path(name), here / name, here.parent / name) if p.is_file()), None)


def _sensor(node: YamlValue) -> dict:
    """``sensor: {replay: FILE}``: every node's DHT22 sends the values recorded in FILE (``hilsim record``);
    a node replays its own recording when FILE has one for it, else the file's first node's."""
    body = node.keys("sensor", {"replay": True})
    name = body["replay"].text("replay")
    found = _find(name, node.ctx.file)
    if found is None:
        raise body["replay"].error(f"no recording {name!r} (looked in the current directory and next to the "
                                   "scenario file)")
    try:
        samples = read_recording(found)
    except (ValueError, KeyError) as exc:
        raise body["replay"].error(f"{name}: {exc}") from None
    return {"replay": str(found), "samples": samples}


def _controller(node: YamlValue) -> ControllerConfig:
    body = node.keys("controller", {"season": True, "format": False, "scrape_every": False, "push_every": False,
                                    "selectors": False, "layout": False, "cloud": False})
    name = body["season"].text("season")
    found = _find(name, node.ctx.file)
    if found is None:
        raise body["season"].error(f"no season file {name!r} (looked in the current directory and next to "
                                   "the scenario file)")
    fmt = body["format"].text("format") if "format" in body else "html"
    if fmt not in ("html", "ical"):
        raise body["format"].error("format is 'html' (the fixtures page) or 'ical' (the feed)")
    layout = body["layout"].text("layout") if "layout" in body else LAYOUTS[0]
    if layout not in LAYOUTS:
        raise body["layout"].error(f"unknown layout {layout!r}; layouts are {', '.join(LAYOUTS)}")
    return ControllerConfig(
        season=str(found), format=fmt,
        scrape_every=body["scrape_every"].duration("scrape_every") if "scrape_every" in body else 3600.0,
        push_every=body["push_every"].duration("push_every") if "push_every" in body else 300.0,
        cloud=_cloud(body["cloud"]) if "cloud" in body else None,
        selectors=_selectors(body["selectors"]) if "selectors" in body else None, layout=layout,
    )


def _selectors(node: YamlValue) -> SelectorsFile:
    name = node.text("selectors")
    path = _find(name, node.ctx.file)
    if path is None:
        raise node.error(f"no selectors file {name!r} (looked in the current directory and next to the scenario "
                         "file)")
    try:
        return parse_selectors_file(path.read_text(encoding="utf-8"), name)
    except ConfigError as exc:
        raise node.error(f"the selectors file is unusable: {exc}") from None


def _cloud(node: YamlValue) -> CloudConfig:
    """``cloud: {}`` or with ``sync_every``, ``poll_every``, ``heartbeat_period``, ``job_timeout``."""
    if node.value in (None, "", {}):
        return CloudConfig()
    keys = ("sync_every", "poll_every", "heartbeat_period", "job_timeout", "check_every")
    body = node.keys("cloud", {k: False for k in keys})
    return CloudConfig(**{k: body[k].duration(k) for k in keys if k in body})


WORLD = MappingProxyType({
    "nodes": WorldKey(lambda n: n.integer("nodes", minimum=0), 3),
    "sample_every": WorldKey(lambda n: n.duration("sample_every"), 10.0),
    "buffer_size": WorldKey(lambda n: n.integer("buffer_size", minimum=1), 256),
    "latency": WorldKey(lambda n: n.duration("latency"), 0.005),
    "read_every": WorldKey(lambda n: n.duration("read_every"), 4.0),
    "history": WorldKey(lambda n: n.integer("history", minimum=1), 60),
    "sntp_after": WorldKey(lambda n: n.duration("sntp_after"), 0.0),
    "sensor": WorldKey(_sensor, None),
    "controller": WorldKey(_controller, None),
})


# -- the parties and links of a world, named once ------------------------------------------------------


def node_names(world: dict[str, Any]) -> list[str]:
    """The sensor nodes of a ``world:`` section, in order."""
    return [f"node-{i}" for i in range(1, world["nodes"] + 1)]


def link_names(world: dict[str, Any], timeline: tuple = ()) -> list[str]:
    """Every link of a ``world:`` section (with the ``timeline``: also the adversary's, when it acts)."""
    found = ["bridge~broker"] + [f"{name}~broker" for name in node_names(world)]
    if world.get("controller") is not None:
        found.append(faults.INTERNET)
        if world["controller"].cloud is not None:
            found.append("cloud~broker")
    if any(e.fault.control == "adversary" for e in timeline):
        found.append("adversary~broker")
    return found


def powered_parties(world: dict[str, Any]) -> list[str]:
    """The parties a ``power:`` event may cut: every node, the controller, the cloud, the broker, the bridge."""
    found = node_names(world)
    if world.get("controller") is not None:
        found.append(faults.CONTROLLER)
        if world["controller"].cloud is not None:
            found.append(faults.CLOUD)
    return found + [faults.BROKER, faults.BRIDGE]


# -- whole-scenario checks -----------------------------------------------------------------------------


def _refuse(scenario: Scenario, event: TimedEvent, message: str) -> ScenarioError:
    return ScenarioError(message, file=scenario.file, line=event.line)


def check_parties(scenario: Scenario) -> None:
    """Refuse timeline events naming a link or node this world does not have, and power cuts of a party
    without a power control (the controller and every sensor node have one)."""
    links, nodes = link_names(scenario.world, scenario.timeline), node_names(scenario.world)
    powered = powered_parties(scenario.world)
    snapshots = {"start"}  # the cloud's store as provisioned (sim.scenario.cloud_party.START_SNAPSHOT)
    for event in scenario.timeline:
        fault = event.fault
        if fault.control == "link" and fault.target not in links:
            raise _refuse(scenario, event, f"no link {fault.target!r} in this world; links: {', '.join(links)}")
        if fault.control == "node" and fault.target not in nodes:
            raise _refuse(scenario, event, f"no node {fault.target!r} in this world; nodes: "
                                           f"{', '.join(nodes) or 'none'}")
        if fault.control == "power" and fault.target not in powered:
            raise _refuse(scenario, event, f"no party {fault.target!r} with a power control in this world; "
                                           f"parties: {', '.join(powered) or 'none'}")
        _check_special(scenario, event, snapshots)


def _check_special(scenario: Scenario, event: TimedEvent, snapshots: set[str]) -> None:
    """An adversary's victim is a party of this world; a restore names a snapshot taken before it."""
    fault = event.fault
    if isinstance(fault, faults.AdversaryAct):
        controller = scenario.world.get("controller") is not None or fault.act == "poison_job"  # its topics
        parties = node_names(scenario.world) + [faults.BRIDGE, faults.BROKER]
        parties += [faults.CONTROLLER] if controller else []
        if fault.victim not in parties:
            raise _refuse(scenario, event, f"no party {fault.victim!r} to attack in this world; parties: "
                                           f"{', '.join(parties)}")
    if isinstance(fault, faults.CloudStoreFault) and fault.action == "snapshot":
        snapshots.add(fault.name)
    elif isinstance(fault, faults.CloudStoreFault) and fault.action == "restore" and fault.name not in snapshots:
        raise _refuse(scenario, event, f"no snapshot {fault.name!r} taken earlier in the timeline (take one with "
                                       f"cloud: {{snapshot: {fault.name}}}); snapshots: "
                                       f"{', '.join(sorted(snapshots)) or 'none'}")


def check_controller(scenario: Scenario) -> None:
    """Refuse, before anything runs, controller events this world cannot apply: events without a
    controller or cloud, games that are not on the club's page, user actions on events that never exist."""
    config: ControllerConfig | None = scenario.world.get("controller")
    for event in scenario.timeline:
        fault = event.fault
        if config is None and (fault.control in faults.NEEDS_A_CONTROLLER or fault.target == faults.INTERNET):
            raise _refuse(scenario, event, "this event needs a controller in the world (world: {controller: ...})")
        needs_cloud = fault.control == "cloud" or (
            fault.control == "user" and fault.action in ("update_alert", "update_application"))
        if config is not None and needs_cloud and config.cloud is None:
            raise _refuse(scenario, event, "this event needs a cloud in the world (world: {controller: {cloud: {}}})")
    if config is not None:
        _check_calendar(scenario, config)


def _check_calendar(scenario: Scenario, config: ControllerConfig) -> None:
    """Games changed on the timeline are on the club's page; users act on events that exist by then."""
    games = load_season(config.season)
    titles = {g.title for g in games}  # what users can act on: games and the events they create
    cancelled: set[str] = set()
    for event in scenario.timeline:
        fault = event.fault
        if isinstance(fault, faults.FixtureChange) and fault.action == "add":
            home, away = fault.pair.split(" - ", 1)
            games.append(Game(home, away, 0.0, **({"competition": fault.competition} if fault.competition else {})))
            titles.add(fault.pair)
        elif isinstance(fault, faults.FixtureChange) and find_game(games, fault.pair, fault.competition) is None:
            known = sorted({g.title + (f" ({g.competition})" if fault.competition else "") for g in games})
            raise _refuse(scenario, event, f"no game {fault.pair!r}"
                          + (f" in {fault.competition!r}" if fault.competition else "")
                          + f" in the club's season {Path(config.season).name}; games: {', '.join(known)}")
        if isinstance(fault, faults.FixtureChange) and fault.action in ("cancel", "reinstate"):
            if fault.action == "reinstate" and fault.pair not in cancelled:
                raise _refuse(scenario, event, f"reinstate: {fault.pair!r} is not cancelled earlier in the timeline")
            cancelled.add(fault.pair) if fault.action == "cancel" else cancelled.discard(fault.pair)
        if isinstance(fault, faults.UserAction) and fault.action == "create_event":
            titles.add(fault.title)
        elif isinstance(fault, faults.UserAction) and fault.action != "update_application" \
                and fault.title not in titles:
            raise _refuse(scenario, event, f"{fault.action}: no event {fault.title!r} on the club's page or "
                                           f"created earlier in the timeline; events: {', '.join(sorted(titles))}")


def check_backends(scenario: Scenario, backends: Mapping[str, Backend]) -> None:
    """Refuse a timeline event whose target's backend (party or link name -> Backend; simulated when
    absent) cannot suffer it, e.g. packet loss on a link that is real TCP. The run command calls this
    right after loading, when the backends are chosen."""
    for event in scenario.timeline:
        backend = backends.get(event.fault.target)
        reason = backend.refusal(event.fault.target, event.fault) if backend is not None else None
        if reason is not None:
            raise _refuse(scenario, event, reason)


def default_vocabulary() -> Vocabulary:
    """Everything hilsim's world knows: telemetry, the match-day controller and its cloud."""
    return Vocabulary(world=WORLD, timeline=faults.TIMELINE, expectations=expect.EXPECTATIONS,
                      checks=(check_controller, check_parties))
