"""Selectors: CSS or XPath by the documented rule, positional cells, and the selectors file's validation."""

import pytest

from system.decisions.fixtures import html_document
from system.decisions.selectors import (KEYS, Selectors, SelectorsFile, expression, format_selectors_file,
                                        parse_selectors_file)
from system.errors import ConfigError

ROW = ("<table><tr><td>KAA Gent</td><td>-</td><td>Club Brugge</td><td>Jupiler Pro League</td>"
       "<td class='k'>02/08/2025 <b>20u45</b></td></tr></table>")


@pytest.mark.parametrize("selector, kind", [
    ("td.k", "css"), ("td:nth-of-type(5)", "css"), ("td", "css"),
    ("./td[5]", "xpath"), ("//tr/td[5]", "xpath"), ("(//td)[5]", "xpath"), ("td[5]", "xpath"),
])
def test_css_or_xpath_by_the_first_characters_and_positional_cells_work_both_ways(selector, kind):
    row = expression("//tr", row=True).nodes(html_document(ROW))[0]
    found = expression(selector)
    assert found.kind == kind
    if selector != "td":
        assert found.text(row) == "02/08/2025 20u45"  # text content, parts joined, spaces collapsed


def test_xpath_may_return_text_and_look_outside_the_row():
    doc = html_document("<h3>za 2 aug</h3><div class='c'><span title='KAA Gent'>x</span></div>")
    card = expression("div.c", row=True).nodes(doc)[0]
    assert expression("./preceding::h3[1]").text(card) == "za 2 aug"
    assert expression("./span/@title").text(card) == "KAA Gent"
    assert expression("./span[2]").text(card) is None


@pytest.mark.parametrize("selector", ["td[", "//td[", "", "   "])
def test_a_selector_that_is_neither_css_nor_xpath_is_a_value_error(selector):
    with pytest.raises(ValueError):
        expression(selector)


GOOD = 'row = "tr.wedstrijd"\nhome = "td.thuis"\naway = "td.uit"\n'


@pytest.mark.parametrize("text, line, key, words", [
    (GOOD + 'kickoff = "td.k"\nrows = "tr"\n', 5, "rows", ["unknown key; known: " + ", ".join(KEYS)]),
    (GOOD + 'kickoff = "td.k"\n[table]\nrow = "x"\n', 5, "table", ["unknown key"]),
    (GOOD + 'date = "td.d"\ntime = "td["\n', 5, "time", ["neither CSS", "nor XPath"]),
    (GOOD + 'kickoff = "td.k"\nkickoff_format = "%d/%m %Q"\n', 5, "kickoff_format", ["%Q"]),
    (GOOD + 'kickoff = "td.k"\ndate = "td.d"\n', 4, "kickoff", ["not both"]),
    (GOOD + 'date = "td.d"\ntime = "td.t"\nkickoff_format = "%d/%m/%Y %Hu%M"\n', 6, "kickoff_format",
     ["needs a kickoff"]),
    (GOOD + 'kickoff = "td.k"\nclub = 3\n', 5, "club", ["a name or a list"]),
    (GOOD + 'kickoff = "td.k"\nseason = "2025"\n', 5, "season", ["2025-26"]),
    (GOOD + 'kickoff = "td.k"\nutc_is_local = "yes"\n', 5, "utc_is_local", ["true or false"]),
    (GOOD + 'kickoff = 5\n', 4, "kickoff", ["non-empty string"]),
    (GOOD + 'kickoff = "td.k"\nhome = "x"\n', 5, None, ["not valid TOML"]),
    ('row = "tr"\naway = "td.uit"\nkickoff = "td.k"\n', None, None, ["'home' is missing"]),
    (GOOD, None, None, ["kickoff", "date and time"]),
    (GOOD + 'kickoff = "td.k"\nsummary = "{home} - {team}"\n', 5, "summary", ["unknown field {team}"]),
    ('club = "Barcelona"\n\nsummary = "{home}{away}"\n', 3, "summary", ["between two fields"]),
    ('club = "Barcelona"\nsummary = ""\n', 2, "summary", ["non-empty string"]),
])
def test_mistakes_in_a_selectors_file_name_the_file_the_line_and_the_fix(text, line, key, words):
    with pytest.raises(ConfigError) as error:
        parse_selectors_file(text, "club.toml")
    assert (error.value.source, error.value.line, error.value.key) == ("club.toml", line, key)
    message = str(error.value)
    assert message.startswith(f"club.toml:{line}: " if line else "club.toml: ") and "\n" not in message
    assert all(word in message for word in words)


def test_a_selectors_file_round_trips_through_its_writer():
    config = SelectorsFile(Selectors(row="//tr[td]", home="./td[1]", away="./td[3]", date=None, time=None,
                                     competition="./td[4]", location=None, kickoff="./td[5]",
                                     kickoff_format="%d/%m/%Y %Hu%M"),
                           club=("KAA Gent", 'K.A.A. "Gent"'), ground=("Planet Group Arena",), season="2025-26",
                           utc_is_local=True, summary="{competition} - {home} - {away}")
    assert parse_selectors_file(format_selectors_file(config)) == config


def test_a_feeds_file_names_no_selectors_and_may_say_the_summarys_shape():
    config = parse_selectors_file('club = "Barcelona"\nsummary = "{competition} - {home} - {away}"\n', "feed.toml")
    assert config == SelectorsFile(Selectors(), club=("Barcelona",), summary="{competition} - {home} - {away}")
