"""The club site's own renderers, one per layout: the season as a fixtures page or an iCalendar feed.

:func:`render_html` writes the page in one of :data:`LAYOUTS` (``table``, ``cards``, ``positional``,
``day-cards``), :func:`render_ical` the feed (``tzid``, ``utc`` or ``floating`` times); both can break
the output as a CMS would (:data:`GARBLES`). They render from :class:`~sim.models.club_season.Game`
data only and share no code with the system's parser, which the tests check them against.
"""

from __future__ import annotations

import html as htmllib
from datetime import datetime, timedelta, timezone
from typing import Iterable
from zoneinfo import ZoneInfo

from sim.models.club_season import HOST, Game, game_uid, season_name
from system.decisions.localtime import DEFAULT_TZ

LAYOUTS = ("table", "cards", "positional", "day-cards")
GARBLES = ("template", "truncated")

_DAYS = ("ma", "di", "wo", "do", "vr", "za", "zo")
_FR_DAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
_FR_MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
              "novembre", "décembre")
_MONTHS = ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september",
           "oktober", "november", "december")


def render_html(games: Iterable[Game], *, layout: str = "table", tz: str = DEFAULT_TZ,
                title: str = "Kalender A-kern 2025-2026", garble: str | None = None) -> str:
    """The fixtures page in one of :data:`LAYOUTS`: ``table`` (a row per game with classed cells, month
    headers, times like ``20u30``), ``cards`` (a card per game, same cells), ``positional`` (an old table
    without classes, date and kickoff in one cell) or ``day-cards`` (French day headers above cards that
    hold the kickoff). ``garble`` breaks it as a CMS would (``template``, ``truncated``)."""
    zone = ZoneInfo(tz)
    ordered = sorted(games, key=lambda g: (g.kickoff, g.home, g.away))
    if layout == "positional":
        return _garbled(render_positional(ordered, zone, title, template=garble == "template"), garble, "</tr>")
    if layout == "day-cards":
        return _garbled(render_day_cards(ordered, zone, title, template=garble == "template"), garble, "</p></div>")
    esc = htmllib.escape
    out = ['<!DOCTYPE html>', '<html lang="nl">', '<head>', '<meta charset="utf-8">',
           f'<title>{esc(title)} | KAA Gent</title>', '</head>', '<body>',
           '<header><nav><a href="/">Home</a> <a href="/kalender">Kalender</a> <a href="/tickets">Tickets</a></nav></header>',
           '<main>', f'<h1>{esc(title)}</h1>',
           '<p class="info">Alle uren zijn Belgische uren. Wijzigingen voorbehouden.</p>']
    if layout == "table":
        out += ['<table class="kalender">', '<thead><tr><th>Datum</th><th>Uur</th><th>Competitie</th>'
                '<th>Thuisploeg</th><th>Bezoekers</th><th>Stadion</th></tr></thead>', '<tbody>']
    else:
        out += ['<section class="match-list">']
    month = None
    for game in ordered:
        local = datetime.fromtimestamp(game.kickoff, zone)
        day = f"{_DAYS[local.weekday()]} {local:%d/%m/%Y}"
        clock = "uitgesteld" if game.postponed else (f"{local.hour}u{local.minute:02d}" if game.time_fixed else "nnb")
        if garble == "template":
            day, clock = "{{ match.date|format }}", "{{ match.time }}"
        cells = dict(datum=day, uur=clock, competitie=game.competition, thuis=game.home, uit=game.away,
                     stadion=game.location)
        if layout == "table":
            if (local.year, local.month) != month:
                month = (local.year, local.month)
                out.append(f'<tr class="maand"><td colspan="6">{_MONTHS[local.month - 1].capitalize()} {local.year}</td></tr>')
            row = "".join(f'<td class="{k}">{esc(v)}</td>' for k, v in cells.items())
            out.append(f'<tr class="wedstrijd">{row}</tr>')
        else:
            body = "".join(f'<span class="match-{k}">{esc(v)}</span>' for k, v in cells.items())
            out.append(f'<article class="match-card">{body}</article>')
    out += ['</tbody>', '</table>'] if layout == "table" else ['</section>']
    out += ['</main>', '<footer>KAA Gent (voorbeeldpagina, verzonnen gegevens)</footer>', '</body>', '</html>']
    text = "\n".join(out) + "\n"
    if garble == "truncated":  # the CMS stopped after a third of the rows: what is there is well formed
        rows_end = text.rfind("</tr>" if layout == "table" else "</article>", 0, len(text) // 3)
        text = text[: rows_end + 5] if rows_end >= 0 else text[: len(text) // 3]
    return text


def _garbled(text: str, garble: str | None, row_end: str) -> str:
    if garble == "truncated":  # the CMS stopped after a third of the rows
        end = text.rfind(row_end, 0, len(text) // 3)
        return text[: end + len(row_end)] if end >= 0 else text[: len(text) // 3]
    return text


def _clock(game: Game, local: datetime, sep: str, postponed: str, pending: str) -> str:
    if game.postponed:
        return postponed
    return f"{local.hour}{sep}{local.minute:02d}" if game.time_fixed else pending


def render_positional(games: Iterable[Game], zone: ZoneInfo, title: str = "Wedstrijden", *,
                      charset: str = "utf-8", template: bool = False) -> str:
    """An old table layout: no classes, ``home | - | away | competition | dd/mm/yyyy 20u30``."""
    esc = htmllib.escape
    out = [f'<html><head><meta http-equiv="Content-Type" content="text/html; charset={charset}">',
           f'<title>{esc(title)}</title></head><body>', f'<h2>{esc(title)}</h2>',
           '<table id="wedstrijden" border="1" cellpadding="2">',
           '<tr><th>Thuis</th><th></th><th>Bezoekers</th><th>Reeks</th><th>Datum / uur</th></tr>']
    for game in games:
        local = datetime.fromtimestamp(game.kickoff, zone)
        kickoff = f"{local:%d/%m/%Y} {_clock(game, local, 'u', 'uitgesteld', 'nnb')}"
        if template:
            kickoff = "{{ match.date|format }} {{ match.time }}"
        out.append(f"<tr><td>{esc(game.home)}</td><td>-</td><td>{esc(game.away)}</td>"
                   f"<td>{esc(game.competition)}</td><td>{kickoff}</td></tr>")
    out += ["</table>", "<p>Uren onder voorbehoud.</p>", "</body></html>"]
    return "\n".join(out) + "\n"


def render_day_cards(games: Iterable[Game], zone: ZoneInfo, title: str = "Calendrier", *,
                     template: bool = False) -> str:
    """Day headers in French (``samedi 2 août 2025``) above cards with the kickoff (``20h45``), the teams,
    the competition and the ground."""
    esc = htmllib.escape
    out = ['<!DOCTYPE html>', '<html lang="fr"><head><meta charset="utf-8">', f'<title>{esc(title)}</title>',
           '</head><body>', f'<h1>{esc(title)}</h1>', '<section class="programme">']
    day = None
    for game in games:
        local = datetime.fromtimestamp(game.kickoff, zone)
        if local.date() != day:
            day = local.date()
            header = f"{_FR_DAYS[local.weekday()]} {local.day} {_FR_MONTHS[local.month - 1]} {local.year}"
            out.append(f'<h3 class="titre jour">{"{{ match.date|format }}" if template else header}</h3>')
        clock = "{{ match.time }}" if template else _clock(game, local, "h", "reporté", "à déterminer")
        out.append(f'<div class="kaart"><span class="heure">{clock}</span>'
                   f'<div class="equipes"><span class="domicile">{esc(game.home)}</span> <em>contre</em> '
                   f'<span class="visiteur">{esc(game.away)}</span></div>'
                   f'<p class="competition">{esc(game.competition)}</p><p class="stade">{esc(game.location)}</p></div>')
    out += ['</section>', '<footer>Données inventées</footer>', '</body></html>']
    return "\n".join(out) + "\n"


def render_ical(games: Iterable[Game], *, style: str = "tzid", tz: str = DEFAULT_TZ, host: str = HOST,
                garble: str | None = None, name: str = "KAA Gent kalender") -> bytes:
    """The feed: one VEVENT per game; ``style`` is ``tzid`` (with VTIMEZONE), ``utc`` or ``floating``."""
    import icalendar

    zone = ZoneInfo(tz)
    ordered = sorted(games, key=lambda g: (g.kickoff, g.home, g.away))
    cal = icalendar.Calendar()
    cal.add("prodid", f"-//{host}//kalender//NL")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", name)
    if style == "tzid" and ordered:
        first = datetime.fromtimestamp(ordered[0].kickoff, zone).date().replace(day=1)
        last = datetime.fromtimestamp(ordered[-1].kickoff, zone).date() + timedelta(days=31)
        cal.add_component(icalendar.Timezone.from_tzid(tz, first_date=first, last_date=last))
    stamp = datetime(2025, 7, 1, tzinfo=timezone.utc)
    for game in ordered:
        local = datetime.fromtimestamp(game.kickoff, zone)
        ev = icalendar.Event()
        ev.add("uid", game.uid or game_uid(game.home, game.away, season_name(local.date()), host))
        ev.add("dtstamp", stamp)
        ev.add("summary", "{{ match.title }}" if garble == "template" else game.title)
        if not game.time_fixed:
            ev.add("dtstart", local.date())
        elif style == "utc":
            ev.add("dtstart", local.astimezone(timezone.utc))
        elif style == "floating":
            ev.add("dtstart", local.replace(tzinfo=None))
        else:
            ev.add("dtstart", local)
        if game.location:
            ev.add("location", game.location)
        if game.competition:
            ev.add("categories", [game.competition])
        if game.postponed:
            ev.add("status", "CANCELLED")
        cal.add_component(ev)
    data = cal.to_ical()
    if garble == "truncated":
        data = data[: len(data) // 3]
    return data

