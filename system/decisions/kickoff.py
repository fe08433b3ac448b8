"""Dates and kickoff times as Belgian club pages write them, in a date cell, a time cell, or one cell for both.

Pure functions over text. Rules, in one place:

- Dates: ``za 14/03/2026``, ``14.03.26``, ``2026-03-14``, ``zaterdag 14 maart 2026``,
  ``sam. 14 mars 2026``, ``Sat 14 Mar 2026``: numbers are day/month/year (never
  month/day); month and day names are Dutch, French or English, whole or cut short
  (``okt.``, ``sam.``). A weekday name that does not fit the date refuses it
  (``bad_date``): it is how a month/day mix-up shows.
- A date without a year (``03/04``, ``14 maart``) needs the season (``2025-26``: July
  to December is 2025, January to June 2026); without one it is refused
  (``ambiguous_date``), as is a cell holding two dates (``ambiguous_date``) or two
  times (``ambiguous_time``).
- Times: :func:`system.decisions.localtime.parse_hhmm` (``20:30``, ``20u30``,
  ``20h30``, ``20.30``, ``20u``) and ``8:30 pm``. ``nnb``, ``TBD``, ``-`` or nothing
  means the time is not fixed yet (*pending*); ``uitgesteld``, ``afgelast``,
  ``reporté``, ``postponed`` means the game is postponed.
- A kickoff cell holds both. With a ``kickoff_format`` (strptime style: ``%d %m %y
  %Y %H %I %M %p %a %A %b %B %%``, anything else literal, so ``%Hu%M`` reads
  ``20u30``; names in the three languages) the cell must match it; without one the
  shapes above are searched for, and a cell they leave ambiguous is refused with its
  reason.

For example::

    >>> read_kickoff("zaterdag 14 maart 2026 om 20u30")
    Kickoff(day=datetime.date(2026, 3, 14), clock=(20, 30), postponed=False)
    >>> read_kickoff("sam. 14/03 - 20h30", season="2025-26").day
    datetime.date(2026, 3, 14)
    >>> KickoffFormat("%a %d/%m/%Y %Hu%M").read("za 14/03/2026 20u30").clock
    (20, 30)
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from system.decisions.localtime import parse_hhmm
from system.errors import RefusedInput

PENDING_TIMES = frozenset({"", "-", "--", "?", "tbd", "tba", "nnb", "n.n.b.", "ntb", "n.t.b.", "nog te bepalen",
                           "a determiner", "--:--", "-:-", "to be confirmed", "tbc"})
POSTPONED = ("uitgesteld", "afgelast", "reporte", "postponed", "cancelled", "canceled", "annule")

MONTHS = {
    # Dutch, French, English, without accents (text is folded before lookup).
    "januari": 1, "februari": 2, "maart": 3, "april": 4, "mei": 5, "juni": 6, "juli": 7,
    "augustus": 8, "september": 9, "oktober": 10, "november": 11, "december": 12,
    "janvier": 1, "fevrier": 2, "mars": 3, "avril": 4, "mai": 5, "juin": 6,
    "juillet": 7, "aout": 8, "septembre": 9, "octobre": 10, "novembre": 11, "decembre": 12,
    "january": 1, "february": 2, "march": 3, "may": 5, "june": 6, "july": 7, "august": 8,
    "october": 10,
    "mrt": 3,  # the Dutch abbreviation of maart is not its first letters
}
WEEKDAYS = {
    # Monday is 0, as date.weekday() counts.
    "maandag": 0, "dinsdag": 1, "woensdag": 2, "donderdag": 3, "vrijdag": 4, "zaterdag": 5, "zondag": 6,
    "lundi": 0, "mardi": 1, "mercredi": 2, "jeudi": 3, "vendredi": 4, "samedi": 5, "dimanche": 6,
    "monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5, "sunday": 6,
}
_SHORT_DAYS = {"ma": 0, "di": 1, "wo": 2, "do": 3, "vr": 4, "za": 5, "zo": 6}  # Dutch pages write two letters


@dataclass(frozen=True)
class Kickoff:
    """What a kickoff cell says: the day, the clock time (``None``: not fixed yet), postponed or not."""

    day: date
    clock: tuple[int, int] | None
    postponed: bool = False


def fold(text: str) -> str:
    """Text folded for comparison: accents, case, dots and repeated spaces do not count ("K.A.A. Gent" is
    "kaa gent")."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return " ".join(plain.casefold().replace(".", "").split())


def _plain(text: str) -> str:
    """Lower case without accents, spaces collapsed (dots kept: they separate numbers)."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return " ".join(plain.casefold().split())


def month_number(word: str) -> int | None:
    """The month a (folded) name or abbreviation of at least three letters means, if only one."""
    word = word.rstrip(".")
    if word in MONTHS:
        return MONTHS[word]
    found = {m for name, m in MONTHS.items() if len(word) >= 3 and name.startswith(word)}
    return found.pop() if len(found) == 1 else None


def weekday_number(word: str, *, surely_a_day: bool = False) -> int | None:
    """The weekday a (folded) name or abbreviation means, if only one (``mar`` could be March: None, unless
    the word stands where a format says a day name is)."""
    word = word.rstrip(".")
    if word in WEEKDAYS:
        return WEEKDAYS[word]
    if word in _SHORT_DAYS:
        return _SHORT_DAYS[word]
    found = {d for name, d in WEEKDAYS.items() if len(word) >= 3 and name.startswith(word)}
    if len(found) == 1 and (surely_a_day or month_number(word) is None):
        return found.pop()
    return None


def season_year(month: int, season: str | None, text: str) -> int:
    """The year of ``month`` in ``season`` (``2025-26``); refuses (``ambiguous_date``) without a season."""
    found = re.fullmatch(r"(\d{4})-(\d{2}|\d{4})", season or "")
    if not found:
        raise RefusedInput("ambiguous_date", f"{text[:60]!r} has no year and no season is configured")
    first = int(found[1])
    return first if month >= 7 else first + 1


def _make_date(year: int, month: int, day: int, text: str) -> date:
    try:
        return date(year + 2000 if year < 100 else year, month, day)
    except ValueError:
        raise RefusedInput("bad_date", repr(text[:60])) from None


def _check_weekday(day: date, words: list[str], text: str, surely_days: bool = False) -> None:
    for word in words:
        wanted = weekday_number(word, surely_a_day=surely_days)
        if wanted is not None and wanted != day.weekday():
            raise RefusedInput("bad_date", f"{text[:60]!r}: {word!r} but {day.isoformat()} is not that day")


# -- free-form cells -----------------------------------------------------------------------------

_ISO = re.compile(r"(?<!\d)(\d{4})-(\d{1,2})-(\d{1,2})(?!\d)")
_NUM_Y = re.compile(r"(?<![\d.:/-])(\d{1,2})([/.-])(\d{1,2})\2(\d{4}|\d{2})(?![\d:/-]|\.\d)")
_NUM = re.compile(r"(?<![\d.:/-])(\d{1,2})[/.-](\d{1,2})(?![\d:/-]|\.\d)")
_WORD_Y = re.compile(r"(?<![\d.])(\d{1,2})(?:e|er|st|nd|rd|th)?\.?\s+([^\W\d_]{3,}\.?)\s*,?\s+(\d{4})(?!\d)")
_WORD = re.compile(r"(?<![\d.])(\d{1,2})(?:e|er|st|nd|rd|th)?\.?\s+([^\W\d_]{3,}\.?)(?![\w])")
_WORD_FIRST = re.compile(r"(?<![\w])([^\W\d_]{3,})\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})(?!\d)")
_CLOCK = re.compile(r"(?<![\d./:-])(\d{1,2})\s*(?:[:.h]\s*(\d{2})|u\s*(\d{2})?|h(?![a-z]))(?:\s*(am|pm))?(?![\d/])"
                    r"|(?<![\d./:-])(\d{1,2})\s*(am|pm)(?![a-z])")


@dataclass(frozen=True)
class _Found:
    start: int
    end: int
    day: date


def _dates(text: str, season: str | None) -> list[_Found]:
    found: list[_Found] = []
    taken: list[tuple[int, int]] = []

    def free(m: re.Match) -> bool:
        return all(m.end() <= a or m.start() >= b for a, b in taken)

    for m in _ISO.finditer(text):
        found.append(_Found(m.start(), m.end(), _make_date(int(m[1]), int(m[2]), int(m[3]), text)))
        taken.append(m.span())
    for m in _NUM_Y.finditer(text):
        if free(m):
            found.append(_Found(m.start(), m.end(), _make_date(int(m[4]), int(m[3]), int(m[1]), text)))
            taken.append(m.span())
    for m in _WORD_Y.finditer(text):
        month = month_number(m[2])
        if month and free(m):
            found.append(_Found(m.start(), m.end(), _make_date(int(m[3]), month, int(m[1]), text)))
            taken.append(m.span())
    for m in _WORD_FIRST.finditer(text):
        month = month_number(m[1])
        if month and free(m):
            found.append(_Found(m.start(), m.end(), _make_date(int(m[3]), month, int(m[2]), text)))
            taken.append(m.span())
    if found:
        return found
    for m in _NUM.finditer(text):
        day, month = int(m[1]), int(m[2])
        if 1 <= day <= 31 and 1 <= month <= 12 and free(m):
            found.append(_Found(m.start(), m.end(), _make_date(season_year(month, season, text), month, day, text)))
            taken.append(m.span())
    for m in _WORD.finditer(text):
        month = month_number(m[2])
        if month and free(m):
            found.append(_Found(m.start(), m.end(), _make_date(season_year(month, season, text), month, int(m[1]),
                                                               text)))
            taken.append(m.span())
    return found


def _only_date(text: str, season: str | None, original: str) -> tuple[date, str]:
    found = _dates(text, season)
    if not found:
        raise RefusedInput("bad_date", repr(original[:60]))
    if len({f.day for f in found}) > 1:
        raise RefusedInput("ambiguous_date", f"{original[:60]!r} holds {len(found)} dates")
    rest = text
    for f in sorted(found, key=lambda f: -f.start):
        rest = rest[:f.start] + " " + rest[f.end:]
    _check_weekday(found[0].day, re.findall(r"[^\W\d_]+\.?", rest), original)
    return found[0].day, rest


def parse_date(text: str, season: str | None = None) -> date:
    """The calendar date in a date cell (see the rules above); refuses ``bad_date`` or ``ambiguous_date``."""
    return _only_date(_plain(text), season, text)[0]


def _clock(m: re.Match, text: str) -> tuple[int, int]:
    if m[5] is not None:
        hour, minute, half = int(m[5]), 0, m[6]
    else:
        hour, minute, half = int(m[1]), int(m[2] or m[3] or 0), m[4]
    if half:
        if not 1 <= hour <= 12:
            raise RefusedInput("bad_time", repr(text[:60]))
        hour = hour % 12 + (12 if half == "pm" else 0)
    if hour > 23 or minute > 59:
        raise RefusedInput("bad_time", repr(text[:60]))
    return hour, minute


def _is_postponed(text: str) -> bool:
    return any(word in text for word in POSTPONED)  # text already lower case, without accents


def is_postponed(text: str) -> bool:
    """Whether a time cell says the game is postponed (``uitgesteld``, ``afgelast``, ``reporté``, ...)."""
    return _is_postponed(fold(text))


def parse_time(text: str) -> tuple[int, int] | None:
    """A kickoff time in a time cell (``20u30``, ``8:30 pm``); ``None`` when not fixed yet; refuses ``bad_time``."""
    cleaned = _plain(text)
    if cleaned in PENDING_TIMES:
        return None
    half = re.fullmatch(r"(\d{1,2})(?:[:.](\d{2}))?\s*(am|pm)", cleaned)
    if half:
        found = _CLOCK.fullmatch(cleaned)
        if found:
            return _clock(found, text)
    return parse_hhmm(cleaned)


def read_kickoff(text: str, season: str | None = None) -> Kickoff:
    """Date and time from one cell, by the known shapes (see the rules above)."""
    cleaned = _plain(text)
    day, rest = _only_date(cleaned, season, text)
    if _is_postponed(rest):
        return Kickoff(day, None, postponed=True)
    clocks = list(_CLOCK.finditer(rest))
    if len(clocks) > 1:
        raise RefusedInput("ambiguous_time", f"{text[:60]!r} holds {len(clocks)} times")
    if clocks:
        return Kickoff(day, _clock(clocks[0], text))
    leftover = " ".join(w for w in re.findall(r"\S+", rest.strip(" ,-|/")) if weekday_number(w) is None)
    if leftover.strip(" ,-|/") in PENDING_TIMES or leftover in PENDING_TIMES:
        return Kickoff(day, None)
    raise RefusedInput("bad_time", f"{text[:60]!r} has a date but no time")


# -- kickoff_format ---------------------------------------------------------------------------

_DIRECTIVES = {
    "d": r"(?P<d>\d{1,2})", "m": r"(?P<m>\d{1,2})", "y": r"(?P<y>\d{2})", "Y": r"(?P<Y>\d{4})",
    "H": r"(?P<H>\d{1,2})", "I": r"(?P<I>\d{1,2})", "M": r"(?P<M>\d{2})", "p": r"(?P<p>am|pm)",
    "a": r"(?P<a>[^\W\d_]+\.?)", "A": r"(?P<A>[^\W\d_]+\.?)", "b": r"(?P<b>[^\W\d_]+\.?)",
    "B": r"(?P<B>[^\W\d_]+\.?)",
}


class KickoffFormat:
    """A ``kickoff_format`` compiled once: :meth:`read` matches a cell against it.

    Raises ``ValueError`` for a format that cannot describe a kickoff (unknown or
    repeated directive, no day or month); the selectors file turns that into a
    :class:`~system.errors.ConfigError` with its line.
    """

    def __init__(self, spec: str):
        self.spec = spec
        pattern, seen, i = [], [], 0
        while i < len(spec):
            char = spec[i]
            if char == "%":
                code = spec[i + 1:i + 2]
                if code == "%":
                    pattern.append("%")
                elif code in _DIRECTIVES:
                    if code in seen:
                        raise ValueError(f"%{code} appears twice in {spec!r}")
                    seen.append(code)
                    pattern.append(_DIRECTIVES[code])
                else:
                    raise ValueError(f"%{code} in {spec!r} is not one of %" + " %".join([*_DIRECTIVES, "%"]))
                i += 2
                continue
            pattern.append(r"\s+" if char.isspace() else re.escape(_plain(char)))
            i += 1
        if "d" not in seen or not {"m", "b", "B"} & set(seen):
            raise ValueError(f"{spec!r} needs a day (%d) and a month (%m, %b or %B)")
        if "I" in seen and "p" not in seen:
            raise ValueError(f"{spec!r} uses %I (12-hour clock) without %p (am/pm)")
        self.has_time = bool({"H", "I"} & set(seen))
        self._full = re.compile(re.sub(r"(\\s\+)+", r"\\s+", "".join(pattern)))
        cut = min((k for k, p in enumerate(pattern) if p in (_DIRECTIVES["H"], _DIRECTIVES["I"])),
                  default=len(pattern))
        self._date_part = re.compile("".join(pattern[:cut]).rstrip())

    def read(self, text: str, season: str | None = None) -> Kickoff:
        """The kickoff in ``text``; a cell with the date part and then ``nnb`` / ``uitgesteld`` is pending /
        postponed. Refuses ``bad_kickoff`` when the cell does not match the format."""
        cleaned = _plain(text)
        found = self._full.fullmatch(cleaned)
        if found is not None:
            day = self._day(found, season, text)
            return Kickoff(day, self._time(found, text) if self.has_time else None)
        found = self._date_part.match(cleaned)
        if found is not None:
            rest = cleaned[found.end():].strip(" ,-|/")
            if _is_postponed(rest):
                return Kickoff(self._day(found, season, text), None, postponed=True)
            if rest in PENDING_TIMES:
                return Kickoff(self._day(found, season, text), None)
        raise RefusedInput("bad_kickoff", f"{text[:60]!r} does not match kickoff_format {self.spec!r}")

    def _day(self, m: re.Match, season: str | None, text: str) -> date:
        parts = m.groupdict()
        if parts.get("m"):
            month = int(parts["m"])
        else:
            month = month_number(parts.get("b") or parts.get("B") or "") or 0
            if not month:
                raise RefusedInput("bad_date", f"{text[:60]!r}: no month named {parts.get('b') or parts.get('B')!r}")
        if parts.get("Y"):
            year = int(parts["Y"])
        elif parts.get("y"):
            year = 2000 + int(parts["y"])
        else:
            year = season_year(month, season, text)
        day = _make_date(year, month, int(parts["d"]), text)
        names = [parts[k] for k in ("a", "A") if parts.get(k)]
        for name in names:
            if weekday_number(name, surely_a_day=True) is None:
                raise RefusedInput("bad_date", f"{text[:60]!r}: {name!r} is not a day name")
        _check_weekday(day, names, text, surely_days=True)
        return day

    def _time(self, m: re.Match, text: str) -> tuple[int, int]:
        parts = m.groupdict()
        hour = int(parts.get("H") or parts.get("I") or 0)
        if parts.get("p"):
            if not 1 <= hour <= 12:
                raise RefusedInput("bad_time", repr(text[:60]))
            hour = hour % 12 + (12 if parts["p"] == "pm" else 0)
        minute = int(parts.get("M") or 0)
        if hour > 23 or minute > 59:
            raise RefusedInput("bad_time", repr(text[:60]))
        return hour, minute
