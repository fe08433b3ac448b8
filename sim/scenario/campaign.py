"""Hypothesis campaigns: search fault schedules over a scenario's world for one that breaks a promise.

Swarm testing: each example first draws which fault kinds are enabled (some of the kinds
:func:`sim.scenario.fault_draws.draws` offers for the world), then a schedule of those kinds only, so an
example is a story of a few kinds of trouble rather than a little of everything. The drawn events are merged
into the base scenario's timeline, the base's ``expect:`` is replaced by the campaign's properties, and the
story runs as a scenario file would (``hash_only``). A failing example is shrunk by Hypothesis and written
out as that very scenario file (same seed), so ``hilsim run FILE`` fails the same way, with the same hash.

Properties are promises over the whole system, each a name and the ``expect:`` entries that judge it for
one drawn schedule (:data:`PROPERTIES`); a world without the parts a property judges (no nodes, no
controller, no cloud) does not check it. To add one, add an entry built from an expectation kind of the
vocabulary (:data:`sim.scenario.expect.EXPECTATIONS`). ``heal``, the moment the last drawn fault has healed,
lets a property speak of what must hold after the faults.
"""

from __future__ import annotations

import math
import random
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Iterable, Mapping

import yaml
from hypothesis import HealthCheck, Phase, Verbosity, given, seed as hypothesis_seed, settings
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from sim.scenario import fault_draws, loader
from sim.scenario.expect import Verdict
from sim.scenario.runner import run_scenario
from sim.scenario.spec import Scenario
from sim.scenario.yaml_value import Context, YamlValue
from system.errors import ConfigError

LIVENESS_BOUND = 300.0  # after the last fault heals, readings flow again within this (s)
QUIET = 2 * LIVENESS_BOUND  # the last part of a run where no drawn fault starts, so liveness can be seen
# The first part of a run where no drawn fault starts: the world boots at 0, and the bridge's persistent session
# exists only from its first subscription (readings published before it are not queued for it: MQTT).
WARM_UP = 60.0
MAX_EVENTS = 6  # drawn timeline events per example at most


@dataclass(frozen=True)
class Plan:
    """What a property may read of one example: the base scenario and when its last drawn fault healed
    (seconds after the start; None when nothing was drawn)."""

    scenario: Scenario
    heal: float | None
    broker_forgets: bool = False  # a drawn fault outside the no-loss promise (see outside_the_promise)

    @property
    def has_nodes(self) -> bool:
        return self.scenario.world["nodes"] > 0

    @property
    def cloud(self) -> Any:
        controller = self.scenario.world.get("controller")
        return controller.cloud if controller is not None else None


@dataclass(frozen=True)
class Property:
    """A promise over the whole system: ``expect(plan)`` gives the ``expect:`` entries that judge it for one
    example ([] when the world lacks what it judges)."""

    doc: str
    expect: Callable[[Plan], list[dict]]


def _seconds(value: float) -> str:
    return f"{value:g}s"


def _healed_by(plan: Plan, before_end: float) -> bool:
    return plan.heal is not None and plan.heal <= plan.scenario.duration - before_end


def outside_the_promise(event: dict) -> bool:
    """A drawn event the no-loss promises do not cover:

    - one that wipes the broker's memory (a restart without persistence, its power cut): what it had taken
      from the nodes and not yet handed to the bridge is gone by definition of MQTT without persistence;
    - message loss on the bridge's link: the model drops a PUBLISH inside a live connection, which TCP never
      does (it retransmits), and MQTT 3.1.1 resends only on a reconnect, so the loss is the model's, not the
      system's. Loss on a node's link stays in: the node's own retry covers it.
    """
    broker, power, link = event.get("broker"), event.get("power") or event.get("brownout"), event.get("link")
    return (isinstance(broker, dict) and broker.get("persistence") is False) or \
        (isinstance(power, dict) and power.get("party") == "broker") or \
        (isinstance(link, dict) and "bridge" in str(link.get("name", "")).split("~") and bool(link.get("loss")))


def _lost_through_faults(plan: Plan) -> list[dict]:
    # Samples made up to the heal are all stored, given the bound to flush after it.
    if not plan.has_nodes or plan.broker_forgets or not _healed_by(plan, LIVENESS_BOUND):
        return []
    return [{"readings_lost": {"max": 0, "settle": _seconds(plan.scenario.duration - plan.heal)}}]


def _liveness(plan: Plan) -> list[dict]:
    # Samples made after the heal up to the bound before the end are stored too: the flow came back.
    # (Judged as no loss up to then, so a wiped broker's loss falls outside it too.)
    if not plan.has_nodes or plan.broker_forgets or not _healed_by(plan, 2 * LIVENESS_BOUND):
        return []
    return [{"readings_lost": {"max": 0, "settle": _seconds(LIVENESS_BOUND)}}]


def _controller(entry: dict) -> Callable[[Plan], list[dict]]:
    return lambda plan: [entry] if plan.scenario.world.get("controller") is not None else []


def _cloud_converges(plan: Plan) -> list[dict]:
    cloud = plan.cloud
    if cloud is None:
        return []
    after = plan.heal or 0.0
    within = 2 * cloud.sync_every + 2 * cloud.check_every
    if after + within > plan.scenario.duration:
        return []
    return [{"cloud_in_sync": {"within": _seconds(within), "after": "+" + _seconds(after)}}]


# Every property a campaign checks, by name, in the order its expectations are written.
PROPERTIES: Mapping[str, Property] = MappingProxyType({
    "no_reading_lost": Property(f"every sample made before the last fault healed is stored, given {LIVENESS_BOUND:g} s "
                                "to flush", _lost_through_faults),
    "no_reading_stored_twice": Property("no reading is stored twice",
                                        lambda plan: [{"readings_duplicated": 0}] if plan.has_nodes else []),
    "heals_into_liveness": Property(f"after the last fault heals, readings flow again (every sample up to "
                                    f"{LIVENESS_BOUND:g} s before the end is stored)", _liveness),
    "light_follows_alerts": Property("the light is on only inside alert windows, and in every window not snoozed",
                                     _controller({"light_follows_schedule": True})),
    "no_alert_twice": Property("no alert fires twice", _controller({"alerts_fired_once": True})),
    "cloud_converges": Property("the cloud's mirror is in sync within two sync periods of the last heal",
                                _cloud_converges),
    "no_job_twice": Property("no job runs twice",
                             lambda plan: [{"jobs_executed_once": True}] if plan.cloud is not None else []),
})


# -- the drawn schedules -------------------------------------------------------------------------------------


def event_kind(event: dict) -> str:
    """The timeline word of a YAML-shaped event (``link``, ``power``, ...)."""
    return next(key for key in event if key != "at")


def heal_time(event: dict, start: datetime) -> float:
    """When the fault of a YAML-shaped ``event`` has healed, in seconds after ``start``: its ``at`` plus
    its longest ``for``/``*_for`` duration (a fault without one acts at once; ``down: true``: never, inf)."""
    ctx = Context("<drawn>")
    ctx.start = start
    at = YamlValue(str(event["at"]), 0, ctx).moment("at")
    body = event[event_kind(event)]
    if isinstance(body, dict) and str(body.get("down", "")).lower() == "true":
        return math.inf
    lasting = [YamlValue(str(value), 0, ctx).duration(key) for key, value in body.items()
               if key == "for" or key.endswith("_for")] if isinstance(body, dict) else []
    return at + max(lasting, default=0.0)


def base_events(text: str) -> list[dict]:
    """The timeline of a scenario file's text as YAML-shaped events, every scalar as written (for
    :func:`heal_time`: the base's own faults heal too before liveness can be asked of the system)."""
    def plain(node: yaml.Node) -> Any:
        if isinstance(node, yaml.MappingNode):
            return {key.value: plain(value) for key, value in node.value}
        if isinstance(node, yaml.SequenceNode):
            return [plain(item) for item in node.value]
        return node.value

    root = plain(yaml.compose(text))
    return list(root.get("timeline") or []) if isinstance(root, dict) else []


def swarm(kinds: Mapping[str, SearchStrategy[dict]], max_events: int = MAX_EVENTS) -> SearchStrategy[list[dict]]:
    """Swarm testing: a non-empty set of enabled kinds, then up to ``max_events`` events of those kinds only.
    Shrinks towards fewer kinds and fewer, earlier, shorter events."""
    names = sorted(kinds)

    @st.composite
    def schedule(draw: Callable) -> list[dict]:
        enabled = draw(st.lists(st.sampled_from(names), min_size=1, max_size=len(names), unique=True))
        pick = st.one_of([kinds[name] for name in sorted(enabled)])
        return draw(st.lists(pick, min_size=1, max_size=max_events))

    return schedule()


def fault_window(scenario: Scenario) -> fault_draws.WorldInfo:
    """The world the draws see: the scenario's after :data:`WARM_UP`, shortened by :data:`QUIET` so faults
    start early enough for liveness to be seen after them (:func:`from_window` puts its events back)."""
    length = max(60.0, scenario.duration - QUIET - WARM_UP)
    return fault_draws.WorldInfo.from_scenario(
        replace(scenario, start=scenario.start + timedelta(seconds=WARM_UP), duration=length))


def from_window(drawn: list[dict], window: fault_draws.WorldInfo) -> list[dict]:
    """Drawn events with their ``at`` rewritten as seconds after the scenario's own start (``+95s``)."""
    ctx = Context("<drawn>")
    ctx.start = window.start
    return [{**event, "at": f"+{YamlValue(str(event['at']), 0, ctx).moment('at') + WARM_UP:g}s"} for event in drawn]


def draw_schedule(strategy: SearchStrategy[list[dict]], seed: int) -> list[dict]:
    """One schedule drawn from ``strategy`` by a random stream seeded with ``seed`` (a swarm sweep's seed):
    the same seed gives the same schedule with the same Hypothesis version."""
    # Hypothesis has no public "draw with this Random"; @seed with one example always gives the simplest.
    from hypothesis.control import BuildContext
    from hypothesis.internal.conjecture.data import ConjectureData

    data = ConjectureData(random=random.Random(seed))
    with BuildContext(data, is_final=True, wrapped_test=draw_schedule):
        return data.draw(strategy)


# -- the story: the base scenario with the drawn timeline and the properties' expectations ---------------------


def story_text(base_text: str, drawn: list[dict], expect: list[dict], comment: str = "") -> str:
    """The base scenario file's text with ``drawn`` appended to its timeline and ``expect`` as its whole
    ``expect:`` section. The base's own entries keep their text (``at: 08:20`` stays a time of day)."""
    root = yaml.compose(base_text)
    entries = [node for key, node in root.value if key.value == "timeline"]
    base_events = entries[0].value if entries and isinstance(entries[0], yaml.SequenceNode) else []
    timeline = yaml.SequenceNode("tag:yaml.org,2002:seq", list(base_events) + [_node(e) for e in drawn],
                                 flow_style=False)
    new = {"timeline": timeline, "expect": _node(expect)}
    pairs = []
    has_timeline = any(key.value == "timeline" for key, _ in root.value)
    for key, value in root.value:
        if key.value == "expect" and not has_timeline:  # a new timeline goes before the expectations
            pairs.append((yaml.ScalarNode("tag:yaml.org,2002:str", "timeline"), new.pop("timeline")))
        pairs.append((key, new.pop(key.value, value)))
    pairs += [(yaml.ScalarNode("tag:yaml.org,2002:str", key), value) for key, value in new.items()]
    root.value = pairs
    text = yaml.serialize(root, Dumper=yaml.SafeDumper, width=120, allow_unicode=True)
    lines = "".join(f"# {line}\n" if line else "#\n" for line in comment.splitlines())
    return lines + text


def _node(data: Any) -> yaml.Node:
    # A fresh representer each time: one shared across events would write anchors for repeated objects.
    return yaml.representer.SafeRepresenter(default_flow_style=None, sort_keys=False).represent_data(data)


def expectations_for(plan: Plan, names: Iterable[str], known: Mapping[str, Any]) -> tuple[list[dict], list[str]]:
    """The ``expect:`` entries of the properties ``names`` for ``plan`` and, entry by entry, the property
    each judges; a property whose expectation kind the vocabulary (``known``) lacks is left out."""
    entries: list[dict] = []
    owners: list[str] = []
    for name in names:
        for entry in PROPERTIES[name].expect(plan):
            if all(kind in known for kind in entry):
                entries.append(entry)
                owners.append(name)
    return entries, owners


# -- the campaign ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Failure:
    """A shrunk counterexample: the properties it breaks, their verdicts, the scenario file written."""

    properties: tuple[str, ...]
    verdicts: tuple[Verdict, ...]
    path: Path
    sha256: str
    events: int


@dataclass
class CampaignReport:
    """What a campaign did: runs (examples generated and shrink steps), the failures it wrote out, how many
    examples each fault kind took part in, the properties checked, and the seed to run it again."""

    seed: int
    runs: int = 0
    failures: list[Failure] = field(default_factory=list)
    kinds_reached: Counter[str] = field(default_factory=Counter)
    properties_checked: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    first_failure: int | None = None  # the run that first broke a property (the runs after it: shrinking)
    base_fails: bool = False  # the base scenario broke a property with no drawn fault: nothing was searched


class CounterExample(Exception):
    """An example broke a property (raised inside Hypothesis' test; one subclass per set of broken
    properties, so Hypothesis keeps and shrinks each distinct failure apart)."""

    def __init__(self, text: str, properties: tuple[str, ...], verdicts: tuple[Verdict, ...], sha256: str,
                 events: int):
        super().__init__(", ".join(properties))
        self.text, self.properties, self.verdicts, self.sha256, self.events = text, properties, verdicts, sha256, \
            events


class _Probe:
    """One campaign's test body: build the story of a drawn schedule, run it, raise on a broken property."""

    def __init__(self, base_path: Path, names: tuple[str, ...], report: CampaignReport,
                 progress: Callable[[CampaignReport], None] | None):
        self.base_path, self.names, self.report, self.progress = base_path, names, report, progress
        self.base_text = base_path.read_text(encoding="utf-8")
        self.base = loader.parse(self.base_text, str(base_path))
        self.base_events = base_events(self.base_text)
        self.words = loader.default_vocabulary()
        self.kinds: dict[tuple[str, ...], type] = {}

    def __call__(self, drawn: list[dict]) -> None:
        faults = self.base_events + drawn
        heal = max(heal_time(e, self.base.start) for e in faults) if faults else None
        plan = Plan(self.base, heal, any(outside_the_promise(e) for e in faults))
        expect, owners = expectations_for(plan, self.names, self.words.expectations)
        text = story_text(self.base_text, drawn, expect, _comment(self.base_path, len(drawn)))
        scenario = loader.parse(text, str(self.base_path), self.words)
        self.report.runs += 1
        self.report.kinds_reached.update({event_kind(e) for e in drawn})
        self.report.properties_checked.update(set(owners))
        run = run_scenario(scenario, hash_only=True, vocabulary=self.words)
        if self.progress is not None:
            self.progress(self.report)
        broken = [(owner, v) for owner, v in zip(owners, run.verdicts) if not v.ok]
        if broken:
            if self.report.first_failure is None:
                self.report.first_failure = self.report.runs
            names = tuple(dict.fromkeys(owner for owner, _ in broken))
            raise self._kind(names)(text, names, tuple(v for _, v in broken), run.sha256, len(drawn))

    def _kind(self, names: tuple[str, ...]) -> type:
        if names not in self.kinds:
            self.kinds[names] = type("Breaks_" + "_".join(names), (CounterExample,), {})
        return self.kinds[names]


def _comment(base: Path, events: int) -> str:
    return (f"A counterexample found by `hilsim campaign {base.name}` and shrunk by Hypothesis: the base\n"
            f"scenario with {events} drawn timeline event(s) appended and the campaign's properties as its\n"
            f"expectations. Run it again with: hilsim run THIS_FILE")


def check_properties(names: Iterable[str]) -> tuple[str, ...]:
    """``names`` checked against :data:`PROPERTIES` (a ConfigError names the unknown one and the known)."""
    names = tuple(names)
    unknown = [n for n in names if n not in PROPERTIES]
    if unknown:
        raise ConfigError(f"unknown property {unknown[0]!r}; properties: {', '.join(PROPERTIES)}",
                          source="--property")
    return names


def run_campaign(base_path: str | Path, *, examples: int, seed: int, out: str | Path,
                 properties: Iterable[str] = tuple(PROPERTIES), max_events: int = MAX_EVENTS,
                 progress: Callable[[CampaignReport], None] | None = None) -> CampaignReport:
    """Run ``examples`` drawn fault schedules over the world of the scenario file ``base_path``; shrink each
    distinct failure and write it to ``out`` as a scenario file. Deterministic for a ``seed``."""
    started = time.monotonic()
    report = CampaignReport(seed)
    probe = _Probe(Path(base_path), check_properties(properties), report, progress)
    window = fault_window(probe.base)
    kinds = fault_draws.draws(window)
    if not kinds:
        raise ConfigError("this world has no party a fault can be drawn for", source=str(base_path))
    try:  # the story with no drawn fault first: a property it breaks already needs no search
        probe([])
    except CounterExample as broken:
        report.base_fails = True
        report.failures = _write([broken], Path(out), Path(base_path).stem)
        report.seconds = time.monotonic() - started
        return report
    report.runs, report.properties_checked = 0, Counter()  # the examples counted are the drawn ones

    def example(drawn: list[dict]) -> None:
        probe(from_window(drawn, window))

    test = given(swarm(kinds, max_events))(example)
    test = settings(max_examples=examples, database=None, deadline=None, derandomize=False,
                    verbosity=Verbosity.quiet, report_multiple_bugs=True, phases=(Phase.generate, Phase.shrink),
                    suppress_health_check=list(HealthCheck))(test)
    try:
        hypothesis_seed(seed)(test)()
    except (CounterExample, BaseExceptionGroup) as raised:
        report.failures = _write(_counterexamples(raised), Path(out), Path(base_path).stem)
    report.seconds = time.monotonic() - started
    return report


def _counterexamples(raised: BaseException) -> list[CounterExample]:
    if isinstance(raised, CounterExample):
        return [raised]
    found = [e for group in raised.exceptions for e in _counterexamples(group)]
    if len(found) != len(raised.exceptions):
        raise raised  # something else than a broken property went wrong: show it
    return found


def _write(found: list[CounterExample], out: Path, stem: str) -> list[Failure]:
    out.mkdir(parents=True, exist_ok=True)
    failures = []
    for i, example in enumerate(sorted(found, key=lambda e: e.properties), start=1):
        path = out / f"{stem}-counterexample-{i}.yaml"
        path.write_text(example.text, encoding="utf-8")
        failures.append(Failure(example.properties, example.verdicts, path, example.sha256, example.events))
    return failures
