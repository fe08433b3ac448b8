"""Scenario files: YAML in, a validated :class:`~sim.scenario.spec.Scenario` out, or a ScenarioError.

Validation is complete when the file is loaded, before anything runs: every key is
known, every value typed (:mod:`sim.scenario.yaml_value`), and then every whole-scenario
check of the vocabulary runs (links and nodes that exist in the world, games that
are on the club's page, events that need a controller). A mistake is a
:class:`~system.errors.ScenarioError` naming the file, the line and the known values.

The words a scenario may use come from a :class:`~sim.scenario.vocabulary.Vocabulary`, handed
in; :func:`sim.scenario.vocabulary.default_vocabulary` is the one hilsim ships.
"""

from __future__ import annotations

from pathlib import Path

from sim.scenario.spec import Expectation, Scenario, TimedEvent
from sim.scenario.vocabulary import Vocabulary, default_vocabulary
from sim.scenario.yaml_value import YamlValue, compose
from system.errors import ScenarioError

TOP = {"name": True, "seed": False, "start": True, "duration": True, "world": False,
       "timeline": False, "expect": False, "description": False}


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
