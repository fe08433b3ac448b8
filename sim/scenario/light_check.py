"""Expectations about the alarm light, checked against an independently computed schedule.

``light_follows_schedule`` does not ask the system's planner: it recomputes from
the world's truth (the club site's final calendar, the users' actions in the
scenario, the controller's power cuts) when the light must be on, using the
documented policy (10 minutes at 4h, 3h30 and 3h15 before every home game and
custom event), and compares that with the relay edges in the trace. The checkers are here; their
parsers, with every expectation's, in :mod:`sim.scenario.expect`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sim.scenario.faults import UserAction

# The documented default policy, written out again on purpose (not imported from system/).
POLICY = ((4 * 3600.0, 600.0), (3.5 * 3600.0, 600.0), (3.25 * 3600.0, 600.0))
CLUB = "KAA Gent"
EPS = 1e-6


def merge(intervals) -> list[tuple[float, float]]:
    """Union of intervals, dropping empty ones; touching intervals join."""
    out: list[list[float]] = []
    for lo, hi in sorted(i for i in intervals if i[1] - i[0] > EPS):
        if out and lo <= out[-1][1] + EPS:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return [(lo, hi) for lo, hi in out]


def subtract(intervals, holes) -> list[tuple[float, float]]:
    out = []
    for lo, hi in intervals:
        pieces = [(lo, hi)]
        for h_lo, h_hi in holes:
            pieces = [p for a, b in pieces for p in ((a, min(b, h_lo)), (max(a, h_hi), b)) if p[1] - p[0] > EPS]
        out += pieces
    return merge(out)


def light_intervals(run) -> list[tuple[float, float]]:
    """When the relay was closed, from its traced edges (seconds since the start)."""
    on_at, found = None, []
    for r in run.trace.records:
        if r["src"] != "controller":
            continue
        if r["kind"] == "relay.on" and on_at is None:
            on_at = r["t"]
        elif r["kind"] == "relay.off" and on_at is not None:
            found.append((on_at, r["t"]))
            on_at = None
    if on_at is not None:
        found.append((on_at, run.duration))
    return merge(found)


@dataclass
class _Window:
    """One alert's window as the world's truth gives it, and the snoozes that darken parts of it."""

    lo: float
    hi: float
    known: float  # from when the controller could know of the alert
    title: str  # of its event
    snoozed: list[tuple[float, float]] = field(default_factory=list)

    def dark(self, t: float) -> bool:
        return any(lo <= t < hi for lo, hi in self.snoozed)


def expected_windows(run) -> list[_Window]:
    """Every alert window the world's truth gives (seconds since the start), with the users' snoozes."""
    part = run.world.controller
    start = run.scenario.start_epoch
    known_from = next((r["t"] for r in run.trace.records if r["kind"] == "fixture.added"), run.duration)
    starts = [(g.title, g.kickoff - start, known_from) for g in part.site.games
              if g.home == CLUB and g.time_fixed and not g.postponed]
    extras, snoozes = [], []
    for event in run.scenario.timeline:
        act = event.fault
        if isinstance(act, UserAction) and act.action == "create_event":
            starts.append((act.title, act.start - start, event.at))
        elif isinstance(act, UserAction) and act.action == "add_alert":
            game = min((g for g in part.site.games if g.title == act.title and g.kickoff - start >= event.at),
                       key=lambda g: g.kickoff, default=None)
            if game is not None:
                lo = game.kickoff - start - act.before
                extras.append(_Window(lo, lo + act.duration, event.at, act.title))
        elif isinstance(act, UserAction) and act.action == "snooze":
            snoozes.append((event.at, act))
    windows = [_Window(kick - before, kick - before + length, known, title)
               for title, kick, known in starts for before, length in POLICY] + extras
    # an alert the controller could not know of before it began is not expected
    windows = [w for w in windows if w.lo >= w.known]
    for at, act in snoozes:
        # the snoozed alert: the event's window that holds the light at that moment, the latest to open
        held = [w for w in windows if w.title == act.title and w.lo <= at < w.hi and not w.dark(at)]
        if held:
            window = max(held, key=lambda w: w.lo)
            window.snoozed.append((at, at + act.duration if act.duration is not None else window.hi))
    return windows


def expected_intervals(run) -> list[tuple[float, float]]:
    """When the light must be on, from the world's truth alone."""
    windows = expected_windows(run)
    due = merge(piece for w in windows
                for piece in subtract([(max(w.lo, 0.0), min(w.hi, run.duration))], w.snoozed))
    return subtract(due, power_off(run))


def power_off(run) -> list[tuple[float, float]]:
    """When the controller had no power, from the world's power.lost / power.restored records."""
    off, lost = [], None
    for r in run.trace.records:
        if r["kind"] == "power.lost":
            lost = r["t"]
        elif r["kind"] == "power.restored" and lost is not None:
            off.append((lost, r["t"]))
            lost = None
    if lost is not None:
        off.append((lost, run.duration))
    return off



def _hm(run, t: float) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(run.scenario.start_epoch + round(t), timezone.utc).isoformat().replace("+00:00", "Z")


def light_follows_schedule(args, run):
    """The light was on exactly when the independently computed schedule says."""
    if run.world.controller is None:
        return False, "no controller in this world", "a controller"
    actual, expected = light_intervals(run), expected_intervals(run)
    tol = args["tolerance"] + EPS
    same = len(actual) == len(expected) and all(
        abs(a[0] - e[0]) <= tol and abs(a[1] - e[1]) <= tol for a, e in zip(actual, expected))
    if same:
        return True, f"{len(actual)} light-on windows as scheduled", f"{len(expected)} windows"
    for a, e in zip(actual + [None] * len(expected), expected + [None] * len(actual)):
        if a is None or e is None or abs(a[0] - e[0]) > tol or abs(a[1] - e[1]) > tol:
            show = lambda i: "none" if i is None else f"{_hm(run, i[0])}..{_hm(run, i[1])}"  # noqa: E731
            return False, f"{len(actual)} windows; first difference: on {show(a)}", f"on {show(e)}"
    raise AssertionError("unreachable")


def kickoff(run, game: str) -> float | None:
    """When ``game`` kicks off (seconds since the start), from the world's truth: the club site's final
    calendar (after every fixture change of the timeline), else its cancelled games; the first kickoff at or
    after the run's start (a play-off repeats a pairing), else the last one. None: no such game."""
    part = run.world.controller if getattr(run, "world", None) is not None else None
    if part is None:
        return None
    start = run.scenario.start_epoch
    for games in (part.site.games, part.site.cancelled):
        kicks = sorted(g.kickoff - start for g in games if g.title == game)
        if kicks:
            return next((k for k in kicks if k >= 0), kicks[-1])
    return None


def period(args, run) -> tuple[float, float] | str:
    """The period ``(from, until)`` in seconds since the start, or why it has none (an unknown game)."""
    if args.get("game") is None:
        return args["from"], args["until"]
    kick = kickoff(run, args["game"])
    if kick is None:
        return f"no game {args['game']!r} on the club site"
    return kick + args["from"], kick + args["until"]


def light_on(args, run):
    """The light was on for the whole period (fixed, or relative to a game's kickoff)."""
    when = period(args, run)
    if isinstance(when, str):
        return False, when, "on throughout"
    lo, hi = when
    lit = sum(max(0.0, min(b, hi) - max(a, lo)) for a, b in light_intervals(run))
    covered = any(a <= lo + EPS and b >= hi - EPS for a, b in light_intervals(run))
    return covered, f"on {lit:g} s of {hi - lo:g} s from {_hm(run, lo)}", f"on {hi - lo:g} s (throughout)"


def light_off(args, run):
    """The light was never on during the period (fixed, or relative to a game's kickoff)."""
    when = period(args, run)
    if isinstance(when, str):
        return False, when, "off throughout"
    lo, hi = when
    overlap = [i for i in light_intervals(run) if i[0] < hi - EPS and i[1] > lo + EPS]
    lit = sum(min(b, hi) - max(a, lo) for a, b in overlap)
    return not overlap, f"on {lit:g} s of {hi - lo:g} s from {_hm(run, lo)} ({len(overlap)} times)", "on 0 s"


def alerts_fired_once(args, run):
    """No alert (id and time) fired twice, across restarts and power cuts."""
    seen: dict[tuple, int] = {}
    for r in run.trace.of_kind("alert.fired"):
        key = (r["alert"], r.get("at"))
        seen[key] = seen.get(key, 0) + 1
    twice = sum(1 for n in seen.values() if n > 1)
    return twice == 0, f"{len(seen)} alerts fired, {twice} more than once", "0 more than once"


def no_alert_twice(args, run):
    """No alert window of the world's truth (the season, the users' actions) saw the light switched on twice,
    from the relay's edges alone; a switch-on after the controller's power came back is the light resuming."""
    restored = [r["t"] for r in run.trace.records if r["kind"] == "power.restored" and r["src"] == "controller"]
    ons = [r["t"] for r in run.trace.records if r["kind"] == "relay.on" and r["src"] == "controller"]
    lit, twice = 0, 0
    for w in merge((w.lo, w.hi) for w in expected_windows(run)):
        inside = [t for t in ons if w[0] - EPS <= t < w[1]]
        resumed = [t for t, before in zip(inside[1:], inside) if any(before < p <= t for p in restored)]
        lit += bool(inside)
        twice += len(inside) - len(resumed) > 1
    return twice == 0, f"{lit} alert windows lit, {twice} switched on twice", "0 switched on twice"
