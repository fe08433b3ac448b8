"""The subscription index routes exactly as matching every filter one by one would (MQTT 3.1.1, 4.7)."""

from hypothesis import given, settings
from hypothesis import strategies as st

from sim.models.broker_model import topic_matches, valid_filter
from sim.models.subscriptions import SubscriptionIndex

LEVELS = st.sampled_from(["a", "b", "", "$SYS", "sensors"])
TOPICS = st.lists(LEVELS, min_size=1, max_size=4).map("/".join).filter(bool)
FILTERS = st.lists(st.sampled_from(["a", "b", "", "$SYS", "+", "#"]), min_size=1, max_size=4).map(
    "/".join).filter(valid_filter)


def brute_force(subs: dict[tuple[str, str], int], topic: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for (topic_filter, client), qos in subs.items():
        if topic_matches(topic_filter, topic):
            out[client] = max(qos, out.get(client, -1))
    return out


@settings(max_examples=300)
@given(st.lists(st.tuples(FILTERS, st.sampled_from("xyz"), st.integers(0, 1), st.booleans()), max_size=12),
       st.lists(TOPICS, min_size=1, max_size=5))
def test_index_matches_like_every_filter_checked_one_by_one(ops, topics):
    index, subs = SubscriptionIndex(), {}
    for topic_filter, client, qos, keep in ops:
        if keep:
            index.add(topic_filter, client, qos)
            subs[(topic_filter, client)] = qos
        else:
            index.remove(topic_filter, client)
            subs.pop((topic_filter, client), None)
    for topic in topics:
        assert index.match(topic) == brute_force(subs, topic)


def test_hash_matches_the_parent_level_and_wildcards_skip_dollar_topics():
    index = SubscriptionIndex()
    index.add("sport/#", "fan", 1)
    index.add("#", "all", 0)
    index.add("+/info", "plus", 1)
    assert index.match("sport") == {"fan": 1, "all": 0}
    assert index.match("$SYS/info") == {}
    assert index.match("x/info") == {"all": 0, "plus": 1}
