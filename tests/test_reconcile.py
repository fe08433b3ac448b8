"""Reconciliation of stored games with a scrape: examples, properties, a reference model."""

from dataclasses import replace

from hypothesis import assume, given, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from system.decisions.events import CANCELLED, CUSTOM, GAME, SCHEDULED, Event
from system.decisions.reconcile import Reconciliation, apply_reconciliation, changed_details, reconcile

H = 3600.0
NOW = 100 * H


def game(key: str, start: float, status: str = SCHEDULED, **kw) -> Event:
    return Event(key=key, kind=GAME, start=start, status=status,
                 **{"title": f"KAA Gent - {key}", "home": "KAA Gent", "away": key, **kw})


CONCERT = Event(key="custom:concert", kind=CUSTOM, title="Concert", start=NOW + 50 * H)


# -- examples ------------------------------------------------------------------------------------

def test_new_rescheduled_cancelled_and_reinstated_games():
    stored = [game("a", NOW + 10 * H), game("b", NOW + 20 * H), game("c", NOW + 30 * H),
              game("d", NOW + 40 * H, CANCELLED), CONCERT]
    scraped = [game("a", NOW + 10 * H), game("b", NOW + 22 * H), game("d", NOW + 41 * H), game("e", NOW + 60 * H)]
    r = reconcile(stored, scraped, now=NOW)
    assert r.suspicious is None
    assert [e.key for e in r.added] == ["e"]
    assert [(o.start, n.start) for o, n in r.rescheduled] == [(NOW + 20 * H, NOW + 22 * H)]
    assert [(e.key, e.status) for e in r.cancelled] == [("c", CANCELLED)]
    assert [(e.key, e.start, e.status) for e in r.reinstated] == [("d", NOW + 41 * H, SCHEDULED)]
    assert r.updated == ()


def test_past_games_are_never_cancelled_and_custom_events_never_touched():
    stored = [game("past", NOW - H), game("kicking-off", NOW), game("future", NOW + H), CONCERT]
    r = reconcile(stored, [game("future", NOW + H), game("past-postponed", NOW - 2 * H, CANCELLED)], now=NOW)
    assert r == Reconciliation()
    r = reconcile(stored + [game("old", NOW - 5 * H)], [game("old", NOW - 5 * H, CANCELLED), game("future", NOW + H)], now=NOW)
    assert r == Reconciliation()


def test_a_postponed_row_cancels_and_a_detail_change_is_an_update():
    stored = [game("a", NOW + H), game("b", NOW + 2 * H, location="Planet Group Arena")]
    scraped = [game("a", NOW + H, CANCELLED), game("b", NOW + 2 * H, location="Jan Breydelstadion")]
    r = reconcile(stored, scraped, now=NOW)
    assert [e.key for e in r.cancelled] == ["a"] and not r.rescheduled
    assert [(o.location, n.location) for o, n in r.updated] == [("Planet Group Arena", "Jan Breydelstadion")]


def test_pending_games_are_neither_cancelled_nor_added():
    stored = [game("a", NOW + H), game("b", NOW + 2 * H)]
    r = reconcile(stored, [game("a", NOW + H)], now=NOW, pending={"b", "new"})
    assert r == Reconciliation()


def test_empty_dropped_duplicate_and_mass_cancellation_sources_change_nothing():
    season = [game(f"g{i}", NOW + (i + 1) * 24 * H) for i in range(10)]
    cases = {
        "empty": [],
        "dropped": season[:4],
        "duplicate_key": season + [season[0]],
        "too_many_cancelled": season[:6],
    }
    for code, scraped in cases.items():
        r = reconcile(season, scraped, now=NOW)
        assert r.suspicious is not None and r.suspicious.startswith(code + ":"), (code, r.suspicious)
        assert not r.changed
    assert reconcile(season, season[:6], now=NOW, max_cancelled=None).cancelled == tuple(
        replace(e, status=CANCELLED) for e in season[6:])


def test_the_last_upcoming_game_vanishing_is_held_back_as_suspicious():
    stored = [game("done", NOW - 24 * H), game("last", NOW + 24 * H)]
    r = reconcile(stored, [game("done", NOW - 24 * H)], now=NOW)
    assert r.suspicious.startswith("dropped:") and not r.changed


def test_a_scraped_key_that_belongs_to_a_custom_event_is_ignored():
    r = reconcile([CONCERT, game("a", NOW + H)], [game("a", NOW + H), replace(CONCERT, kind=GAME, start=NOW)], now=NOW)
    assert r == Reconciliation()


def test_only_games_of_the_given_source_take_part():
    stored = [game("a", NOW + H, source="html"), game("u1", NOW + 2 * H, source="ical")]
    r = reconcile(stored, [game("a", NOW + H, source="html")], now=NOW, source="html")
    assert r == Reconciliation()
    # a key the other source owns is not taken over, moved or cancelled by this one
    r = reconcile(stored, [game("a", NOW + H, source="html"), game("u1", NOW + 9 * H, source="html")],
                  now=NOW, source="html")
    assert r == Reconciliation()


@given(st.integers(2, 20), st.data())
def test_one_genuine_cancellation_is_never_held_back_by_the_safety_guards(n, data):
    """The guards stop mass loss; one game dropped from an otherwise healthy page is a real cancellation."""
    season = [game(f"g{i}", NOW + (i + 1) * 24 * H) for i in range(n)]
    gone = data.draw(st.sampled_from(season))
    r = reconcile(season + [CONCERT], [e for e in season if e is not gone], now=NOW)
    assert r.suspicious is None
    assert r.cancelled == (replace(gone, status=CANCELLED),)
    assert not (r.added or r.rescheduled or r.reinstated or r.updated)


# -- properties ------------------------------------------------------------------------------------

KEYS = [f"g{i}" for i in range(8)]
times = st.integers(90, 110).map(lambda h: h * H)


# Every detail a source can change about a game (written here, not taken from reconcile.DETAILS, so that a
# field dropped from that list is caught), each with two values to switch between.
DETAIL_VALUES = {"title": ["", "KAA Gent - Club Brugge"], "home": ["KAA Gent", "AA Gent"],
                 "away": ["", "Club Brugge"], "competition": ["Jupiler Pro League", "Croky Cup"],
                 "location": ["", "Planet Group Arena"]}


@given(st.sets(st.sampled_from(sorted(DETAIL_VALUES))))
def test_changed_details_names_exactly_the_details_that_changed_in_name_order(switched):
    old = game("g1", NOW + H, **{name: values[0] for name, values in DETAIL_VALUES.items()})
    new = replace(old, **{name: DETAIL_VALUES[name][1] for name in switched})
    assert changed_details(old, new) == tuple(name for name in ("away", "competition", "home", "location", "title")
                                              if name in switched)
    assert reconcile([old], [new], now=NOW).updated == (((old, new),) if switched else ())


def test_a_new_kickoff_status_season_or_source_is_not_a_changed_detail():
    old = game("g1", NOW + H)
    assert changed_details(old, replace(old, start=NOW + 2 * H, status=CANCELLED, season="2026-27",
                                        source="feed")) == ()


@st.composite
def games_of(draw, keys=KEYS, statuses=(SCHEDULED, SCHEDULED, CANCELLED)):
    chosen = draw(st.lists(st.sampled_from(keys), unique=True))
    return [game(k, draw(times), draw(st.sampled_from(statuses)),
                 **{name: draw(st.sampled_from(values)) for name, values in DETAIL_VALUES.items()})
            for k in chosen]


@given(games_of(), games_of(), times, st.sets(st.sampled_from(KEYS), max_size=2))
def test_reconcile_is_idempotent(stored, scraped, now, pending):
    pending = pending - {e.key for e in scraped}
    first = reconcile(stored + [CONCERT], scraped, now=now, pending=pending)
    after = apply_reconciliation(stored + [CONCERT], first)
    if first.suspicious:
        assert after == sorted(stored + [CONCERT], key=lambda e: (e.start, e.key))
    else:
        assert reconcile(after, scraped, now=now, pending=pending) == Reconciliation()
    assert CONCERT in after


@st.composite
def season_and_scrape(draw) -> tuple[list[Event], list[Event]]:
    """Stored games, and a scrape of the same season: a game may be the same, gone, new, or have its kickoff,
    its status or one of its details changed."""
    stored = draw(games_of())
    scraped = []
    for event in stored:
        # one change per game at most, so that a change of a single detail is common and nothing hides it
        what = draw(st.sampled_from(["same", "gone", "start", "status", *DETAIL_VALUES]))
        if what == "gone":
            continue
        if what == "start":
            event = replace(event, start=draw(times))
        elif what == "status":
            event = replace(event, status=CANCELLED if event.status == SCHEDULED else SCHEDULED)
        elif what in DETAIL_VALUES:  # the other value: a change, not a redraw of the same one
            event = replace(event, **{what: next(v for v in DETAIL_VALUES[what] if v != getattr(event, what))})
        scraped.append(event)
    free = [k for k in KEYS if k not in {e.key for e in stored}]
    return stored, scraped + (draw(games_of(free)) if free else [])


@given(season_and_scrape(), times, st.sets(st.sampled_from(KEYS), max_size=2))
def test_after_a_healthy_reconciliation_the_store_holds_every_listed_game_as_listed(season, now, pending):
    """Whatever changed (kickoff, status, title, teams, competition, location), the store ends up with the
    source's version of every game it lists as scheduled; only a suspicious scrape leaves it behind."""
    stored, scraped = season
    pending = pending - {e.key for e in scraped}
    r = reconcile(stored + [CONCERT], scraped, now=now, pending=pending)
    if r.suspicious:
        return
    after = {e.key: e for e in apply_reconciliation(stored + [CONCERT], r)}
    for listed in scraped:
        if listed.status == SCHEDULED:
            assert after[listed.key] == listed


@given(games_of(), games_of(), times, st.randoms(use_true_random=False))
def test_reconcile_does_not_depend_on_input_order(stored, scraped, now, rnd):
    shuffled_stored, shuffled_scraped = stored[:], scraped[:]
    rnd.shuffle(shuffled_stored)
    rnd.shuffle(shuffled_scraped)
    assert reconcile(stored, scraped, now=now) == reconcile(shuffled_stored, shuffled_scraped, now=now)


def merge(a: Reconciliation, b: Reconciliation) -> Reconciliation:
    def order(items, pair=False):
        return tuple(sorted(items, key=lambda x: (x[1].start, x[1].key) if pair else (x.start, x.key)))
    return Reconciliation(added=order(a.added + b.added), rescheduled=order(a.rescheduled + b.rescheduled, True),
                          cancelled=order(a.cancelled + b.cancelled), reinstated=order(a.reinstated + b.reinstated),
                          updated=order(a.updated + b.updated, True))


@given(games_of(KEYS[:4]), games_of(KEYS[:4]), games_of(KEYS[4:]), games_of(KEYS[4:]), times)
def test_independent_games_reconcile_independently(stored_a, scraped_a, stored_b, scraped_b, now):
    assume(scraped_a and scraped_b)
    loose = dict(min_ratio=0.0, max_cancelled=None)
    whole = reconcile(stored_a + stored_b, scraped_a + scraped_b, now=now, **loose)
    parts = merge(reconcile(stored_a, scraped_a, now=now, **loose), reconcile(stored_b, scraped_b, now=now, **loose))
    assert whole == parts


@given(games_of(), games_of(), times)
def test_suspicious_results_carry_no_change_and_custom_events_are_never_in_a_result(stored, scraped, now):
    r = reconcile(stored + [CONCERT], scraped, now=now)
    assert not (r.suspicious and r.changed)
    touched = [e.key for e in r.added + r.cancelled + r.reinstated] + [n.key for _, n in r.rescheduled + r.updated]
    assert CONCERT.key not in touched


@given(games_of(statuses=(SCHEDULED,)), times)
def test_a_source_listing_none_of_the_upcoming_games_cancels_nothing(stored, now):
    past_only = [e for e in stored if e.start <= now]
    r = reconcile(stored, past_only, now=now)
    assert not r.changed
    if any(e.start > now for e in stored):  # a season vanished: held back and reported, never applied
        assert r.suspicious is not None and r.suspicious.split(":")[0] in ("empty", "dropped")


# -- the season against a reference model ------------------------------------------------------

class SeasonMachine(RuleBasedStateMachine):
    """The club site changes, time passes, scrapes are applied; the store must follow the site.

    Reference model: after a healthy scrape, every upcoming game on the site is stored and
    scheduled at the site's time, every stored upcoming scheduled game is on the site, and
    nothing in the past changed status; after a suspicious one, the store is unchanged.
    """

    def __init__(self):
        super().__init__()
        self.now = NOW
        self.site: dict[str, float] = {f"g{i}": NOW + (i + 1) * 24 * H for i in range(6)}
        self.store: list[Event] = [CONCERT]
        self.last: Reconciliation | None = None
        self.before: list[Event] = []

    @rule(hours=st.integers(1, 72))
    def time_passes(self, hours):
        self.now += hours * H

    @rule(key=st.sampled_from(KEYS), hours=st.integers(-48, 240))
    def site_lists_or_moves_a_game(self, key, hours):
        self.site[key] = self.now + hours * H

    @precondition(lambda self: self.site)
    @rule(data=st.data())
    def site_drops_a_game(self, data):
        del self.site[data.draw(st.sampled_from(sorted(self.site)))]

    @rule()
    def scrape(self):
        scraped = [game(k, t) for k, t in sorted(self.site.items())]
        self.before = self.store
        self.last = reconcile(self.store, scraped, now=self.now)
        self.store = apply_reconciliation(self.store, self.last)

    @invariant()
    def store_follows_the_site(self):
        if self.last is None:
            return
        if self.last.suspicious:
            assert self.store == sorted(self.before, key=lambda e: (e.start, e.key))
            return
        stored = {e.key: e for e in self.store if e.kind == GAME}
        for key, start in self.site.items():
            if start > self.now:
                assert stored[key].status == SCHEDULED and stored[key].start == start
        for e in stored.values():
            if e.status == SCHEDULED and e.start > self.now:
                assert self.site.get(e.key) == e.start
        was = {e.key: e for e in self.before}
        for e in self.store:
            if e.key in was and was[e.key].start <= self.now and was[e.key].status == SCHEDULED:
                assert e.status == SCHEDULED  # past games are never cancelled
        assert CONCERT in self.store
        self.last = None


TestSeason = SeasonMachine.TestCase
TestSeason.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)


# -- repeated pairings: a pairing met more than once in a season ---------------------------------

DAY = 24 * H
PLAYOFFS = "KAA Gent|Club Brugge|Champions' Play-offs|2025-26"


def meeting(start: float, key: str = PLAYOFFS, away: str = "Club Brugge", status: str = SCHEDULED) -> Event:
    """A play-off game keyed as a page without ids keys it (the pairing, ``#n`` from its second meeting)."""
    return Event(key=key, kind=GAME, title=f"KAA Gent - {away}", start=start, status=status, home="KAA Gent",
                 away=away, competition="Champions' Play-offs", season="2025-26", source="club-site")


def test_the_first_of_two_meetings_moved_past_the_second_keeps_its_identity():
    stored = [meeting(NOW + 10 * DAY), meeting(NOW + 20 * DAY, PLAYOFFS + "#2")]
    # the page numbers by date: the game still on day 20 is now its first meeting, the moved one its second
    scraped = [meeting(NOW + 20 * DAY), meeting(NOW + 25 * DAY, PLAYOFFS + "#2")]
    r = reconcile(stored, scraped, now=NOW)
    assert [(o.key, o.start, n.key, n.start) for o, n in r.rescheduled] == [
        (PLAYOFFS, NOW + 10 * DAY, PLAYOFFS, NOW + 25 * DAY)]
    assert not (r.added or r.cancelled or r.updated or r.suspicious)
    after = apply_reconciliation(stored, r)
    assert [(e.key, e.start) for e in after] == [(PLAYOFFS + "#2", NOW + 20 * DAY), (PLAYOFFS, NOW + 25 * DAY)]
    assert reconcile(after, scraped, now=NOW) == Reconciliation()


def test_a_meeting_put_between_two_others_is_new_and_takes_the_next_free_number():
    stored = [meeting(NOW + 10 * DAY), meeting(NOW + 30 * DAY, PLAYOFFS + "#2")]
    scraped = [meeting(NOW + 10 * DAY), meeting(NOW + 20 * DAY, PLAYOFFS + "#2"), meeting(NOW + 30 * DAY, PLAYOFFS + "#3")]
    r = reconcile(stored, scraped, now=NOW)
    assert [(e.key, e.start) for e in r.added] == [(PLAYOFFS + "#3", NOW + 20 * DAY)]
    assert not (r.rescheduled or r.cancelled or r.updated)
    assert reconcile(apply_reconciliation(stored, r), scraped, now=NOW) == Reconciliation()


def test_a_meeting_gone_from_the_page_is_the_one_cancelled_whatever_the_numbering():
    stored = [meeting(NOW + 10 * DAY), meeting(NOW + 20 * DAY, PLAYOFFS + "#2"), meeting(NOW + 30 * DAY, PLAYOFFS + "#3")]
    scraped = [meeting(NOW + 20 * DAY), meeting(NOW + 30 * DAY, PLAYOFFS + "#2")]
    r = reconcile(stored, scraped, now=NOW)
    assert [(e.key, e.start, e.status) for e in r.cancelled] == [(PLAYOFFS, NOW + 10 * DAY, CANCELLED)]
    assert not (r.added or r.rescheduled or r.updated)


def test_a_meeting_whose_time_is_pending_keeps_its_key_and_holds_its_pairing():
    stored = [meeting(NOW + 10 * DAY)]
    # the first meeting's time is not fixed any more; a second meeting is announced
    r = reconcile(stored, [meeting(NOW + 20 * DAY, PLAYOFFS + "#2")], now=NOW, pending={PLAYOFFS})
    assert [(e.key, e.start) for e in r.added] == [(PLAYOFFS + "#2", NOW + 20 * DAY)]
    assert not (r.rescheduled or r.cancelled)
    stored = [meeting(NOW + 10 * DAY), meeting(NOW + 20 * DAY, PLAYOFFS + "#2")]
    # only a pending game of the pairing is listed: neither stored meeting is cancelled
    assert reconcile(stored, [meeting(NOW + 10 * DAY)], now=NOW, pending={PLAYOFFS + "#2"}) == Reconciliation()


OPPONENTS = ("Club Brugge", "KRC Genk", "RSC Anderlecht")
SLOTS = st.integers(90, 130).map(lambda h: h * H)


@st.composite
def repeated_season(draw) -> tuple[list[tuple[str, int, float]], list[tuple[str, int, float]], float]:
    """A season's meetings ``(opponent, meeting, kickoff)``, some pairings met up to three times, and a scrape
    of it where each pairing had at most one change: a meeting moved, gone, or a new one added."""
    stored, scraped = [], []
    for opponent in draw(st.lists(st.sampled_from(OPPONENTS), min_size=1, unique=True)):
        starts = draw(st.lists(SLOTS, min_size=1, max_size=3, unique=True))
        mine = [(opponent, n, start) for n, start in enumerate(starts)]
        stored += mine
        what = draw(st.sampled_from(["same", "moved", "gone", "added"]))
        which = draw(st.integers(0, len(mine) - 1))
        if what == "gone":
            del mine[which]
        elif what in ("moved", "added"):
            start = draw(SLOTS.filter(lambda s: s not in starts))
            mine = mine[:which] + mine[which + 1:] + [(opponent, which, start)] if what == "moved" else \
                mine + [(opponent, len(mine), start)]
        scraped += mine
    return stored, scraped, draw(st.integers(88, 132).map(lambda h: h * H))


def numbered(meetings: list[tuple[str, int, float]]) -> list[Event]:
    """The meetings as a page without ids lists them: one pairing per opponent, numbered by date."""
    events = []
    for opponent in OPPONENTS:
        starts = sorted(start for o, _, start in meetings if o == opponent)
        key = f"KAA Gent|{opponent}|Champions' Play-offs|2025-26"
        events += [meeting(start, key + (f"#{i}" if i > 1 else ""), opponent) for i, start in enumerate(starts, 1)]
    return events


def apart(meetings: list[tuple[str, int, float]]) -> list[Event]:
    """The same meetings with each one its own pairing (the opponent renamed apart): no pairing repeats."""
    return [meeting(start, f"KAA Gent|{o} ({n})|Champions' Play-offs|2025-26", f"{o} ({n})") for o, n, start in meetings]


def outcome(r: Reconciliation) -> tuple:
    """What a reconciliation does, by opponent and kickoffs only (the names renamed apart folded back)."""
    def who(e: Event) -> str:
        return e.away.split(" (")[0]
    return (r.suspicious and r.suspicious.split(":")[0], sorted((who(e), e.start) for e in r.added),
            sorted((who(n), o.start, n.start) for o, n in r.rescheduled), sorted((who(e), e.start) for e in r.cancelled),
            sorted((who(e), e.start) for e in r.reinstated), sorted((who(n), n.start) for _, n in r.updated))


@settings(max_examples=300)
@given(repeated_season())
def test_a_season_with_repeated_pairings_reconciles_like_the_same_season_without_them(season):
    stored, scraped, now = season
    repeated = reconcile(numbered(stored), numbered(scraped), now=now)
    assert outcome(repeated) == outcome(reconcile(apart(stored), apart(scraped), now=now))
    if not repeated.suspicious:  # and a second scrape of the same page changes nothing
        assert reconcile(apply_reconciliation(numbered(stored), repeated), numbered(scraped), now=now) == \
            Reconciliation()


# -- a feed's window --------------------------------------------------------------------------------

def test_games_outside_a_feeds_window_are_not_missing_but_one_gone_inside_it_is_cancelled():
    stored = [game("a", NOW + 10 * H), game("b", NOW + 20 * H), game("c", NOW + 30 * H), game("d", NOW + 40 * H)]
    # a rolling feed that now lists b and c: a rolled out of it before its kickoff, d is beyond its reach
    assert reconcile(stored, stored[1:3], now=NOW, window=(NOW + 20 * H, NOW + 30 * H)) == Reconciliation()
    r = reconcile(stored, [stored[0], stored[2], stored[3]], now=NOW, window=(NOW + 10 * H, NOW + 40 * H))
    assert [e.key for e in r.cancelled] == ["b"]


def test_the_dropped_guard_counts_only_the_games_inside_the_window():
    season = [game(f"g{i}", NOW + (i + 1) * DAY) for i in range(10)]
    window = (season[0].start, season[2].start)  # the next three games of ten
    assert reconcile(season, season[:3], now=NOW, window=window) == Reconciliation()
    assert reconcile(season, season[:3], now=NOW).suspicious.startswith("dropped:")  # a page: the whole season
