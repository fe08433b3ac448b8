"""Three fixtures-page layouts that differ in structure, rendered from games, for the fixtures tests.

- ``table``: the sample page: classed cells, date and time apart.
- ``positional``: an old-style table, no classes, date and kickoff in one cell
  (``<td>home</td><td>-</td><td>away</td><td>competition</td><td>dd/mm/yyyy 20u30</td>``),
  sent in ISO-8859-1 with a meta charset; read by XPath.
- ``day-cards``: a day header (French: ``samedi 2 août 2025``) above cards that hold the
  kickoff (``20h45``), the teams, the competition and the ground.

The renderers are the simulated club site's (``sim/models/club_site.py``); each layout comes with
the selectors file that reads it (``SELECTORS``). The pages in ``fixtures/pages/`` were
written by :func:`write_sample_pages` from the invented sample season.
"""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

from sim.models.club_site import Game, render_day_cards, render_html, render_positional, sample_season

BRUSSELS = ZoneInfo("Europe/Brussels")
LAYOUTS = ("table", "positional", "day-cards")
PAGES = Path(__file__).resolve().parent.parent / "fixtures" / "pages"

SELECTORS = {
    "table": None,  # the defaults
    "positional": '''# An old table layout: no classes, date and kickoff together in the fifth cell.
row = "//table[@id='wedstrijden']//tr[td]"
home = "./td[1]"
away = "./td[3]"
competition = "./td[4]"
kickoff = "./td[5]"
kickoff_format = "%d/%m/%Y %Hu%M"
''',
    "day-cards": '''# Day headers above cards; the time is inside the card.
row = "div.kaart"
date = "./preceding::h3[contains(@class, 'jour')][1]"
time = "span.heure"
home = "span.domicile"
away = "span.visiteur"
competition = "p.competition"
location = "p.stade"
''',
}


def _ordered(games: list[Game]) -> list[Game]:
    return sorted(games, key=lambda g: (g.kickoff, g.home, g.away))


def render(layout: str, games: list[Game]) -> bytes:
    """``games`` as a page in ``layout``, as the bytes a server would send."""
    if layout == "positional":
        return render_positional(_ordered(games), BRUSSELS, "Wedstrijden seizoen",
                                 charset="iso-8859-1").encode("iso-8859-1", "xmlcharrefreplace")
    return render_html(games, layout=layout).encode("utf-8")


def write_sample_pages() -> None:
    """(Re)write ``fixtures/pages/{positional,day-cards}-2025-26.{html,toml}`` from the sample season."""
    season = _ordered(sample_season())
    (PAGES / "positional-2025-26.html").write_bytes(
        render_positional(season, BRUSSELS, "Wedstrijden seizoen 2025-2026", charset="iso-8859-1").encode("iso-8859-1"))
    (PAGES / "day-cards-2025-26.html").write_bytes(
        render_day_cards(season, BRUSSELS, "Calendrier 2025-2026").encode("utf-8"))
    for layout in ("positional", "day-cards"):
        (PAGES / f"{layout}-2025-26.toml").write_text(SELECTORS[layout], encoding="utf-8")


if __name__ == "__main__":
    write_sample_pages()
