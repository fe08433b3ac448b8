"""Three fixtures-page layouts that differ in structure, rendered from games, for the fixtures tests.

- ``table``: the sample page (``sim.website.render_html``): classed cells, date and time apart.
- ``positional``: an old-style table, no classes, date and kickoff in one cell
  (``<td>home</td><td>-</td><td>away</td><td>competition</td><td>dd/mm/yyyy 20u30</td>``),
  in ISO-8859-1 with a meta charset; read by XPath.
- ``cards``: a day header (French: ``samedi 2 août 2025``) above cards that hold the
  kickoff (``20h45``), the teams, the competition and the ground.

Each layout comes with the selectors file that reads it (``SELECTORS``). The pages in
``fixtures/pages/`` were written by :func:`write_sample_pages` from the invented sample season.
"""

from __future__ import annotations

import html as htmllib
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sim.website import Game, render_html, sample_season

BRUSSELS = ZoneInfo("Europe/Brussels")
LAYOUTS = ("table", "positional", "cards")
PAGES = Path(__file__).resolve().parent.parent / "fixtures" / "pages"

_FR_DAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
_FR_MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
              "novembre", "décembre")

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
    "cards": '''# Day headers above cards; the time is inside the card.
row = "div.kaart"
date = "./preceding::h3[contains(@class, 'jour')][1]"
time = "span.heure"
home = "span.domicile"
away = "span.visiteur"
competition = "p.competition"
location = "p.stade"
''',
}


def _local(game: Game) -> datetime:
    return datetime.fromtimestamp(game.kickoff, BRUSSELS)


def _clock(game: Game, sep: str) -> str:
    local = _local(game)
    if game.postponed:
        return "uitgesteld" if sep == "u" else "reporté"
    if not game.time_fixed:
        return "nnb" if sep == "u" else "à déterminer"
    return f"{local.hour}{sep}{local.minute:02d}"


def render_positional(games: list[Game], title: str = "Wedstrijden seizoen") -> bytes:
    """The old table layout, ISO-8859-1 encoded (its meta tag says so)."""
    esc = htmllib.escape
    out = ['<html><head><meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1">',
           f'<title>{esc(title)}</title></head><body>', f'<h2>{esc(title)}</h2>',
           '<table id="wedstrijden" border="1" cellpadding="2">',
           '<tr><th>Thuis</th><th></th><th>Bezoekers</th><th>Reeks</th><th>Datum / uur</th></tr>']
    for game in sorted(games, key=lambda g: (g.kickoff, g.home)):
        kickoff = f"{_local(game):%d/%m/%Y} {_clock(game, 'u')}"
        out.append(f"<tr><td>{esc(game.home)}</td><td>-</td><td>{esc(game.away)}</td>"
                   f"<td>{esc(game.competition)}</td><td>{kickoff}</td></tr>")
    out += ["</table>", "<p>Uren onder voorbehoud.</p>", "</body></html>"]
    return ("\n".join(out) + "\n").encode("iso-8859-1", "xmlcharrefreplace")


def render_cards(games: list[Game], title: str = "Calendrier") -> str:
    """Day headers (French) above cards with the kickoff, teams, competition and ground."""
    esc = htmllib.escape
    out = ['<!DOCTYPE html>', '<html lang="fr"><head><meta charset="utf-8">', f'<title>{esc(title)}</title>',
           '</head><body>', f'<h1>{esc(title)}</h1>', '<section class="programme">']
    day = None
    for game in sorted(games, key=lambda g: (g.kickoff, g.home)):
        local = _local(game)
        if local.date() != day:
            day = local.date()
            out.append(f'<h3 class="titre jour">{_FR_DAYS[local.weekday()]} {local.day} '
                       f'{_FR_MONTHS[local.month - 1]} {local.year}</h3>')
        out.append(f'<div class="kaart"><span class="heure">{_clock(game, "h")}</span>'
                   f'<div class="equipes"><span class="domicile">{esc(game.home)}</span> <em>contre</em> '
                   f'<span class="visiteur">{esc(game.away)}</span></div>'
                   f'<p class="competition">{esc(game.competition)}</p><p class="stade">{esc(game.location)}</p></div>')
    out += ['</section>', '<footer>Données inventées</footer>', '</body></html>']
    return "\n".join(out) + "\n"


def render(layout: str, games: list[Game]) -> bytes:
    """``games`` as a page in ``layout``, as the bytes a server would send."""
    if layout == "table":
        return render_html(games).encode("utf-8")
    if layout == "positional":
        return render_positional(games)
    return render_cards(games).encode("utf-8")


def write_sample_pages() -> None:
    """(Re)write ``fixtures/pages/{positional,cards}-2025-26.{html,toml}`` from the sample season."""
    season = sample_season()
    (PAGES / "positional-2025-26.html").write_bytes(render_positional(season, "Wedstrijden seizoen 2025-2026"))
    (PAGES / "cards-2025-26.html").write_bytes(render_cards(season, "Calendrier 2025-2026").encode("utf-8"))
    for layout in ("positional", "cards"):
        (PAGES / f"{layout}-2025-26.toml").write_text(SELECTORS[layout], encoding="utf-8")


if __name__ == "__main__":
    write_sample_pages()
