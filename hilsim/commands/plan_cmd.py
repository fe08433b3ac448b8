"""``hilsim controller plan`` and ``hilsim controller snooze``: the controller's plan from its own console.

Both open the controller's SQLite store next to a running controller: the store is in
WAL mode, so ``plan`` reads a consistent snapshot while the controller writes, and
``snooze`` writes one short transaction (the controller sees it at its next look at
the store, within seconds). ``snooze`` goes through the same
:meth:`~system.services.scheduler.Scheduler.snooze` as a job from the dashboard, so it
is validated and traced the same way (``alert.snoozed``).

``hilsim controller`` itself stays the command that runs the controller: a first
argument that is not ``plan``, ``snooze`` or ``run`` is an option of ``run``.
"""

from __future__ import annotations

from dataclasses import dataclass

import click

from hilsim.commands.fixtures_cmd import parse_at
from hilsim.commands.options import duration_option, trace_sink
from hilsim.commands.user_errors import user_errors
from system.decisions.alerts import (DEFAULT_POLICIES, Snooze, alerts_for, is_lit, light_schedule, lit_intervals,
                                     snoozed_until)
from system.decisions.events import CANCELLED, Alert, Event
from system.decisions.localtime import DEFAULT_TZ, format_local, to_local
from system.errors import ConfigError, RefusedInput


def parse_duration(text: str, option: str = "--for") -> float:
    """``90s``, ``10m``, ``2h30m``, ``1d`` as seconds (more than zero); ConfigError naming ``option`` otherwise."""
    return duration_option(text, option)


@dataclass(frozen=True)
class Window:
    """One alert window in the plan, with what the store says about it."""

    alert: Alert
    state: str  # fired, skipped:<reason>, on now, snoozed, snoozed until HH:MM, upcoming


def _window_state(alert: Alert, snoozes: list[Snooze], outcome: str | None, now: float, tz: str) -> str:
    if outcome is not None and outcome != "fired":
        return outcome
    if is_lit(alert, snoozes, now):
        return "on now" + (" (fired)" if outcome == "fired" else "")
    if outcome == "fired":
        return "fired"
    until = snoozed_until(alert, snoozes, now)
    if until is not None and until < alert.until:
        return f"snoozed until {to_local(until, tz):%H:%M}"
    if until is not None or not lit_intervals(alert, snoozes):
        return "snoozed"  # dark for the rest of its window, or was for all of it
    return "upcoming" if alert.at > now else "over"


def plan_lines(events: list[Event], policies, extras, snoozes: list[Snooze], log: dict[tuple[str, float], str],
               now: float, days: float, tz: str = DEFAULT_TZ) -> list[str]:
    """The plan as the console shows it: each upcoming event, its alert windows in local time with their
    state, and when the light goes on next."""
    horizon = now + days * 86400.0
    upcoming = [e for e in events if now <= e.start < horizon]
    by_alert: dict[str, list[Snooze]] = {}
    for s in snoozes:
        by_alert.setdefault(s.alert_id, []).append(s)
    lines = [f"as of {format_local(now, tz)} ({tz}), the next {days:g} day{'s' if days != 1 else ''}: "
             f"{len(upcoming)} event{'s' if len(upcoming) != 1 else ''}"]
    for event in upcoming:
        extra = f"  [{event.competition}]" if event.competition else f"  [{event.kind}]"
        lines.append(f"{format_local(event.start, tz)} ({tz})  {event.title}{extra}"
                     + ("  cancelled: no alerts" if event.status == CANCELLED else ""))
        for alert in alerts_for([event], policies, extras):
            state = _window_state(alert, by_alert.get(alert.id, []), log.get((alert.id, alert.at)), now, tz)
            lines.append(f"  {format_local(alert.at, tz)} - {to_local(alert.until, tz):%H:%M}  {state:<22}  "
                         f"{alert.id}")
    everything = alerts_for(events, policies, extras)
    ahead = [(lo, hi) for lo, hi in light_schedule(everything, snoozes) if hi > now]
    if not ahead:
        lines.append("light: nothing planned")
    elif ahead[0][0] <= now:
        lines.append(f"light: on now, until {format_local(ahead[0][1], tz)} ({tz})")
    else:
        lines.append(f"light: next on {format_local(ahead[0][0], tz)} ({tz})")
    return lines


class ControllerGroup(click.Group):
    """``hilsim controller [run] OPTIONS`` runs the controller; ``plan`` and ``snooze`` are subcommands."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


def controller_group(run: click.Command) -> click.Group:
    """The ``hilsim controller`` group around the command that runs it."""
    group = ControllerGroup("controller", short_help="Live: the match-day controller; its plan from the console.", help=(
        "The match-day controller: run it (the default), or look at and change its plan from the console.\n\n"
        "hilsim controller [run] --db FILE ... runs it; hilsim controller plan --db FILE shows the plan; "
        "hilsim controller snooze --db FILE ALERT_ID snoozes an alert."))
    group.add_command(run, "run")
    group.add_command(plan)
    group.add_command(snooze)
    return group


_DB = click.Path(dir_okay=False, exists=True)


@click.command(short_help="Upcoming events, their alert windows, when the light goes on next.")
@click.option("--db", required=True, type=_DB, help="The controller's SQLite store (read only).")
@click.option("--days", type=click.FloatRange(min=0, min_open=True), default=7.0, show_default=True,
              help="How many days ahead to show.")
@click.option("--at", "at", default=None, metavar="TIME",
              help="Show the plan as of this instant (ISO 8601 with offset) instead of now.")
@click.option("--tz", default=DEFAULT_TZ, show_default=True, help="The time zone to show times in.")
def plan(db: str, days: float, at: str | None, tz: str) -> None:
    """What the controller will do: upcoming events, each alert window in local time (fired, skipped,
    snoozed, on now or upcoming), and when the light goes on next. Safe while the controller runs."""
    from system.adapters.controller_store import Store

    with user_errors():
        now = parse_at(at)
        _check_tz(tz)
        store = Store(db, readonly=True)
        try:
            log = {(e.alert_id, e.at): e.outcome for e in store.alert_log()}
            lines = plan_lines(store.stored_events(), store.policies(DEFAULT_POLICIES), store.extras(),
                               store.snoozes(), log, now, days, tz)
        finally:
            store.close()
    click.echo("\n".join(lines))


def _check_tz(tz: str) -> None:
    from system.decisions.localtime import zone

    try:
        zone(tz)
    except RefusedInput:
        raise ConfigError(f"{tz!r} is not a time zone name like Europe/Brussels", source="--tz") from None


@click.command(short_help="Keep one alert dark, as a snooze from the dashboard would.")
@click.option("--db", required=True, type=_DB, help="The controller's SQLite store.")
@click.argument("alert_id")
@click.option("--for", "duration", default=None, metavar="DURATION",
              help="Snooze for this long (10m, 1h30m) [default: the rest of the alert's window].")
@click.option("--at", "at", default=None, metavar="TIME", help="Snooze as of this instant (ISO 8601) instead of now.")
@click.option("--trace", "trace_path", default=None,
              help="Also write the alert.snoozed trace record to this file ('-' for standard output).")
@click.option("--tz", default=DEFAULT_TZ, show_default=True, help="The time zone to show times in.")
def snooze(db: str, alert_id: str, duration: str | None, at: str | None, trace_path: str | None, tz: str) -> None:
    """Keep ALERT_ID (as ``plan`` shows it) dark, for --for or the rest of its window.

    Validated and traced as a snooze job from the dashboard is. Exit 1 when the
    controller would refuse it (unknown alert, already over), 2 for a bad option.
    """
    from system.adapters.asyncio_runtime import AsyncioRuntime
    from system.adapters.controller_store import Store
    from system.services.scheduler import Scheduler
    from system.trace import LineFlushed, Trace

    with user_errors(), trace_sink(trace_path) as sink:
        seconds = parse_duration(duration) if duration is not None else None
        now = parse_at(at)
        _check_tz(tz)
        trace = Trace({"run": "controller-console", "db": db}, sink=LineFlushed(sink) if sink else None, keep=False)
        rt = AsyncioRuntime(trace=trace, clock=lambda: now)
        store = Store(db)
        try:
            done = Scheduler(rt.child("controller"), store, relay=None).snooze(alert_id, for_seconds=seconds)
        except RefusedInput as refused:
            click.echo(f"refused: {refused}", err=True)
            raise SystemExit(1) from None
        finally:
            store.close()
    click.echo(f"snoozed {done.alert_id} until {format_local(done.until, tz)} ({tz})")

