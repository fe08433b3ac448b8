"""Alert planning (pure): policies, extras, snoozes, reschedules, the missed-while-off rule."""

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from system.decisions.alerts import (DEFAULT_POLICIES, Snooze, alerts_for, light_schedule, lit_alerts, plan_alerts,
                           is_lit, skip_reason, snoozed_until)
from system.decisions.events import CANCELLED, CUSTOM, GAME, Alert, AlertRule, Event

H = 3600.0
KICKOFF = 1_774_000_000.0  # any epoch instant


def game(key="g1", start=KICKOFF, **kw):
    return Event(key=key, kind=GAME, title=f"Home - {key}", start=start, **kw)


def plan(events, now, snoozes=(), fired=(), extras=None, policies=DEFAULT_POLICIES):
    return plan_alerts(events, policies, extras, snoozes, fired, now)


def test_default_policy_lights_ten_minutes_at_4h_3h30_3h15():
    alerts = alerts_for([game()], DEFAULT_POLICIES)
    assert [(KICKOFF - a.at, a.duration) for a in alerts] == [(4 * H, 600), (3.5 * H, 600), (3.25 * H, 600)]
    assert light_schedule(alerts, []) == [(KICKOFF - 4 * H, KICKOFF - 4 * H + 600),
                                          (KICKOFF - 3.5 * H, KICKOFF - 3.5 * H + 600),
                                          (KICKOFF - 3.25 * H, KICKOFF - 3.25 * H + 600)]


def test_custom_policy_and_extra_alerts():
    concert = Event(key="custom:1", kind=CUSTOM, title="Concert", start=KICKOFF)
    policies = {**DEFAULT_POLICIES, CUSTOM: (AlertRule(before=H, duration=300),)}
    extras = {"custom:1": (AlertRule(before=30 * 60, duration=120),), "g1": (AlertRule(before=5 * H),)}
    alerts = alerts_for([concert, game()], policies, extras)
    ids = [a.id for a in alerts]
    assert ids == ["g1/extra/18000", "g1/policy/14400", "g1/policy/12600", "g1/policy/11700",
                   "custom:1/policy/3600", "custom:1/extra/1800"]
    assert alerts[-1] == Alert("custom:1/extra/1800", "custom:1", KICKOFF - 1800, 120, "extra")


def test_cancelled_event_has_no_alerts():
    assert alerts_for([game(status=CANCELLED)], DEFAULT_POLICIES) == []


def test_overlapping_windows_keep_the_light_on_until_the_last_ends():
    policies = {GAME: (AlertRule(before=H, duration=1200), AlertRule(before=H - 600, duration=1200))}
    alerts = alerts_for([game()], policies)
    assert light_schedule(alerts, []) == [(KICKOFF - H, KICKOFF - H + 1800)]
    mid = KICKOFF - H + 900
    assert len(lit_alerts(alerts, [], mid)) == 2


# alert windows [at, until) -> the light's on-periods, worked out by hand
WINDOW_MERGES = [
    ([(0, 10), (10, 20)], [(0, 20)]),                       # touching: one on-period
    ([(10, 20), (0, 10)], [(0, 20)]),                       # in any order
    ([(0, 10), (10, 20), (20, 30)], [(0, 30)]),             # a chain of touching windows
    ([(0, 10), (5, 15)], [(0, 15)]),                        # overlapping
    ([(0, 30), (10, 20)], [(0, 30)]),                       # one inside the other
    ([(0, 10), (0, 10)], [(0, 10)]),                        # the same window twice
    ([(0, 10), (11, 20)], [(0, 10), (11, 20)]),             # a gap of one second keeps them apart
    ([(0, 10), (10.5, 20)], [(0, 10), (10.5, 20)]),         # so does half a second
    ([(0, 10), (10, 20), (25, 30), (30, 40)], [(0, 20), (25, 40)]),
]


@pytest.mark.parametrize("windows, on_periods", WINDOW_MERGES)
def test_touching_windows_rule_windows_that_touch_or_overlap_make_one_on_period(windows, on_periods):
    """Touching windows rule: alert windows [a, b) and [b, c) make one on-period [a, c), as overlapping ones
    do; any gap between two windows keeps them two on-periods. At every instant the light is on exactly
    inside the on-periods."""
    alerts = [Alert(f"e{i}/policy/{i}", f"e{i}", float(lo), float(hi - lo)) for i, (lo, hi) in enumerate(windows)]
    assert light_schedule(alerts, []) == [(float(lo), float(hi)) for lo, hi in on_periods]
    for t in [x / 2 for x in range(-2, 2 * 42)]:
        assert bool(lit_alerts(alerts, [], t)) == any(lo <= t < hi for lo, hi in on_periods), t


def test_touching_windows_rule_a_snooze_that_ends_where_another_window_starts_leaves_one_on_period():
    """Touching windows rule after snoozes: the lit part of one alert that ends where another's begins
    merges with it; a snooze that opens a gap splits the on-period."""
    first, second = Alert("a/policy/1", "a", 0.0, 20.0), Alert("b/policy/2", "b", 20.0, 10.0)
    assert light_schedule([first, second], [Snooze("a/policy/1", 0.0, 5.0)]) == [(5.0, 30.0)]
    assert light_schedule([first, second], [Snooze("a/policy/1", 15.0, 20.0)]) == [(0.0, 15.0), (20.0, 30.0)]
    assert light_schedule([first, second], [Snooze("b/policy/2", 20.0, 21.0)]) == [(0.0, 20.0), (21.0, 30.0)]


def test_missed_while_off_fires_only_if_its_window_is_still_open():
    events = [game()]
    first = KICKOFF - 4 * H
    # started five minutes into the first window: it fires now, for the rest of its window
    p = plan(events, first + 300)
    assert [a.id for a in p.due] == ["g1/policy/14400"] and p.skipped == ()
    assert p.next_change == first + 600
    # started after the first window closed: it is skipped, never fired
    p = plan(events, first + 601)
    assert p.due == () and [a.id for a in p.skipped] == ["g1/policy/14400"]
    assert skip_reason(p.skipped[0], []) == "missed"


def test_fired_alerts_are_lit_but_not_due_again():
    a = alerts_for([game()], DEFAULT_POLICIES)[0]
    p = plan([game()], a.at + 10, fired=[(a.id, a.at)])
    assert p.lit == (a,) and p.due == ()


def test_snooze_darkens_only_its_interval():
    a = alerts_for([game()], DEFAULT_POLICIES)[0]
    s = Snooze(a.id, since=a.at + 60, until=a.at + 180)
    assert lit_alerts([a], [s], a.at + 30) == [a]
    assert lit_alerts([a], [s], a.at + 100) == []
    assert lit_alerts([a], [s], a.at + 200) == [a]
    assert light_schedule([a], [s]) == [(a.at, a.at + 60), (a.at + 180, a.until)]
    p = plan([game()], a.at + 100, snoozes=[s], fired=[(a.id, a.at)])
    assert p.lit == () and p.next_change == a.at + 180


def test_snoozed_before_it_starts_never_fires_and_is_skipped_as_snoozed():
    a = alerts_for([game()], DEFAULT_POLICIES)[0]
    s = Snooze(a.id, since=a.at - 100, until=a.until)
    assert plan([game()], a.at, snoozes=[s]).due == ()
    p = plan([game()], a.until, snoozes=[s])
    assert [x.id for x in p.skipped] == [a.id] and skip_reason(a, [s]) == "snoozed"


def test_reschedule_keeps_ids_moves_times_and_the_fired_log_lets_it_fire_again():
    before = alerts_for([game()], DEFAULT_POLICIES)
    after = alerts_for([game(start=KICKOFF + 24 * H)], DEFAULT_POLICIES)
    assert [a.id for a in before] == [a.id for a in after]
    assert [b.at - a.at for a, b in zip(before, after)] == [24 * H] * 3
    fired = [(a.id, a.at) for a in before]
    p = plan([game(start=KICKOFF + 24 * H)], after[0].at + 1, fired=fired)
    assert p.due == (after[0],)


# -- properties --------------------------------------------------------------------

offsets = st.integers(min_value=0, max_value=6 * 3600)
rules = st.lists(st.builds(AlertRule, before=offsets.map(float), duration=st.integers(1, 3600).map(float)),
                 max_size=4, unique_by=lambda r: r.before)
events_st = st.lists(
    st.builds(lambda i, start, kind, cancelled: Event(key=f"e{i}", kind=kind, title=f"event {i}",
                                                    start=KICKOFF + start, status=CANCELLED if cancelled else "scheduled"),
              st.integers(0, 50), st.integers(0, 30 * 24 * 3600), st.sampled_from([GAME, CUSTOM]), st.booleans()),
    max_size=6, unique_by=lambda e: e.key)


@given(events_st, rules, rules)
def test_every_scheduled_event_gets_exactly_its_policy_alerts(events, game_rules, custom_rules):
    policies = {GAME: tuple(game_rules), CUSTOM: tuple(custom_rules)}
    alerts = alerts_for(events, policies)
    for e in events:
        mine = sorted((e.start - a.at, a.duration) for a in alerts if a.event_key == e.key)
        expected = [] if e.status == CANCELLED else sorted((r.before, r.duration) for r in policies[e.kind])
        assert mine == expected
    assert len({a.id for a in alerts}) == len(alerts)


@given(events_st, st.integers(-10 * 24 * 3600, 10 * 24 * 3600))
def test_rescheduling_moves_alerts_and_keeps_their_ids(events, shift):
    moved = [replace(e, start=e.start + shift) for e in events]
    old = {a.id: a for a in alerts_for(events, DEFAULT_POLICIES)}
    new = {a.id: a for a in alerts_for(moved, DEFAULT_POLICIES)}
    assert old.keys() == new.keys()
    assert all(new[i].at == old[i].at + shift for i in old)


@settings(max_examples=60)
@given(events_st, st.data())
def test_snoozed_alerts_do_not_fire_and_the_light_follows_the_schedule(events, data):
    alerts = alerts_for(events, DEFAULT_POLICIES)
    snoozes = []
    for a in alerts:
        if data.draw(st.booleans()):
            lo = data.draw(st.floats(a.at - 600, a.until))
            snoozes.append(Snooze(a.id, lo, data.draw(st.floats(lo, a.until + 600))))
    schedule = light_schedule(alerts, snoozes)
    for t in [a.at for a in alerts] + [a.at + 1 for a in alerts] + [a.until - 1e-3 for a in alerts] + [s.since for s in snoozes]:
        p = plan(events, t, snoozes=snoozes)
        on = any(lo <= t < hi for lo, hi in schedule)
        assert bool(p.lit) == on
        for a in p.due:
            assert not any(s.alert_id == a.id and s.since <= t < s.until for s in snoozes)


@given(events_st, st.floats(0, 40 * 24 * 3600))
def test_missed_while_off_rule(events, offset):
    """Started at ``now`` with nothing fired: due = exactly the open windows, skipped = the closed ones."""
    now = KICKOFF + offset
    p = plan(events, now)
    for a in p.alerts:
        assert (a in p.due) == (a.at <= now < a.until)
        assert (a in p.skipped) == (a.until <= now)
    if p.next_change is not None:
        assert p.next_change > now
        mid = (now + p.next_change) / 2
        assert plan(events, mid).lit == p.lit  # nothing changes before next_change


def test_a_snooze_follows_its_alert_through_a_reschedule_while_it_still_covers_the_window():
    """Alert ids survive a reschedule, so a snooze taken for the next hour still darkens the moved alert;
    one that covered the old window only is over and leaves the moved alert alone."""
    first = alerts_for([game()], DEFAULT_POLICIES)[0]
    now = first.at + 60
    for_an_hour = Snooze(first.id, now, now + H)
    moved = game(start=KICKOFF + 5 * 60)  # kickoff five minutes later: the window moves inside the snooze
    new = alerts_for([moved], DEFAULT_POLICIES)[0]
    assert plan([moved], new.at + 1, snoozes=[for_an_hour]).lit == ()
    assert plan([moved], new.at + 1, snoozes=[for_an_hour]).due == ()
    rest_of_window = Snooze(first.id, now, first.until)
    next_day = game(start=KICKOFF + 24 * H)
    p = plan([next_day], first.at + 24 * H + 1, snoozes=[rest_of_window], fired=[(first.id, first.at)])
    assert [a.id for a in p.due] == [first.id]  # the moved alert is a new firing, not snoozed


@settings(max_examples=60)
@given(events_st, st.data())
def test_snoozing_one_alert_never_darkens_another(events, data):
    """Snooze "until the next alert" ends with this alert's window: the next alert still lights up."""
    alerts = alerts_for(events, DEFAULT_POLICIES)
    if not alerts:
        return
    target = data.draw(st.sampled_from(alerts))
    lo = data.draw(st.floats(target.at - 3 * H, target.until))
    snooze = Snooze(target.id, lo, data.draw(st.floats(lo, target.until + 3 * H)))
    for t in sorted({x for a in alerts for x in (a.at, a.until - 1e-3)}):
        with_snooze = {a.id for a in plan(events, t, snoozes=[snooze]).lit}
        without = {a.id for a in plan(events, t).lit}
        assert with_snooze - {target.id} == without - {target.id}


@settings(max_examples=80)
@given(events_st, st.data())
def test_across_restarts_each_alert_fires_once_exactly_when_the_controller_was_up_in_its_window(events, data):
    """The controller is up during some intervals and plans at every instant the plan says (plus at each
    start); the settled log carries over restarts. Each alert fires once iff some up-time met its window,
    at the first such instant, and is skipped otherwise once it is over."""
    # up-times start around the events' alert hours (so windows are often met, missed or cut) or anywhere
    anchors = [e.start - 4.5 * H for e in events] or [KICKOFF]
    start = st.one_of(st.sampled_from(anchors).flatmap(lambda a: st.floats(a, a + 2 * H)),
                      st.floats(KICKOFF, KICKOFF + 40 * 24 * H))
    runs = sorted((s, s + d) for s, d in data.draw(st.lists(st.tuples(start, st.floats(1, 2 * H)), max_size=8)))
    fired: dict[tuple[str, float], float] = {}
    skipped: set[tuple[str, float]] = set()
    for up, down in runs:
        t = up
        while t is not None and t < down:
            p = plan(events, t, fired=set(fired) | skipped)
            for a in p.due:
                assert (a.id, a.at) not in fired  # never twice, whatever the restarts
                fired[(a.id, a.at)] = t
            skipped |= {(a.id, a.at) for a in p.skipped}
            t = p.next_change
    for a in alerts_for(events, DEFAULT_POLICIES):
        met = [max(up, a.at) for up, down in runs if up < a.until and down > a.at and max(up, a.at) < down]
        if met:
            assert fired.get((a.id, a.at)) == min(met)
        else:
            assert (a.id, a.at) not in fired
            assert ((a.id, a.at) in skipped) == any(up >= a.until for up, _ in runs)


def test_an_alert_is_snoozed_from_now_or_from_its_start_until_the_snooze_ends():
    alert = Alert("g1/policy/600", "g1", 100.0, 50.0)
    early, late = Snooze(alert.id, 90.0, 120.0), Snooze(alert.id, 130.0, 200.0)
    cases = [  # (t, snoozes, snoozed until, lit)
        (80.0, [early], 120.0, False),   # ahead: its start is covered
        (80.0, [late], None, False),     # ahead, the snooze starts later in the window
        (110.0, [early], 120.0, False),
        (125.0, [early, late], None, True),
        (140.0, [early, late], 200.0, False),
        (150.0, [late], None, False),    # over: not snoozed any more, not lit
        (100.0, [Snooze(alert.id, 90.0, 110.0), Snooze(alert.id, 95.0, 130.0)], 130.0, False),
    ]
    for t, snoozes, until, lit in cases:
        assert snoozed_until(alert, snoozes, t) == until, (t, snoozes)
        assert is_lit(alert, snoozes, t) is lit, (t, snoozes)
