"""The gap rule (``system/decisions/sequence_gaps.py``) against an independent model: per boot, the set of
seqs stored; missing are the seqs from 1 to the highest stored that are not in it."""

from hypothesis import given
from hypothesis import strategies as st

from system.decisions.sequence_gaps import GapChange, SequenceGaps

identities = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 40)), max_size=120)


def _model_missing(stored: set[int]) -> set[int]:
    return set(range(1, max(stored, default=0) + 1)) - stored


def _as_ranges(seqs: set[int]) -> list[tuple[int, int]]:
    ranges: list[tuple[int, int]] = []
    for seq in sorted(seqs):
        if ranges and ranges[-1][1] == seq - 1:
            ranges[-1] = (ranges[-1][0], seq)
        else:
            ranges.append((seq, seq))
    return ranges


@given(identities)
def test_missing_and_boots_follow_the_model_after_every_stored_reading(stream):
    gaps, stored = SequenceGaps(), {}
    for boot, seq in stream:
        before = _model_missing(stored.get(boot, set()))
        new_boot = boot not in stored
        seen = seq in stored.setdefault(boot, set())
        stored[boot].add(seq)
        after = _model_missing(stored[boot])
        change = gaps.see(boot, seq)
        opened = after - before
        assert change == GapChange(opened=(min(opened), max(opened)) if opened else None,
                                   filled=seq in before, new_boot=new_boot), (boot, seq, seen)
        assert gaps.missing == sum(len(_model_missing(s)) for s in stored.values())
        assert gaps.boots == len(stored)
        assert gaps.ranges(boot) == _as_ranges(after)


@given(identities)
def test_the_order_of_arrival_does_not_change_what_is_missing_at_the_end(stream):
    forward, backward = SequenceGaps(), SequenceGaps()
    for boot, seq in stream:
        forward.see(boot, seq)
    for boot, seq in reversed(stream):
        backward.see(boot, seq)
    assert forward.missing == backward.missing and forward.boots == backward.boots
    assert all(forward.ranges(b) == backward.ranges(b) for b, _ in stream)


def test_a_reboot_is_a_new_series_not_a_gap_and_the_tail_of_a_boot_is_not_counted():
    gaps = SequenceGaps()
    for seq in (1, 2, 3):
        gaps.see(1, seq)
    assert gaps.see(2, 1) == GapChange(new_boot=True)
    assert (gaps.missing, gaps.boots) == (0, 2)


def test_a_liars_huge_seq_is_one_range_and_its_late_readings_come_off_one_by_one():
    gaps = SequenceGaps()
    gaps.see(1, 1)
    assert gaps.see(1, 2**52) == GapChange(opened=(2, 2**52 - 1))
    assert gaps.missing == 2**52 - 2
    assert gaps.see(1, 1000).filled and gaps.ranges(1) == [(2, 999), (1001, 2**52 - 1)]
    assert gaps.missing == 2**52 - 3


@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 60)), max_size=150))
def test_replaying_runs_of_consecutive_seqs_gives_what_seeing_each_seq_gives(stream):
    """The bridge's start replays its store as runs; the result is that of each stored seq in order."""
    one_by_one, by_runs = SequenceGaps(), SequenceGaps()
    for boot, seq in sorted(set(stream)):
        one_by_one.see(boot, seq)
    for boot in sorted({b for b, _ in stream}):
        for first, last in _as_ranges({s for b, s in stream if b == boot}):
            by_runs.see_run(boot, first, last)
    assert (by_runs.missing, by_runs.boots) == (one_by_one.missing, one_by_one.boots)
    assert all(by_runs.ranges(b) == one_by_one.ranges(b) for b, _ in stream)


def test_a_run_over_seqs_already_seen_counts_only_its_new_part():
    gaps = SequenceGaps()
    gaps.see(1, 5)  # 1..4 missing
    gaps.see_run(1, 3, 8)  # fills 3 and 4, then 6..8 follow 5
    assert (gaps.missing, gaps.ranges(1)) == (2, [(1, 2)])
