"""A full disk under the controller: SQLite's own SQLITE_FULL reaches the caller as itself (not hidden behind a
failed ROLLBACK), the store is whole afterwards, and the scraper that hit it scrapes again."""

from __future__ import annotations

import sqlite3

import pytest

from sim.scenario.loader import parse
from sim.scenario.runner import run_scenario
from system.adapters.controller_store import Store


def test_a_write_on_a_full_disk_fails_as_sqlite_full_and_changes_nothing():
    store = Store(":memory:")
    store.create_event("Open day", 1_800_000_000.0)
    pages = store.db.execute("PRAGMA page_count").fetchone()[0]
    store.db.execute(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(sqlite3.OperationalError, match="database or disk is full"):
        for i in range(1000):
            store.create_event(f"Concert {i}", 1_800_000_000.0 + i)
    titles = [e.title for e in store.stored_events()]
    store.db.execute("PRAGMA max_page_count = 1073741823")
    store.create_event("After", 1_800_100_000.0)
    assert "Open day" in titles and len(titles) == len(set(titles)) < 1001  # the failed write left no trace
    assert sorted(e.title for e in store.stored_events()) == sorted(titles + ["After"])


FULL_FROM_THE_START = """\
name: the disk is full when the controller first scrapes
seed: 3
start: 2025-08-17T08:00:00+02:00
duration: 3h
world:
  nodes: 0
  controller:
    season: fixtures/seasons/kaagent-2025-26.toml
timeline:
  - at: +0m
    disk: {full: true, for: 90m}
"""


def test_the_scraper_survives_a_full_disk_and_stores_the_season_once_there_is_room():
    run = run_scenario(parse(FULL_FROM_THE_START, "full.yaml"))
    failed = [r["t"] for r in run.trace.of_kind("scrape.failed") if r["reason"] == "store"]
    added = [r["t"] for r in run.trace.of_kind("fixture.added")]
    assert failed == [0.3, 3600.3]  # the scrapes at 08:00 and 09:00 found no room
    assert len(added) == 17 and set(added) == {7200.3}  # all the home games, at the first scrape with room
