"""Meetings of a pairing: numbered by date when read, matched nearest first when reconciled."""

from system.decisions.events import GAME, Event
from system.decisions.meetings import match_meetings, number_meetings

CUP = "KAA Gent|KRC Genk|Croky Cup|2025-26"
D = 86400.0


def test_meetings_are_numbered_by_date_and_a_repeat_points_at_the_game_it_repeats():
    games = [(CUP, (3, 0)), (None, (1, 0)), (CUP, (1, 0)), (CUP, (3, 0)), (CUP, (2, 5)), ("other", (1, 0))]
    assert number_meetings(games) == ({2: 1, 4: 2, 0: 3, 5: 1}, {3: 0})


def cup(start: float, key: str = CUP) -> Event:
    return Event(key, GAME, "KAA Gent - KRC Genk", start, home="KAA Gent", away="KRC Genk", competition="Croky Cup",
                 season="2025-26")


def test_the_nearest_pairs_match_first_and_a_new_meeting_takes_the_next_free_number():
    stored = [cup(10 * D), cup(20 * D, CUP + "#2")]
    listed = [cup(12 * D), cup(20 * D, CUP + "#2"), cup(30 * D, CUP + "#3")]
    assert [(e.key, e.start) for e in match_meetings(stored, listed, (), {CUP, CUP + "#2"})] == [
        (CUP, 12 * D), (CUP + "#2", 20 * D), (CUP + "#3", 30 * D)]
    # the new meeting's own number is taken by a stored one: it gets the next free number
    listed = [cup(5 * D), cup(10 * D, CUP + "#2"), cup(20 * D, CUP + "#3")]
    assert [(e.key, e.start) for e in match_meetings(stored, listed, (), {CUP, CUP + "#2"})] == [
        (CUP + "#3", 5 * D), (CUP, 10 * D), (CUP + "#2", 20 * D)]


def test_games_keyed_by_a_sources_id_are_left_as_they_are():
    uid = Event("uid-1", GAME, "KAA Gent - KRC Genk", D, home="KAA Gent", away="KRC Genk", competition="Croky Cup",
                season="2025-26")
    assert match_meetings([cup(D)], [uid], (), {CUP}) == [uid]
