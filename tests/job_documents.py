"""Hypothesis strategies for job documents the device and the cloud must refuse (shared by several tests)."""

from __future__ import annotations

from hypothesis import strategies as st

from system.decisions.jobs_protocol import OPERATIONS

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
    if kind == "flag":  # true or false only
        return st.one_of(st.integers(), st.floats(), st.none(), st.text(max_size=5), st.lists(st.booleans(), max_size=2))
    if kind == "number":
        return st.one_of(st.text(max_size=10), st.booleans(), st.none(), st.lists(st.integers(), max_size=2),
                         st.just(float("nan")), st.just(float("inf")))
    return st.one_of(st.integers(), st.floats(), st.booleans(), st.none(), st.lists(st.text(), max_size=2),
                     st.just(""), st.just("   "), st.just("a\nb"), st.text(min_size=201, max_size=210))


@st.composite
def missing_field(draw):
    op = draw(st.sampled_from(sorted(VALID)))
    required = [name for name, (_, req) in OPERATIONS[op].items() if req]
    doc = dict(VALID[op])
    del doc[draw(st.sampled_from(required))]
    return doc


@st.composite
def wrong_type(draw):
    op = draw(st.sampled_from(sorted(VALID)))
    field = draw(st.sampled_from(sorted(OPERATIONS[op])))
    doc = dict(VALID[op])
    doc[field] = draw(_wrong_type(OPERATIONS[op][field][0]))
    return doc


@st.composite
def unknown_field(draw):
    op = draw(st.sampled_from(sorted(VALID)))
    name = draw(st.text(min_size=1, max_size=12).filter(lambda n: n not in OPERATIONS[op] and n != "operation"))
    return {**VALID[op], name: draw(json_values)}


unknown_operation = st.builds(lambda op, rest: {**rest, "operation": op},
                              st.one_of(st.text(max_size=20), json_scalars).filter(lambda o: o not in OPERATIONS),
                              st.dictionaries(st.text(max_size=8), json_values, max_size=3))
not_an_object = st.one_of(json_scalars, st.lists(json_values, max_size=3))

malformed_documents = st.one_of(missing_field(), wrong_type(), unknown_field(), unknown_operation, not_an_object)
