"""--suggest: a selectors file guessed from a page, which read back gives the page's home games."""

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from sim.models.club_site import Game
from system.decisions.fixtures import read_fixtures_html
from system.decisions.kickoff import fold
from system.decisions.page_text import decode_page
from system.decisions.selectors import format_selectors_file, parse_selectors_file
from system.decisions.suggest import suggest_selectors
from system.errors import RefusedInput
from tests.layouts import render
from tests.test_fixtures import seasons

PAGES = Path(__file__).resolve().parent.parent / "fixtures" / "pages"


def reads(html: str, file_text: str) -> list[tuple[str, float]]:
    config = parse_selectors_file(file_text, "suggested.toml")
    return [(g.title, g.start) for g in list(read_fixtures_html(html, config.selectors, club=config.club or "KAA Gent").events)]


@pytest.mark.parametrize("name", ["positional-2025-26", "day-cards-2025-26", "kaagent-2025-26"])
def test_the_suggested_file_reads_the_same_games_as_the_hand_written_one(name):
    html = decode_page((PAGES / f"{name}.html").read_bytes())
    suggested = format_selectors_file(suggest_selectors(html, "KAA Gent"))
    hand = (PAGES / f"{name}.toml").read_text(encoding="utf-8") if name != "kaagent-2025-26" else None
    expected = reads(html, hand) if hand else [(g.title, g.start) for g in list(read_fixtures_html(html).events)]
    assert len(expected) == 17 and reads(html, suggested) == expected


def test_what_it_proposes_for_the_two_layouts():
    positional = suggest_selectors(decode_page((PAGES / "positional-2025-26.html").read_bytes()), "KAA Gent")
    s = positional.selectors
    assert (s.row, s.home, s.away, s.kickoff, s.date, s.time) == (
        "//*[@id='wedstrijden']//tr[td]", "./td[1]", "./td[3]", "./td[5]", None, None)
    cards = suggest_selectors((PAGES / "day-cards-2025-26.html").read_text(encoding="utf-8"), "KAA Gent").selectors
    assert (cards.row, cards.home, cards.away, cards.time, cards.location) == (
        "div.kaart", "span.domicile", "span.visiteur", "span.heure", "p.stade")
    assert cards.date.startswith("./preceding::h3")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(seasons().filter(lambda games: sum(g.home == "KAA Gent" and g.time_fixed and not g.postponed for g in games) >= 2
                        and any(g.away == "KAA Gent" for g in games)),
       st.sampled_from(["positional", "day-cards"]))
def test_for_generated_seasons_the_suggestion_reads_back_the_home_games(games: list[Game], layout):
    """Any season with a few dated home games and an away game: the guessed file reads the home games."""
    html = decode_page(render(layout, games))
    config = suggest_selectors(html, "KAA Gent")
    got = list(read_fixtures_html(html, config.selectors, club="KAA Gent").events)
    assert sorted((g.title, g.start) for g in got if g.status == "scheduled") == sorted(
        (g.title, g.kickoff) for g in games if fold(g.home) == "kaa gent" and g.time_fixed and not g.postponed)


def test_a_page_without_the_club_in_repeated_rows_gets_no_suggestion():
    for html in ("<html><body><p>Onderhoud</p></body></html>", "<p>KAA Gent</p>"):
        with pytest.raises(RefusedInput) as refused:
            suggest_selectors(html, "KAA Gent")
        assert refused.value.reason == "no_suggestion"
