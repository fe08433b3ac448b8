"""A season that starts tomorrow: the shipped season's games moved, whole days at a time, so that its first
game is tomorrow, each kickoff kept at its local time of day (across daylight-saving changes too).

``hilsim fixtures demo --out DIR`` writes it as the club's page and feed, which the controller reads with
its default selectors: a first ``hilsim serve`` has alerts to plan instead of a season in the past.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sim.models.club_pages import render_html, render_ical
from sim.models.club_season import Game, load_season
from system.decisions.localtime import DEFAULT_TZ

SEASON = Path(__file__).resolve().parent.parent / "fixtures/seasons/kaagent-2025-26.toml"


def shifted(games: list[Game], first_day: date, tz: str = DEFAULT_TZ) -> list[Game]:
    """``games`` moved by whole days so that the earliest falls on ``first_day``, local kickoff times kept."""
    zone = ZoneInfo(tz)
    earliest = min(datetime.fromtimestamp(g.kickoff, zone).date() for g in games)
    days = timedelta(days=(first_day - earliest).days)

    def moved(game: Game) -> Game:
        local = datetime.fromtimestamp(game.kickoff, zone).replace(tzinfo=None) + days
        return replace(game, kickoff=local.replace(tzinfo=zone).timestamp(), uid="")
    return [moved(g) for g in games]


def write_demo(out: Path, today: date, season: Path = SEASON) -> tuple[Path, Path, int]:
    """Write ``fixtures.html`` and ``fixtures.ics`` into ``out``; returns their paths and the game count."""
    games = shifted(load_season(season), today + timedelta(days=1))
    out.mkdir(parents=True, exist_ok=True)
    page, feed = out / "fixtures.html", out / "fixtures.ics"
    page.write_text(render_html(games, title="Kalender A-kern (demo)"), encoding="utf-8")
    feed.write_bytes(render_ical(games, name="KAA Gent kalender (demo)"))
    return page, feed, len(games)
