"""What a feed's ``SUMMARY`` says: the home team, the away team and maybe the competition.

Rules, in one place:

- Parts are separated by a dash with spaces around it (``-``, an en dash ``–``, an em
  dash ``—``) or by ``vs``, ``vs.``, ``v`` or ``v.`` (any case) between spaces. A dash
  inside a name ("Saint-Gilloise") is not a separator.
- Two parts are ``Home - Away`` (the competition then comes from ``CATEGORIES``).
- Three parts or more are ``Competition - Home - Away`` when one of the club's names is
  one of the last two parts and not the first: the last two are the teams, the rest is
  the competition. When no part names the club, the game is not the club's (unless it
  is played at its ground); anything else is ambiguous and refused
  (``ambiguous_summary``) with the fix: a ``summary`` template in the selectors file.
- A template (``"{competition} - {home} - {away}"``) says the shape outright: ``{home}``
  and ``{away}`` once each, ``{competition}`` at most once, some text between any two of
  them; spaces in that text match any run of spaces. ``{competition}`` takes the longest
  match, so a competition may hold the separator, a team name not.

For example::

    >>> read_summary("Liga EA Sports - Barcelona - Athletic Club", frozenset({"barcelona"}))
    Summary(home='Barcelona', away='Athletic Club', competition='Liga EA Sports')
    >>> read_summary("Barcelona v Girona FC", frozenset({"barcelona"}))
    Summary(home='Barcelona', away='Girona FC', competition='')
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from system.decisions.kickoff import fold
from system.errors import RefusedInput

_SEPARATOR = re.compile(r"\s+(?:[-\u2013\u2014]|vs\.?|v\.?)\s+", re.IGNORECASE)
_FIELD = re.compile(r"\{(\w*)\}")
FIELDS = ("home", "away", "competition")
HINT = 'say its shape in the selectors file, e.g. summary = "{competition} - {home} - {away}"'


@dataclass(frozen=True)
class Summary:
    """The teams and, when the summary names it, the competition (else ``""``)."""

    home: str
    away: str
    competition: str = ""


@lru_cache(maxsize=32)
def summary_pattern(template: str) -> re.Pattern[str]:
    """The regular expression of a ``summary`` template; ``ValueError`` saying what is wrong with it."""
    fields = _FIELD.findall(template)
    unknown = sorted(set(fields) - set(FIELDS))
    if unknown:
        raise ValueError(f"unknown field {{{unknown[0]}}}; use {{home}}, {{away}} and {{competition}}")
    if fields.count("home") != 1 or fields.count("away") != 1 or fields.count("competition") > 1:
        raise ValueError('a summary template has {home} and {away} once each and {competition} at most once, '
                         'e.g. "{competition} - {home} - {away}"')
    texts = _FIELD.split(template)[::2]  # the text before, between and after the fields
    if not all(t.strip() for t in texts[1:-1]):
        raise ValueError('put some text (like " - ") between two fields')
    pattern = ""
    for text, name in zip(texts, fields + [""]):
        # the text as written, each run of spaces matching any run of spaces
        pattern += r"\s+".join(re.escape(piece) for piece in re.split(r"\s+", text))
        if name:
            pattern += f"(?P<{name}>.+)" if name == "competition" else f"(?P<{name}>.+?)"
    return re.compile(pattern, re.IGNORECASE)


def _clean(text: str) -> str:
    return " ".join(text.split())


def read_summary(summary: str, names: frozenset[str] | None, template: str | None = None,
                 at_ground: bool = False) -> Summary | None:
    """The teams of ``summary`` by the rules above; ``None`` for a game that is not the club's (``names``
    are folded with :func:`~system.decisions.kickoff.fold`; ``at_ground``: played at its ground)."""
    if template is not None:
        found = summary_pattern(template.strip()).fullmatch(_clean(summary))
        if not found:
            raise RefusedInput("bad_summary", f"{summary[:60]!r} does not read as {template!r}")
        teams = found.groupdict()
        return Summary(_clean(teams["home"]), _clean(teams["away"]), _clean(teams.get("competition") or ""))
    seps = list(_SEPARATOR.finditer(summary))
    parts = [_clean(p) for p in _SEPARATOR.split(summary)]
    if not seps or not all(parts):
        raise RefusedInput("bad_summary", f"{summary[:60]!r} is not 'Home - Away'")
    if len(seps) == 1:
        return Summary(parts[0], parts[1])
    named = [names is not None and fold(p) in names for p in parts]
    if (named[-1] or named[-2]) and not named[0]:
        home = summary[seps[-2].end():seps[-1].start()]
        return Summary(_clean(home), parts[-1], _clean(summary[:seps[-2].start()]))
    if names is not None and not any(named) and not at_ground:
        return None  # another club's game: it names none of ours
    raise RefusedInput("ambiguous_summary", f"{summary[:60]!r}: which parts are the teams? {HINT}")
