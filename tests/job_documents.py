"""Job documents for tests: each operation's fields written out by hand, valid examples, and Hypothesis
strategies for documents the device and the cloud must refuse (shared by several tests).

The field tables are this suite's own copy of the protocol (``system/decisions/jobs_protocol.py``), never
read from it, so a field the implementation stops requiring, or a type it stops checking, fails a test.
"""

from __future__ import annotations

from hypothesis import strategies as st

NUMBER, TEXT, FLAG = "number", "text", "flag"
# operation -> the fields it must have, with their types
REQUIRED_FIELDS = {
    "snoozeAlert": {"local_alert_id": TEXT},
    "updateAlert": {"local_alert_id": TEXT},
    "createEvent": {"title": TEXT, "start": NUMBER},
    "createAlert": {"event_key": TEXT, "before": NUMBER},
    "updateApplication": {"version": TEXT, "url": TEXT, "sha256": TEXT},
}
# operation -> the fields it may have, with their types
OPTIONAL_FIELDS = {
    "snoozeAlert": {"until": NUMBER, "for_seconds": NUMBER, "event_title": TEXT},
    "updateAlert": {"before": NUMBER, "duration": NUMBER, "event_title": TEXT},
    "createEvent": {"kind": TEXT},
    "createAlert": {"duration": NUMBER, "event_title": TEXT},
    "updateApplication": {"signature": TEXT, "allow_downgrade": FLAG},
}
FIELDS = {op: {**REQUIRED_FIELDS[op], **OPTIONAL_FIELDS[op]} for op in REQUIRED_FIELDS}

VALID = {
    "snoozeAlert": {"operation": "snoozeAlert", "local_alert_id": "g1/policy/14400"},
    "updateAlert": {"operation": "updateAlert", "local_alert_id": "g1/extra/3600", "duration": 300},
    "createEvent": {"operation": "createEvent", "title": "Concert", "start": 1_800_000_000},
    "createAlert": {"operation": "createAlert", "event_key": "g1", "before": 3600},
    "updateApplication": {"operation": "updateApplication", "version": "1.2.3", "url": "https://example.org/a.whl",
                          "sha256": "0" * 64},
}
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=20))
json_values = st.recursive(json_scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                                 st.dictionaries(st.text(max_size=8), inner, max_size=3)),
                           max_leaves=8)


def _wrong_type(kind: str):
    if kind == FLAG:  # true or false only
        return st.one_of(st.integers(), st.floats(), st.none(), st.text(max_size=5), st.lists(st.booleans(), max_size=2))
    if kind == NUMBER:
        return st.one_of(st.text(max_size=10), st.booleans(), st.none(), st.lists(st.integers(), max_size=2),
                         st.just(float("nan")), st.just(float("inf")))
    return st.one_of(st.integers(), st.floats(), st.booleans(), st.none(), st.lists(st.text(), max_size=2),
                     st.just(""), st.just("   "), st.just("a\nb"), st.text(min_size=201, max_size=210))


@st.composite
def missing_field(draw):
    op = draw(st.sampled_from(sorted(VALID)))
    doc = dict(VALID[op])
    del doc[draw(st.sampled_from(sorted(REQUIRED_FIELDS[op])))]
    return doc


@st.composite
def wrong_type(draw):
    op = draw(st.sampled_from(sorted(VALID)))
    field = draw(st.sampled_from(sorted(FIELDS[op])))
    doc = dict(VALID[op])
    doc[field] = draw(_wrong_type(FIELDS[op][field]))
    return doc


@st.composite
def unknown_field(draw):
    op = draw(st.sampled_from(sorted(VALID)))
    name = draw(st.text(min_size=1, max_size=12).filter(lambda n: n not in FIELDS[op] and n != "operation"))
    return {**VALID[op], name: draw(json_values)}


unknown_operation = st.builds(lambda op, rest: {**rest, "operation": op},
                              st.one_of(st.text(max_size=20), json_scalars).filter(lambda o: o not in FIELDS),
                              st.dictionaries(st.text(max_size=8), json_values, max_size=3))
not_an_object = st.one_of(json_scalars, st.lists(json_values, max_size=3))

malformed_documents = st.one_of(missing_field(), wrong_type(), unknown_field(), unknown_operation, not_an_object)
