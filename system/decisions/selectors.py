"""Where the games are on a club's page: selectors (CSS or XPath), and the selectors file that names them.

Rules, in one place:

- A selector that starts with ``/``, ``./`` or ``(`` is XPath 1.0; anything else is
  CSS. A selector that is not valid CSS but is valid XPath (``td[5]``) is read as
  XPath, so positional cells work both ways (``td[5]``, ``td:nth-of-type(5)``).
  Both run on lxml (CSS through cssselect); nothing here evaluates selectors by hand.
- ``row`` runs on the whole page; every other selector runs on one row, so an XPath
  cell can also look outside it (``./preceding::h3[1]`` is the day header above a
  card). A cell is the first node found; its text is its text content, spaces
  collapsed; an XPath that returns text or an attribute gives that string.
- The selectors file is TOML with the keys of :data:`KEYS`; ``row``, ``home`` and
  ``away`` are required, and either ``kickoff`` (date and time in one cell, with an
  optional ``kickoff_format``) or ``date`` and ``time``. Any mistake is a
  :class:`~system.errors.ConfigError` naming the file, the line and the fix; an unknown
  key lists the known ones. A file for a feed names no selector at all (the page
  selectors keep their defaults) and may say ``summary``: the shape of the feed's
  summaries, like ``"{competition} - {home} - {away}"`` (:mod:`system.decisions.summary`).

For example::

    >>> config = parse_selectors_file('row = "//table//tr[td]"\\nhome = "td[1]"\\naway = "td[3]"\\n'
    ...                               'kickoff = "td[5]"\\nkickoff_format = "%d/%m/%Y %Hu%M"', "club.toml")
    >>> config.selectors.kickoff, expression("td[5]").kind
    ('td[5]', 'xpath')
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from system.decisions.kickoff import KickoffFormat
from system.decisions.summary import summary_pattern
from system.errors import ConfigError

SELECTOR_KEYS = ("row", "home", "away", "date", "time", "kickoff", "kickoff_format", "competition", "location")
KEYS = SELECTOR_KEYS + ("club", "ground", "season", "utc_is_local", "summary")


@dataclass(frozen=True)
class Selectors:
    """Selectors of a fixtures page: ``row`` picks the rows, the others a cell of a row.

    Either ``kickoff`` (one cell with date and time; ``kickoff_format`` optional) or
    ``date`` and ``time``. ``competition`` and ``location`` may be ``None`` when the
    page has no such column. The defaults fit ``fixtures/pages/kaagent-2025-26.html``.
    """

    row: str = "table.kalender tr.wedstrijd"
    date: str | None = "td.datum"
    time: str | None = "td.uur"
    home: str = "td.thuis"
    away: str = "td.uit"
    competition: str | None = "td.competitie"
    location: str | None = "td.stadion"
    kickoff: str | None = None
    kickoff_format: str | None = None


@dataclass(frozen=True)
class SelectorsFile:
    """What a selectors file says: the selectors, and optionally the club's names, its home ground(s),
    the season (for dates written without a year), whether the feed's UTC times are really local, and the
    shape of its summaries."""

    selectors: Selectors
    club: tuple[str, ...] = ()
    ground: tuple[str, ...] = ()
    season: str | None = None
    utc_is_local: bool = False
    summary: str | None = None


@dataclass(frozen=True)
class Expression:
    """A compiled selector: ``kind`` is ``css`` or ``xpath``; :meth:`nodes` and :meth:`text` run it."""

    source: str
    kind: str
    xpath: Any = field(repr=False, compare=False)

    def nodes(self, node: Any) -> list[Any]:
        """What the selector finds under (or around) ``node``: elements or strings, in document order."""
        found = self.xpath(node)
        if isinstance(found, list):
            return found
        if isinstance(found, bool):
            return []
        return [found]

    def text(self, node: Any) -> str | None:
        """The collapsed text of the first thing found, or ``None`` when nothing is."""
        for hit in self.nodes(node):
            return node_text(hit)
        return None


def node_text(hit: Any) -> str:
    """An element's text content (its parts joined by spaces), or a string result, spaces collapsed."""
    if isinstance(hit, (str, bytes, float, int)):
        return " ".join(str(hit).split())
    return " ".join(" ".join(hit.itertext()).split())


def is_xpath(source: str) -> bool:
    """Whether ``source`` is written as XPath by the rule above (``/``, ``./`` or ``(`` first)."""
    return source.lstrip().startswith(("/", "./", "("))


@lru_cache(maxsize=256)
def expression(source: str, *, row: bool = False) -> Expression:
    """Compile a selector (``row=True``: one that runs on the whole page); ``ValueError`` if it is neither
    valid CSS nor valid XPath."""
    from cssselect import HTMLTranslator, SelectorError
    from lxml import etree

    text = source.strip()
    if not text:
        raise ValueError("an empty selector")
    if not is_xpath(text):
        try:
            css = HTMLTranslator().css_to_xpath(text, prefix="descendant-or-self::" if row else "descendant::")
            return Expression(source, "css", etree.XPath(css))
        except SelectorError as exc:
            css_error = exc
        except etree.XPathSyntaxError as exc:  # pragma: no cover - cssselect writes valid XPath
            css_error = exc
    else:
        css_error = None
    try:
        return Expression(source, "xpath", etree.XPath(text if is_xpath(text) or row else f"./{text}"))
    except etree.XPathError as exc:
        if css_error is not None:
            raise ValueError(f"{source!r} is neither CSS ({css_error}) nor XPath ({exc})") from None
        raise ValueError(f"{source!r} is not valid XPath: {exc}") from None


# -- the selectors file -------------------------------------------------------------------------

_TOML_LINE = re.compile(r"at line (\d+)")


def _line_of(text: str, key: str) -> int | None:
    # [ \t]*, not \s*: a blank line above the key is not its line
    pattern = re.compile(rf"^[ \t]*(?:\[\s*)?(?:{re.escape(key)}|\"{re.escape(key)}\"|'{re.escape(key)}')\s*[=\].]",
                         re.M)
    found = pattern.search(text)
    return text.count("\n", 0, found.start()) + 1 if found else None


def parse_selectors_file(text: str, source: str = "selectors.toml") -> SelectorsFile:
    """Read a selectors file's text (``source`` names it in errors); raises :class:`ConfigError`."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = _TOML_LINE.search(str(exc))
        raise ConfigError(f"not valid TOML: {exc}", source=source, line=int(found[1]) if found else None) from None

    def error(key: str, reason: str) -> ConfigError:
        return ConfigError(reason, source=source, key=key, line=_line_of(text, key))

    for key in data:
        if key not in KEYS:
            raise error(key, f"unknown key; known: {', '.join(KEYS)}")
    for key in SELECTOR_KEYS + ("season", "summary"):
        if key in data and (not isinstance(data[key], str) or not data[key].strip()):
            raise error(key, "must be a non-empty string")
    if "summary" in data:
        try:
            summary_pattern(data["summary"].strip())
        except ValueError as exc:
            raise error("summary", str(exc)) from None
    if not any(key in data for key in SELECTOR_KEYS):  # a feed's file: no page selectors
        return SelectorsFile(Selectors(), **_options(data, error))
    for key in ("row", "home", "away"):
        if key not in data:
            raise ConfigError(f"key {key!r} is missing; a selectors file needs row, home and away, and either "
                              "kickoff or date and time", source=source)
    if "kickoff" in data and ("date" in data or "time" in data):
        raise error("kickoff", "use kickoff (date and time in one cell) or date and time, not both")
    if "kickoff" not in data and not ("date" in data and "time" in data):
        raise ConfigError("give kickoff (date and time in one cell) or both date and time", source=source)
    if "kickoff_format" in data:
        if "kickoff" not in data:
            raise error("kickoff_format", "kickoff_format needs a kickoff cell")
        try:
            KickoffFormat(data["kickoff_format"])
        except ValueError as exc:
            raise error("kickoff_format", str(exc)) from None
    for key in SELECTOR_KEYS:
        if key in data and key != "kickoff_format":
            try:
                expression(data[key], row=key == "row")
            except ValueError as exc:
                raise error(key, str(exc)) from None
    selectors = Selectors(row=data["row"], home=data["home"], away=data["away"], date=data.get("date"),
                          time=data.get("time"), kickoff=data.get("kickoff"),
                          kickoff_format=data.get("kickoff_format"), competition=data.get("competition"),
                          location=data.get("location"))
    return SelectorsFile(selectors, **_options(data, error))


def _options(data: dict[str, Any], error: Any) -> dict[str, Any]:
    """The file's keys besides the selectors, checked, as :class:`SelectorsFile` fields."""
    names: dict[str, tuple[str, ...]] = {}
    for key in ("club", "ground"):
        value = data.get(key, ())
        value = (value,) if isinstance(value, str) else value
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and v.strip() for v in value):
            raise error(key, "must be a name or a list of names")
        names[key] = tuple(value)
    if "season" in data and not re.fullmatch(r"\d{4}-\d{2}", data["season"]):
        raise error("season", "write the season like 2025-26")
    if not isinstance(data.get("utc_is_local", False), bool):
        raise error("utc_is_local", "must be true or false")
    summary = data.get("summary")
    return dict(club=names["club"], ground=names["ground"], season=data.get("season"),
                utc_is_local=data.get("utc_is_local", False), summary=summary.strip() if summary else None)


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def format_selectors_file(config: SelectorsFile) -> str:
    """The selectors file that :func:`parse_selectors_file` reads back as ``config`` (``--suggest`` writes it)."""
    lines = []
    for key in SELECTOR_KEYS:
        value = getattr(config.selectors, key)
        if value is not None:
            lines.append(f"{key} = {_quote(value)}")
    if config.club:
        lines.append(f"club = [{', '.join(_quote(c) for c in config.club)}]")
    if config.ground:
        lines.append(f"ground = [{', '.join(_quote(g) for g in config.ground)}]")
    if config.season:
        lines.append(f"season = {_quote(config.season)}")
    if config.utc_is_local:
        lines.append("utc_is_local = true")
    if config.summary:
        lines.append(f"summary = {_quote(config.summary)}")
    return "\n".join(lines) + "\n"
