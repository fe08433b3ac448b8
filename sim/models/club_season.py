"""The season the simulated club site serves: :class:`Game`, season files, the invented sample season.

A season file (``fixtures/seasons/*.toml``) is the world's truth about a season: one ``[[game]]``
table a game, with ``home``, ``away``, ``kickoff`` (a TOML date-time with its UTC offset),
``competition``, ``location`` and ``status`` (``scheduled``, the default; ``postponed``: the page
says *uitgesteld*; ``pending``: the date is known, the time is not). ``pages`` names the recorded
pages in ``fixtures/pages/`` that show the season. :func:`load_season` reads one with ``tomllib``
alone: the world never reads its season through the system's parser, so a parser bug cannot
corrupt both the world and the oracle that judges the controller.

For example::

    [[game]]
    home = "KAA Gent"
    away = "Club Brugge"
    kickoff = 2025-08-02T20:45:00+02:00
    competition = "Jupiler Pro League"
    location = "Planet Group Arena"
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from system.decisions.localtime import DEFAULT_TZ
from system.errors import ConfigError

CLUB = "KAA Gent"
HOST = "www.kaagent.example"
STATUSES = ("scheduled", "postponed", "pending")
_GAME_KEYS = {"home": True, "away": True, "kickoff": True, "competition": False, "location": False,
              "status": False}


@dataclass(frozen=True)
class Game:
    """One game of the season as the club publishes it; ``kickoff`` in epoch seconds.

    ``time_fixed=False`` shows the date with the time *nnb* (not yet known);
    ``postponed`` shows *uitgesteld* in the time column and ``STATUS:CANCELLED`` in the feed.
    """

    home: str
    away: str
    kickoff: float
    competition: str = "Jupiler Pro League"
    location: str = ""
    uid: str = ""
    time_fixed: bool = True
    postponed: bool = False

    @property
    def title(self) -> str:
        return f"{self.home} - {self.away}"


def game_uid(home: str, away: str, season: str, host: str = HOST) -> str:
    """A stable feed UID for a pairing in a season (it survives reschedules)."""
    slug = lambda s: "".join(c if c.isalnum() else "-" for c in s.lower()).strip("-")  # noqa: E731
    return f"{season}-{slug(home)}-{slug(away)}@{host}"


def season_name(day: date) -> str:
    """How the club names the season of a day in its feed's UIDs: ``2025-26`` from July 2025 to June 2026."""
    first = day.year if day.month >= 7 else day.year - 1
    return f"{first}-{(first + 1) % 100:02d}"


# -- season files ------------------------------------------------------------------------------

def load_season(path: str | Path) -> list[Game]:
    """Every game of a season file, in the file's order; a mistake raises :class:`ConfigError` naming the
    file, the line of the game and the key."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not TOML: {exc}", source=str(path)) from None
    unknown = sorted(set(data) - {"pages", "game"})
    if unknown:
        raise ConfigError("unknown key; a season file holds 'pages' and [[game]] tables", source=str(path),
                          key=unknown[0])
    games = data.get("game", [])
    lines: list[int | None] = [n for n, line in enumerate(text.splitlines(), 1)
                               if line.split("#")[0].strip() == "[[game]]"]
    if len(lines) != len(games):  # games written as inline tables: no line to name
        lines = [None] * len(games)
    return [_game(table, str(path), line) for table, line in zip(games, lines)]


def _game(table: dict, source: str, line: int | None) -> Game:
    def refuse(key: str | None, reason: str) -> ConfigError:
        return ConfigError(reason, source=source, key=key, line=line)

    unknown = sorted(set(table) - set(_GAME_KEYS))
    if unknown:
        raise refuse(unknown[0], f"unknown key; a game has {', '.join(_GAME_KEYS)}")
    missing = [k for k, required in _GAME_KEYS.items() if required and k not in table]
    if missing:
        raise refuse(missing[0], "missing")
    kickoff = table["kickoff"]
    if not isinstance(kickoff, datetime) or kickoff.tzinfo is None:
        raise refuse("kickoff", "write a date-time with its UTC offset, unquoted: 2025-08-02T20:45:00+02:00")
    status = table.get("status", "scheduled")
    if status not in STATUSES:
        raise refuse("status", f"unknown status {status!r}; statuses are {', '.join(STATUSES)}")
    texts = {k: table[k] for k in ("home", "away", "competition", "location") if k in table}
    for key, value in texts.items():
        if not isinstance(value, str):
            raise refuse(key, "write text in quotes")
    return Game(kickoff=kickoff.timestamp(), time_fixed=status != "pending", postponed=status == "postponed",
                **texts)


def season_file_for(page: str | Path, seasons: str | Path | None = None) -> Path:
    """The season file whose ``pages`` names a recorded page (by file name): the truth the page shows.

    ``seasons`` is the folder of season files; by default ``seasons/`` beside the page's folder
    (``fixtures/pages/x.html`` -> ``fixtures/seasons/``)."""
    name = Path(page).name
    seasons = Path(seasons) if seasons is not None else Path(page).resolve().parent.parent / "seasons"
    for path in sorted(seasons.glob("*.toml")):
        with path.open("rb") as f:
            if name in tomllib.load(f).get("pages", []):
                return path
    raise ConfigError(f"no season file in {seasons} lists the page {name!r} in its 'pages'; the club site "
                      "renders a season file, it does not read pages", source=str(page))


# -- the invented sample season ----------------------------------------------------------------

OPPONENTS = (
    "Club Brugge", "RSC Anderlecht", "Royal Antwerp FC", "KRC Genk", "Standard Luik",
    "Union Saint-Gilloise", "Cercle Brugge", "KV Mechelen", "OH Leuven", "Sint-Truidense VV",
    "Sporting Charleroi", "FCV Dender EH", "Zulte Waregem", "RAAL La Louvière", "KVC Westerlo",
    "K Beerschot VA", "KV Kortrijk",
)
STADIUM = "Planet Group Arena"
_CLUB_STADIUMS = {"Club Brugge": "Jan Breydelstadion", "Cercle Brugge": "Jan Breydelstadion",
                  "RSC Anderlecht": "Lotto Park", "Royal Antwerp FC": "Bosuil", "KRC Genk": "Cegeka Arena",
                  "Standard Luik": "Stade Maurice Dufrasne", "Union Saint-Gilloise": "Dudenpark",
                  "KV Mechelen": "AFAS-stadion", "OH Leuven": "Den Dreef", "Sint-Truidense VV": "Stayen",
                  "Sporting Charleroi": "Stade du Pays de Charleroi", "FCV Dender EH": "Van Roystadion",
                  "Zulte Waregem": "Elindus Arena", "RAAL La Louvière": "Stade du Tivoli",
                  "KVC Westerlo": "Het Kuipje", "K Beerschot VA": "Olympisch Stadion", "KV Kortrijk": "Guldensporenstadion"}


def sample_season(club: str = CLUB, tz: str = DEFAULT_TZ) -> list[Game]:
    """An invented 34-round season, August 2025 to May 2026, 17 home games (deterministic).

    Round dates are weekends with a winter break; home kickoffs on the last Sundays of
    October 2025 and March 2026 exercise both DST changes. ``fixtures/seasons/kaagent-2025-26.toml``
    holds the same season as data.
    """
    zone = ZoneInfo(tz)
    breaks = {date(2025, 9, 6), date(2025, 10, 11), date(2025, 11, 15), date(2025, 12, 27), date(2026, 1, 3),
              date(2026, 3, 21)}  # international weekends and the winter break
    rounds: list[date] = []
    saturday = date(2025, 8, 2)
    while len(rounds) < 2 * len(OPPONENTS):
        if saturday not in breaks:
            rounds.append(saturday)
        saturday += timedelta(weeks=1)
    dst_weekends = (date(2025, 10, 25), date(2026, 3, 28))
    slots = (("za", 20, 45), ("zo", 13, 30), ("zo", 16, 0), ("zo", 18, 30), ("vr", 20, 45), ("za", 18, 15),
             ("zo", 20, 30))
    games: list[Game] = []
    for n, saturday in enumerate(rounds):
        m = n % len(OPPONENTS)
        opponent = OPPONENTS[m]
        at_home = (m % 2 == 0) if n < len(OPPONENTS) else (m % 2 == 1)  # each pairing once at home
        day_name, hour, minute = slots[(n * 3) % len(slots)]
        day = saturday + timedelta(days={"vr": -1, "za": 0, "zo": 1}[day_name])
        if saturday in dst_weekends:
            day, hour, minute = saturday + timedelta(days=1), 18, 30
        kickoff = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone).timestamp()
        home, away = (club, opponent) if at_home else (opponent, club)
        games.append(Game(home, away, kickoff, location=STADIUM if at_home else _CLUB_STADIUMS[opponent]))
    return games
