"""A feed's SUMMARY read into teams and competition: every shape real feeds write, templates, ambiguity."""

import pytest
from hypothesis import given, strategies as st

from system.decisions.summary import Summary, read_summary, summary_pattern
from system.errors import RefusedInput

BARCA = frozenset({"barcelona"})


@pytest.mark.parametrize("text, expected", [
    ("Barcelona - Girona FC", Summary("Barcelona", "Girona FC")),
    ("Liga EA Sports - Barcelona - Athletic Club", Summary("Barcelona", "Athletic Club", "Liga EA Sports")),
    ("Liga EA Sports - Sevilla FC - Barcelona", Summary("Sevilla FC", "Barcelona", "Liga EA Sports")),
    ("Barcelona vs Elche CF", Summary("Barcelona", "Elche CF")),
    ("Barcelona VS. Elche CF", Summary("Barcelona", "Elche CF")),
    ("Barcelona v Athletic Club", Summary("Barcelona", "Athletic Club")),
    ("Barcelona \u2013 Deportivo Alav\u00e9s", Summary("Barcelona", "Deportivo Alav\u00e9s")),
    ("Copa del Rey \u2013 Barcelona \u2013 Racing Santander", Summary("Barcelona", "Racing Santander", "Copa del Rey")),
    ("UEFA Champions League - League phase - Barcelona - Inter", Summary("Barcelona", "Inter",
                                                                        "UEFA Champions League - League phase")),
    ("Barcelona - Saint-Etienne", Summary("Barcelona", "Saint-Etienne")),  # a dash without spaces is in a name
    ("  Barcelona   -  Girona FC ", Summary("Barcelona", "Girona FC")),
])
def test_every_shape_reads_the_same_teams(text, expected):
    assert read_summary(text, BARCA) == expected


def test_a_summary_naming_none_of_the_club_is_another_clubs_game_unless_at_its_ground():
    assert read_summary("Liga EA Sports - Girona FC - Sevilla FC", BARCA) is None
    with pytest.raises(RefusedInput) as refused:
        read_summary("Liga EA Sports - Girona FC - Sevilla FC", BARCA, at_ground=True)
    assert refused.value.reason == "ambiguous_summary"


@pytest.mark.parametrize("text, names", [
    ("Barcelona - Como 1907 - Trofeu Joan Gamper", BARCA),  # the club first: which part is the competition?
    ("Liga EA Sports - Barcelona - Athletic Club", None),    # every club's games: no name to go by
])
def test_an_ambiguous_shape_is_refused_with_the_fix(text, names):
    with pytest.raises(RefusedInput) as refused:
        read_summary(text, names)
    assert refused.value.reason == "ambiguous_summary"
    assert 'summary = "{competition} - {home} - {away}"' in refused.value.detail


@pytest.mark.parametrize("text", ["Barcelona", "{{ match.title }}", "Barcelona - ", " - Girona"])
def test_a_summary_without_two_teams_is_refused(text):
    with pytest.raises(RefusedInput) as refused:
        read_summary(text, BARCA)
    assert refused.value.reason == "bad_summary"


@pytest.mark.parametrize("template, text, expected", [
    ("{competition} - {home} - {away}", "Liga EA Sports - Barcelona - Athletic Club",
     Summary("Barcelona", "Athletic Club", "Liga EA Sports")),
    ("{competition} - {home} - {away}", "UEFA CL - Phase - Barcelona - Inter", Summary("Barcelona", "Inter", "UEFA CL - Phase")),
    ("{home} - {away} - {competition}", "Barcelona - Como 1907 - Trofeu Joan Gamper",
     Summary("Barcelona", "Como 1907", "Trofeu Joan Gamper")),
    ("[{competition}] {home} v {away}", "[Copa del Rey]  Barcelona v Racing Santander",
     Summary("Barcelona", "Racing Santander", "Copa del Rey")),
    ("{home} vs {away}", "Levski vs Barcelona", Summary("Levski", "Barcelona")),  # "vs" inside a name is not it
])
def test_a_template_says_the_shape(template, text, expected):
    assert read_summary(text, None, template) == expected


def test_a_summary_the_template_does_not_fit_is_refused():
    with pytest.raises(RefusedInput) as refused:
        read_summary("Barcelona - Girona FC", BARCA, "{competition} - {home} - {away}")
    assert refused.value.reason == "bad_summary"


@pytest.mark.parametrize("template, words", [
    ("{home} - {team}", "unknown field {team}"),
    ("{home} - {home}", "{home} and {away} once each"),
    ("{competition}: {home}", "{home} and {away} once each"),
    ("{home}{away}", "text (like \" - \") between two fields"),
])
def test_a_bad_template_says_what_is_wrong(template, words):
    with pytest.raises(ValueError) as error:
        summary_pattern(template)
    assert words in str(error.value)


TEAM = st.text(st.sampled_from("abcdefgh XYZ.'"), min_size=1, max_size=20).map(str.strip).filter(bool)


@given(TEAM, TEAM, st.sampled_from([" - ", " \u2013 ", " vs ", " v ", "  -  "]))
def test_any_two_team_summary_reads_back_its_teams(home, away, separator):
    assert read_summary(home + separator + away, None) == Summary(" ".join(home.split()), " ".join(away.split()))
