"""A first selectors file for an unknown fixtures page: ``hilsim fixtures check --suggest``.

Pure over the page's text. How it guesses, in one place:

- **Rows** are repeated elements that contain one of the club's names: from each
  element whose whole text is a club name, the nearest ancestor that has at least two
  siblings of its own tag and class. The most common such (tag, class) wins; rows with
  a class are selected by CSS (``div.kaart``), rows without one by XPath (``//tr[td]``,
  under the nearest ancestor with an id when there is one).
- **Cells** are the innermost elements with text in a row. A cell with a class is
  selected by CSS (``span.heure``), one without by its position (``./td[5]``).
- Cells are **classified** by what most rows hold there: a date and a time
  (``kickoff``), a date, a time, or a club name (the first such column is ``home``,
  the second ``away``). A page whose rows hold a time but no date gets the nearest
  header above each row that reads as a date (``./preceding::h3[...][1]``). Of the
  remaining text columns, one whose class speaks of a ground (``stad``, ``venue``,
  ``lieu``, ...) is ``location``, and the first other one is ``competition``.
- The guess is kept only if it reads at least one home game; otherwise the page is
  refused with what was missing. The user starts from the file and checks it with
  ``hilsim fixtures check``.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Iterable

from system.decisions.fixtures import html_document, read_fixtures_html
from system.decisions.kickoff import fold, is_postponed, parse_date, parse_time, read_kickoff
from system.decisions.selectors import Selectors, SelectorsFile, expression, node_text
from system.errors import RefusedInput

_SKIP = {"script", "style", "title", "head", "noscript"}
_SEPARATORS = {"-", "vs", "vs.", "v", "tegen", "contre", "against", "x", ":", "|"}
_GROUND_WORDS = ("stad", "venue", "location", "lieu", "plaats", "ground", "arena", "terrein", "where")
_MOST = 0.6  # a column is what at least this share of rows holds there


def _classes(el: Any) -> list[str]:
    return (el.get("class") or "").split()


def _signature(el: Any) -> tuple[str, tuple[str, ...]]:
    return el.tag, tuple(_classes(el))


def _text(el: Any) -> str:
    return node_text(el)


def _elements(root: Any) -> Iterable[Any]:
    for el in root.iter():
        if isinstance(el.tag, str) and el.tag not in _SKIP:
            yield el


def _row_of(cell: Any) -> Any | None:
    node = cell.getparent()
    while node is not None and node.getparent() is not None:
        siblings = [s for s in node.getparent() if isinstance(s.tag, str) and _signature(s) == _signature(node)]
        if len(siblings) >= 3:
            return node
        node = node.getparent()
    return None


def _row_selector(rows: list[Any], cell_tag: str) -> str:
    tag, classes = _signature(rows[0])
    if classes:
        return tag + "".join(f".{c}" for c in classes)
    anchor = rows[0].getparent()
    while anchor is not None and anchor.get("id") is None:
        anchor = anchor.getparent()
    prefix = f"//*[@id='{anchor.get('id')}']" if anchor is not None and "'" not in anchor.get("id") else ""
    return f"{prefix}//{tag}[{cell_tag}]"


def _leaves(row: Any) -> list[Any]:
    found = []
    for el in _elements(row):
        if el is row or not _text(el):
            continue
        if not any(isinstance(c.tag, str) and _text(c) for c in el):
            found.append(el)
    return found


def _cell_selector(row: Any, leaf: Any) -> str:
    classes = _classes(leaf)
    if classes:
        css = leaf.tag + "".join(f".{c}" for c in classes)
        if expression(css).nodes(row)[:1] == [leaf]:
            return css
    steps = []
    node = leaf
    while node is not row:
        parent = node.getparent()
        same = [s for s in parent if s.tag == node.tag]
        steps.append(f"{node.tag}[{same.index(node) + 1}]")
        node = parent
    return "./" + "/".join(reversed(steps))


def _share(texts: list[str | None], test) -> float:
    good = 0
    for text in texts:
        if text is None:
            continue
        try:
            good += bool(test(text))
        except RefusedInput:
            pass
    return good / max(1, len(texts))


def _is_kickoff(text: str) -> bool:
    read_kickoff(text)
    return True


def _has_clock(text: str) -> bool:
    return read_kickoff(text).clock is not None


def _is_time(text: str) -> bool:
    if is_postponed(text):
        return True
    parse_time(text)
    return True


def _a_time(text: str) -> bool:
    return parse_time(text) is not None


def _day_header(rows: list[Any]) -> str | None:
    found: Counter[tuple[str, tuple[str, ...]]] = Counter()
    for row in rows:
        for el in reversed(row.xpath("preceding::*")):
            if not isinstance(el.tag, str) or el.tag in _SKIP or not _text(el):
                continue
            try:
                parse_date(_text(el))
            except RefusedInput:
                continue
            found[_signature(el)] += 1
            break
    if not found:
        return None
    (tag, classes), count = found.most_common(1)[0]
    if count < _MOST * len(rows):
        return None
    test = "".join(f"[contains(concat(' ', normalize-space(@class), ' '), ' {c} ')]" for c in classes[:1])
    return f"./preceding::{tag}{test}[1]"


def suggest_selectors(html: str, club: str | Iterable[str]) -> SelectorsFile:
    """A selectors file that reads ``html``'s games of ``club`` (by the guesses above); RefusedInput
    (``no_suggestion``) when the page does not show them in a way these guesses find."""
    names = {fold(n) for n in ([club] if isinstance(club, str) else club)}
    document = html_document(html)
    row_sel = _guess_row_selector(document, names)
    rows = [r for r in expression(row_sel, row=True).nodes(document) if hasattr(r, "itertext")]
    club_rows = [r for r in rows if any(fold(_text(el)) in names for el in _leaves(r))]
    columns = _columns(club_rows)
    roles = _team_roles(columns, names)
    rest = [s for s in columns if s not in roles.values()]
    roles.update(_kickoff_roles(rest, columns, club_rows))
    roles.update(_text_roles([s for s in rest if s not in roles.values()], columns))
    selectors = Selectors(row=row_sel, home=roles["home"], away=roles["away"], date=roles.get("date"),
                          time=roles.get("time"), kickoff=roles.get("kickoff"), competition=roles.get("competition"),
                          location=roles.get("location"))
    read = read_fixtures_html(html, selectors, club=sorted(names), strict=False)
    if not read.events and not read.pending:
        raise RefusedInput("no_suggestion", f"the guessed selectors read no home game (row {row_sel!r})")
    return SelectorsFile(selectors, club=tuple(club) if not isinstance(club, str) else (club,))


def _guess_row_selector(document: Any, names: set[str]) -> str:
    """The selector of the repeated rows that hold the club's name (the most common kind of such row)."""
    team_cells = [el for el in _elements(document) if fold(_text(el)) in names
                  and not any(isinstance(c.tag, str) and fold(_text(c)) in names for c in el)]
    if not team_cells:
        raise RefusedInput("no_suggestion", f"no element holds just the club's name ({', '.join(sorted(names))})")
    candidates = [(row, cell) for cell in team_cells if (row := _row_of(cell)) is not None]
    if not candidates:
        raise RefusedInput("no_suggestion", "the club's name is not inside repeated rows")
    signature = Counter(_signature(row) for row, _ in candidates).most_common(1)[0][0]
    some_row = next(row for row, _ in candidates if _signature(row) == signature)
    cell_tag = next(cell for row, cell in candidates if row is some_row)
    while cell_tag.getparent() is not some_row:
        cell_tag = cell_tag.getparent()
    return _row_selector([some_row], cell_tag.tag)


def _columns(rows: list[Any]) -> dict[str, list[str | None]]:
    """Each cell selector found in ``rows`` (in the order first found) with what it reads in every row."""
    selectors = dict.fromkeys(_cell_selector(row, leaf) for row in rows for leaf in _leaves(row))
    return {selector: [expression(selector).text(row) for row in rows] for selector in selectors}


def _team_roles(columns: dict[str, list[str | None]], names: set[str]) -> dict[str, str]:
    teams = [s for s in columns if _share(columns[s], lambda t: fold(t) in names) > 0]
    if len(teams) < 2:
        raise RefusedInput("no_suggestion", "found no two team columns (home, then away) in the rows")
    return {"home": teams[0], "away": teams[1]}


def _kickoff_roles(rest: list[str], columns: dict[str, list[str | None]], club_rows: list[Any]) -> dict[str, str]:
    """``kickoff``, or ``time`` and ``date`` (a column, else the day header above the rows)."""
    # a column of kickoffs (or times) reads as such in most rows and shows a clock time in at least one
    kickoff = next((s for s in rest if _share(columns[s], _is_kickoff) >= _MOST
                    and _share(columns[s], _has_clock) > 0), None)
    if kickoff:
        return {"kickoff": kickoff}
    date = next((s for s in rest if _share(columns[s], parse_date) >= _MOST), None)
    time = next((s for s in rest if s != date and _share(columns[s], _is_time) >= _MOST
                 and _share(columns[s], _a_time) > 0), None)
    if time is None:
        raise RefusedInput("no_suggestion", "found no column with kickoff times in the rows")
    header = None if date else _day_header(club_rows)
    if date is None and header is None:
        raise RefusedInput("no_suggestion", "found no dates in the rows nor in headers above them")
    return {"time": time, "date": date or header or ""}


def _text_roles(rest: list[str], columns: dict[str, list[str | None]]) -> dict[str, str]:
    """``location`` (a text column whose class speaks of a ground) and ``competition`` (the first other one)."""
    left = [s for s in rest
            if _share(columns[s], lambda t: fold(t) not in _SEPARATORS and any(c.isalpha() for c in t)) >= _MOST]
    ground = next((s for s in left if any(w in s.lower() for w in _GROUND_WORDS)), None)
    competition = next((s for s in left if s != ground), None)
    roles: dict[str, str] = {}
    if ground:
        roles["location"] = ground
    if competition:
        roles["competition"] = competition
    return roles
