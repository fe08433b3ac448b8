"""No 500s from input: every endpoint of the cloud app gets at least 10,000 Hypothesis-made bodies (and query
strings), in process, with valid credentials so the bodies reach the validators. No answer is a 500, and a
refused body (any 4xx but a sync's 409, which keeps the changes before a gap) changes nothing in the store.

The app is called as a plain ASGI callable (no HTTP client in between) so 10,000 bodies per endpoint fit in
the test's time.
"""

from __future__ import annotations

import asyncio
import json
import re
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cloud_fixtures import logged_in, make_cloud

pytestmark = pytest.mark.slow

EXAMPLES = 10_000

# Every route of the app with its method (the openapi list and the pages), written out here.
ENDPOINTS = [
    ("POST", "/login"), ("POST", "/logout"), ("GET", "/login"), ("GET", "/"), ("GET", "/healthz"),
    ("GET", "/api/me"), ("GET", "/api/devices"), ("GET", "/api/devices/pi/events"),
    ("GET", "/api/devices/pi/jobs"), ("POST", "/api/devices/pi/jobs"), ("POST", "/api/devices/pi/jobs/pi-1/cancel"),
    ("GET", "/api/devices/pi/metrics"), ("GET", "/api/devices/pi/alarm"), ("GET", "/api/devices/pi/status"),
    ("GET", "/api/devices/pi/logs"), ("GET", "/api/devices/pi/mirror"),
    ("POST", "/api/device/pi/sync"), ("POST", "/api/device/pi/snapshot"), ("POST", "/api/device/pi/metrics"),
    ("POST", "/api/device/pi/logs"), ("GET", "/api/device/pi/jobs"),
]

scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-2 ** 70, max_value=2 ** 70),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20),
                    st.sampled_from(["\udc80", "a\x00b", "#", "+/#", "../", "' OR 1=1 --", "snoozeAlert",
                                     "createEvent", "updateApplication"]))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                      max_leaves=12)
# Bodies shaped like the real ones, with every field free to be anything.
KEYS = ["base", "last", "changes", "id", "table", "key", "payload", "upto", "rows", "lines", "dropped", "at", "kind",
        "line", "operation", "local_alert_id", "event_title", "title", "start", "duration", "before", "event_key",
        "version", "url", "sha256", "csrf", "username", "password"]
shaped = st.dictionaries(st.sampled_from(KEYS), values, max_size=6)


def _encode(value, style: str) -> bytes:
    text = json.dumps(value) if style == "json" else urlencode(value if isinstance(value, dict) else {"x": value},
                                                               errors="surrogatepass")
    return text.encode("utf-8", "surrogatepass")


# Good bodies, each maybe with one field replaced by anything: most pass, the rest fail one check at a time.
GOOD = [{"base": 0, "last": 0, "changes": []}, {"upto": 0, "rows": {}}, {"lines": [], "dropped": 0},
        {"base": 0, "last": 1, "changes": [{"id": 1, "table": "events", "key": "k", "payload": {"title": "t"}}]},
        {"upto": 1, "rows": {"events": {"k": {"title": "t"}}}},
        {"lines": [{"at": 1.0, "kind": "job.succeeded", "line": "ok"}], "dropped": 2},
        {"operation": "snoozeAlert", "local_alert_id": "k/policy/3600", "event_title": "t"}]
nearly_good = st.builds(lambda doc, key, value, replace: {**doc, key: value} if replace else doc,
                        st.sampled_from(GOOD), st.sampled_from(KEYS), values, st.booleans())
metric_texts = st.builds(lambda name, value: f"{name} {value!r}\n".encode(),
                         st.sampled_from(["RPI_BACKEND_STATUS", "events_added_total", "alerts_started_total"]),
                         st.floats(min_value=-1e6, max_value=1e6))
# Lines that look like the Prometheus text format: a name, maybe labels, maybe a value.
EXPOSITION_LINES = st.from_regex(r"[A-Za-z_]{1,12}(\{[a-z]+=\"[^\"]{0,5}\"\})? ?[-+0-9.eEinfNa]{0,8}", fullmatch=True)
bodies = st.one_of(
    st.binary(max_size=120),
    st.builds(_encode, values, st.sampled_from(["json", "form"])),
    st.builds(_encode, shaped, st.sampled_from(["json", "json", "form"])),
    st.builds(_encode, nearly_good, st.just("json")),
    metric_texts,
    st.builds(lambda n, open_, close: (open_ * n + close * n).encode(), st.integers(0, 3000),
              st.sampled_from(["[", '{"a":']), st.sampled_from(["]", "}"])),
    st.builds(lambda lines: "\n".join(lines).encode("utf-8", "surrogatepass"), st.lists(EXPOSITION_LINES, max_size=4)),
)
queries = st.one_of(st.just(""), st.dictionaries(st.sampled_from(["since", "until", "after", "kind", "error"]),
                                                 st.text(max_size=12), max_size=3).map(urlencode))


class Caller:
    """The app as an ASGI callable on one loop, with the user's cookie and CSRF token and the device's token."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.cloud = make_cloud(self.loop)
        client, self.csrf = self.cloud.run(logged_in(self.cloud))
        self.cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
        self.token = self.cloud.tokens["pi"]

    def call(self, method: str, path: str, query: str, body: bytes, content_type: str) -> int:
        headers = [(b"cookie", self.cookie.encode()), (b"x-csrf-token", self.csrf.encode()),
                   (b"authorization", f"Bearer {self.token}".encode()), (b"content-type", content_type.encode()),
                   (b"content-length", str(len(body)).encode()), (b"host", b"cloud")]
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
                 "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": query.encode(),
                 "root_path": "", "headers": headers, "client": ("10.0.0.9", 1234), "server": ("cloud", 80)}
        sent = [{"type": "http.request", "body": body, "more_body": False}]
        status = []

        async def receive():
            return sent.pop() if sent else {"type": "http.disconnect"}

        async def send(message):
            if message["type"] == "http.response.start":
                status.append(message["status"])
        self.loop.run_until_complete(self.cloud.app(scope, receive, send))
        return status[0]


@pytest.fixture(scope="module")
def caller():
    caller = Caller()
    yield caller
    caller.loop.close()


def test_no_body_gets_a_500_and_a_refused_one_changes_nothing(caller):
    # Each body goes to every endpoint: 10,000 bodies each, for the cost of generating 10,000.
    seen: dict[tuple[str, str], dict[int, int]] = {endpoint: {} for endpoint in ENDPOINTS}

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(body=bodies, query=queries,
           content_type=st.sampled_from(["application/json", "application/x-www-form-urlencoded", "text/plain"]))
    def fuzz(body, query, content_type):
        for method, path in ENDPOINTS:
            before = caller.cloud.store.db.total_changes
            status = caller.call(method, path, query, body, content_type)
            counts = seen[(method, path)]
            counts[status] = counts.get(status, 0) + 1
            assert status < 500, (method, path, body[:200], status)
            if 400 <= status < 500 and status != 409:  # a 409 (resync) keeps the changes before a gap, by design
                assert caller.cloud.store.db.total_changes == before, (method, path, body[:200], status)
    fuzz()
    for (method, path), counts in seen.items():
        assert sum(counts.values()) >= EXAMPLES, (method, path, counts)
        if method == "POST" and re.match(r"/api/device/pi/(sync|snapshot|logs|metrics)$", path):
            assert 400 in counts and 200 in counts, (path, counts)  # the bodies reached the validators and past them
        if (method, path) == ("POST", "/api/devices/pi/jobs"):
            assert 400 in counts, counts
