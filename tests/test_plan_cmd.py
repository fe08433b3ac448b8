"""hilsim controller plan and snooze: the plan from the console, checked against an independent schedule."""

import json
import sqlite3
from datetime import date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from hilsim.cli import main
from hilsim.commands.plan_cmd import parse_duration
from system.adapters.controller_store import Store
from system.decisions.events import GAME, Event
from system.decisions.localtime import format_local, local_epoch, to_local
from system.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
TZ = "Europe/Brussels"


def cli(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def parse_plan(output: str) -> tuple[list[tuple[str, str, str, str]], str]:
    """(event title, window start, window end, state) for every window line, and the light line."""
    windows, title, light = [], None, ""
    for line in output.splitlines():
        if line.startswith("  "):
            start_day, start_clock, _, end, state = line.split(None, 4)
            windows.append((title, f"{start_day} {start_clock}", end, state.rsplit("  ", 1)[0].strip()))
        elif f"({TZ})  " in line and not line.startswith("light"):
            title = line.split(f"({TZ})  ", 1)[1].split("  [")[0]
        elif line.startswith("light:"):
            light = line
    return windows, light


@pytest.mark.slow
def test_plan_of_the_season_store_matches_the_independently_recomputed_schedule_window_by_window(tmp_path):
    """Run the season scenario, keep the controller's store as a file, and ask the console for the plan as of
    the season's start: every alert window (policy and the user's extra), in local time, as sim/light_check
    recomputes it from the club's final calendar and the users' actions; each fired, as the light shows."""
    from sim.scenario.light_check import expected_windows, power_off
    from sim.scenario.loader import load
    from sim.scenario.runner import run_scenario

    run = run_scenario(load(ROOT / "scenarios" / "season-2025-26.yaml"))
    assert run.ok
    db = tmp_path / "controller.db"
    with sqlite3.connect(db) as copy:
        run.world.controller.disk.db.backup(copy)
    start = run.scenario.start_epoch
    result = cli("controller", "plan", "--db", str(db), "--at", run.scenario.start.isoformat(), "--days", "400")
    assert result.exit_code == 0, result.output
    shown, light = parse_plan(result.output)
    expected = sorted((w.title, format_local(start + w.lo), f"{to_local(start + w.hi):%H:%M}")
                      for w in expected_windows(run))
    assert sorted(s[:3] for s in shown) == expected
    assert len(expected) == 3 * 17 + 3 + 1  # 17 home games (one cancelled, one added), a concert, an extra alert
    off = power_off(run)
    for title, lo, _end, state in shown:
        # every window opened while the controller had power (or reopened before it closed): fired once
        assert state == "fired", (title, lo, state)
    assert off and "Zulte Waregem" not in {t for t, *_ in shown}  # the cancelled game has no windows
    assert "KAA Gent - Zulte Waregem" in result.output and "cancelled: no alerts" in result.output
    assert light == f"light: next on {min(e[1] for e in expected)} ({TZ})"


def small_store(path: Path) -> str:
    store = Store(str(path))
    store.put_event(Event("g1", GAME, "KAA Gent - Club Brugge", local_epoch(date(2026, 3, 14), 20, 30),
                          home="KAA Gent", away="Club Brugge", competition="Jupiler Pro League"))
    store.close()
    return str(path)


def test_snooze_from_the_console_is_validated_traced_and_shows_in_the_plan(tmp_path):
    db = small_store(tmp_path / "c.db")
    at = "2026-03-14T16:32:00+01:00"  # inside the first window (16:30-16:40)
    before = cli("controller", "plan", "--db", db, "--at", at)
    windows, light = parse_plan(before.output)
    assert [w[1:] for w in windows] == [("2026-03-14 16:30", "16:40", "on now"), ("2026-03-14 17:00", "17:10", "upcoming"),
                                        ("2026-03-14 17:15", "17:25", "upcoming")]
    assert light == f"light: on now, until 2026-03-14 16:40 ({TZ})"
    done = cli("controller", "snooze", "--db", db, "g1/policy/14400", "--for", "5m", "--at", at, "--trace", "-")
    assert done.exit_code == 0, done.output
    record = [json.loads(line) for line in done.output.splitlines() if line.startswith("{")][-1]
    until = datetime.fromisoformat("2026-03-14T16:37:00+01:00").timestamp()
    assert (record["kind"], record["alert"], record["event"], record["until"]) == ("alert.snoozed", "g1/policy/14400",
                                                                                 "g1", until)
    assert done.output.splitlines()[-1] == f"snoozed g1/policy/14400 until 2026-03-14 16:37 ({TZ})"
    windows, light = parse_plan(cli("controller", "plan", "--db", db, "--at", at).output)
    assert windows[0][3] == "snoozed until 16:37" and light == f"light: next on 2026-03-14 16:37 ({TZ})"
    # refused as a job would be: unknown alert, an alert that is over; a bad duration is a usage error
    for args, code, words in ((["nope"], 1, "unknown_alert"), (["g1/policy/14400", "--at", "2026-03-14T18:00:00+01:00"],
                                                               1, "alert_over"),
                              (["g1/policy/14400", "--for", "10x"], 2, "--for: '10x' is not a duration")):
        result = CliRunner().invoke(main, ["controller", "snooze", "--db", db, *args])
        assert result.exit_code == code and words in result.output, result.output
    assert len(Store(db, readonly=True).snoozes()) == 1


def test_plan_reads_while_the_controller_holds_a_write_transaction(tmp_path):
    """WAL: the console reads the last committed state while a writer is mid-transaction."""
    db = small_store(tmp_path / "c.db")
    writer = sqlite3.connect(db, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("DELETE FROM events")
    try:
        result = cli("controller", "plan", "--db", db, "--at", "2026-03-14T12:00:00+01:00")
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert result.exit_code == 0 and "KAA Gent - Club Brugge" in result.output


def test_the_running_controller_notices_a_change_made_by_another_process(tmp_path):
    db = small_store(tmp_path / "c.db")
    controller_side = Store(db)
    assert not controller_side.changed_elsewhere()
    controller_side.put_event(Event("g2", GAME, "KAA Gent - KRC Genk", 1e9))
    assert not controller_side.changed_elsewhere()  # its own change
    console = Store(db)
    console.put_event(Event("g3", GAME, "KAA Gent - OH Leuven", 1e9))
    assert controller_side.changed_elsewhere() and not controller_side.changed_elsewhere()


def test_console_mistakes_are_one_line_and_exit_2(tmp_path):
    db = small_store(tmp_path / "c.db")
    for args, words in ((["plan", "--db", str(tmp_path / "missing.db")], "does not exist"),
                        (["plan", "--db", db, "--at", "tomorrow"], "--at: write an instant"),
                        (["plan", "--db", db, "--tz", "Mars/Olympus"], "--tz:"),
                        (["plan", "--db", db, "--days", "0"], "--days")):
        result = CliRunner().invoke(main, ["controller", *args])
        assert result.exit_code == 2 and words in result.output and "Traceback" not in result.output, result.output
    with pytest.raises(ConfigError):
        parse_duration("0m")
    assert parse_duration("1h30m") == 5400.0


def test_hilsim_controller_without_a_subcommand_still_runs_the_controller(tmp_path):
    result = CliRunner().invoke(main, ["controller", "--db", str(tmp_path / "c.db"), "--relay", "bogus"])
    assert result.exit_code == 2 and "--relay" in result.output
    assert "plan" in CliRunner().invoke(main, ["controller", "--help"]).output
