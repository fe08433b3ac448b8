"""The ACL module (system/decisions/mqtt_acl.py): Mosquitto's acl_file format and its decisions.

Topic matching is judged by paho-mqtt's own matcher (``topic_matches_sub``), and filter
coverage by brute force over every topic of a small alphabet, both independent of
the code under test; the format and the decision rules by tables written from Mosquitto's
documentation and checked by hand against Mosquitto 2.0.
"""

from __future__ import annotations

import itertools
import subprocess
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paho.mqtt.client import topic_matches_sub

from system.decisions.mqtt_acl import AclRule, filter_covers, parse_acl, topic_matches, valid_filter
from system.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
LEVELS = ["a", "b", ""]
topic_levels = st.lists(st.sampled_from(LEVELS), min_size=1, max_size=4)


@st.composite
def topics(draw) -> str:
    levels = draw(topic_levels)
    if draw(st.booleans()) and draw(st.booleans()):
        levels[0] = "$s"
    return "/".join(levels)


@st.composite
def filters(draw) -> str:
    levels = [draw(st.sampled_from(LEVELS + ["+"])) for _ in range(draw(st.integers(1, 4)))]
    if draw(st.booleans()):
        levels[-1] = "#"
    if draw(st.integers(0, 3)) == 0:
        levels[0] = "$s"
    return "/".join(levels)


def _all_topics(depth: int) -> list[str]:
    out = []
    for n in range(1, depth + 1):
        for levels in itertools.product(LEVELS + ["c"], repeat=n):
            out.append("/".join(levels))
            out.append("/".join(("$s",) + levels[1:]))
    return out


TOPICS_5 = _all_topics(5)


@settings(max_examples=400, deadline=None)
@given(filters(), topics())
def test_topic_matching_agrees_with_paho(topic_filter, topic):
    assert topic_matches(topic_filter, topic) == topic_matches_sub(topic_filter, topic)


@settings(max_examples=200, deadline=None)
@given(filters(), filters())
def test_a_filter_covers_another_exactly_when_it_matches_every_topic_the_other_matches(wide, narrow):
    expected = all(topic_matches_sub(wide, t) for t in TOPICS_5 if topic_matches_sub(narrow, t))
    assert filter_covers(wide, narrow) == expected


@pytest.mark.parametrize("topic_filter, valid", [
    ("sensors/#", True), ("#", True), ("+/+", True), ("a/+/b", True), ("/", True),
    ("a/#/b", False), ("a#", False), ("a/b+", False), ("", False), ("##", False)])
def test_valid_filters(topic_filter, valid):
    assert valid_filter(topic_filter) == valid


def test_the_format_users_topics_patterns_comments_and_default_access():
    policy = parse_acl(
        "# a comment\n"
        "\n"
        "topic read public/#\n"
        "user bridge\n"
        "topic sensors/+/reading\n"
        "   # indented comment\n"
        "topic deny sensors/secret/reading\n"
        "user joe smith\n"
        "topic write a b/c\n"
        "pattern read things/%u/jobs/%c\n")
    assert policy.anonymous == (AclRule("read", "public/#", 3),)
    assert policy.users == {"bridge": (AclRule("readwrite", "sensors/+/reading", 5),
                                       AclRule("deny", "sensors/secret/reading", 7)),
                            "joe smith": (AclRule("write", "a b/c", 9),)}
    assert policy.patterns == (AclRule("read", "things/%u/jobs/%c", 10),)


@pytest.mark.parametrize("text, line, words", [
    ("user bridge\nsubscribe a/b\n", 2, "unknown keyword"),
    ("topic read\n", 1, "needs a topic"),
    ("topic\n", 1, "needs a topic"),
    ("pattern write a/#/b\n", 1, "not a valid topic filter"),
    ("user\n", 1, "needs a user name"),
])
def test_lines_mosquitto_refuses_are_config_errors_with_their_line(text, line, words):
    with pytest.raises(ConfigError) as caught:
        parse_acl(text, "acl")
    assert caught.value.line == line and words in str(caught.value)


POLICY_TEXT = """
topic read public/#
user bridge
topic read sensors/+/reading
topic deny sensors/node-9/reading
user ops
topic readwrite ops/#
topic read sensors/#
pattern readwrite sensors/%u/#
pattern deny sensors/+/secret
pattern read things/%c/jobs/#
pattern write $aws/things/%u/jobs/start-next
"""
POLICY = parse_acl(POLICY_TEXT)


@pytest.mark.parametrize("user, client, action, topic, allowed", [
    # a user's own rules: deny rules first, whatever their place in the file
    ("bridge", "bridge", "read", "sensors/node-1/reading", True),
    ("bridge", "bridge", "read", "sensors/node-9/reading", False),
    ("bridge", "bridge", "write", "sensors/node-1/reading", False),
    # patterns, %u and %c substituted
    ("node-1", "node-1", "write", "sensors/node-1/reading", True),
    ("node-1", "node-1", "read", "sensors/node-1/status", True),
    ("node-1", "node-1", "write", "sensors/node-2/reading", False),
    ("node-1", "node-1", "write", "sensors/node-1/secret", False),
    ("node-1", "node-1-x", "read", "things/node-1-x/jobs/notify-next", True),
    ("node-1", "node-1-x", "read", "things/node-1/jobs/notify-next", False),
    # a user's own rule that allows decides before a pattern that denies
    ("ops", "ops", "read", "sensors/x/secret", True),
    # $ topics only through rules that start with $
    ("ops", "ops", "write", "$aws/things/ops/jobs/start-next", True),
    ("ops", "ops", "read", "$SYS/broker/uptime", False),
    # anonymous clients get the rules before the first user line, and no %u pattern
    (None, "anon", "read", "public/news", True),
    (None, "anon", "write", "public/news", False),
    (None, "anon", "read", "things/anon/jobs/x", True),
    ("node-1", "node-1", "read", "public/news", False),
    # a name with a wildcard or a slash widens no pattern
    ("+", "x", "write", "sensors/a/reading", False),
    ("a/b", "x", "write", "sensors/a/b/reading", False),
    ("#", "x", "write", "sensors/anything", False),
])
def test_decisions(user, client, action, topic, allowed):
    access = POLICY.access_for(user, client)
    decide = access.may_publish if action == "write" else access.may_read
    assert decide(topic) == allowed


@pytest.mark.parametrize("user, topic_filter, granted", [
    ("bridge", "sensors/+/reading", True),
    ("bridge", "sensors/node-1/reading", True),
    ("bridge", "sensors/#", False),              # wider than what it may read
    ("bridge", "#", False),
    ("bridge", "sensors/node-9/reading", False),  # all of it denied
    ("ops", "sensors/#", True),
    ("node-1", "sensors/node-1/#", True),        # granted; its deny rule holds message by message
    ("node-1", "sensors/+/reading", False),
    ("node-1", "sensors/node-1/secret", False),
    ("node-1", "#", False),
])
def test_a_subscription_is_granted_only_if_a_read_rule_covers_it(user, topic_filter, granted):
    assert POLICY.access_for(user, user).may_subscribe(topic_filter) == granted


# The shipped policy, written out by hand from what each party's code does.
SHIPPED = [
    ("node-1", "write", "sensors/node-1/reading", True),
    ("node-1", "write", "sensors/node-1/status", True),
    ("node-1", "write", "sensors/node-2/reading", False),
    ("node-1", "read", "sensors/node-2/reading", False),
    ("node-1", "write", "/topic/qos1", False),
    ("pi", "write", "hil/things/pi/jobs/start-next", True),
    ("pi", "write", "hil/things/pi/jobs/job-7/update", True),
    ("pi", "write", "$aws/things/pi/jobs/job-7/update", True),
    ("pi", "read", "hil/things/pi/jobs/notify-next", True),
    ("pi", "read", "hil/things/pi/jobs/start-next/accepted", True),
    ("pi", "read", "hil/things/pi/jobs/job-7/update/rejected", True),
    ("pi", "write", "hil/things/pi/jobs/notify-next", False),       # only the cloud announces jobs
    ("pi", "write", "hil/things/pi/jobs/start-next/accepted", False),
    ("mallory", "write", "hil/things/pi/jobs/start-next", False),
    ("mallory", "read", "hil/things/pi/jobs/notify-next", False),
    ("bridge", "read", "sensors/node-1/reading", True),
    ("bridge", "read", "/topic/qos1", True),
    ("bridge", "read", "hil/things/pi/jobs/notify-next", False),
    ("bridge", "write", "sensors/node-1/reading", False),
    ("cloud", "read", "hil/things/pi/jobs/start-next", True),
    ("cloud", "read", "$aws/things/pi/jobs/job-7/update", True),
    ("cloud", "write", "hil/things/pi/jobs/notify-next", True),
    ("cloud", "write", "hil/things/pi/jobs/job-7/update/accepted", True),
    ("cloud", "read", "sensors/node-1/reading", False),
    ("cloud", "write", "hil/things/pi/jobs/start-next", False),
    ("bridge", "write", "hilsim/probe/bridge", True),  # its own probe (client id = account here)
    ("bridge", "read", "hilsim/probe/bridge", True),
    ("node-1", "write", "hilsim/probe/bridge", False),  # nobody speaks on another client's probe
]


@pytest.mark.parametrize("user, action, topic, allowed", SHIPPED)
def test_the_shipped_policy(user, action, topic, allowed):
    policy = parse_acl((ROOT / "deploy" / "mosquitto" / "acl").read_text(), "deploy/mosquitto/acl")
    access = policy.access_for(user, user)
    assert (access.may_publish(topic) if action == "write" else access.may_read(topic)) == allowed


@pytest.mark.parametrize("user, topic_filter", [
    ("bridge", "sensors/+/reading"), ("bridge", "/topic/qos1"),
    ("cloud", "hil/things/+/jobs/start-next"), ("cloud", "hil/things/+/jobs/+/update"),
    ("pi", "hil/things/pi/jobs/notify-next"), ("pi", "hil/things/pi/jobs/start-next/accepted"),
    ("pi", "hil/things/pi/jobs/start-next/rejected"), ("pi", "hil/things/pi/jobs/+/update/+")])
def test_the_shipped_policy_grants_what_hilsims_own_clients_subscribe_to(user, topic_filter):
    """The bridge's and the Jobs services' subscriptions (system/services/bridge.py, job_agent.py, jobs_api.py)."""
    policy = parse_acl((ROOT / "deploy" / "mosquitto" / "acl").read_text())
    assert policy.access_for(user, user).may_subscribe(topic_filter)


# --- the decision table, judged by Mosquitto itself -------------------------------------------------------------

MOSQUITTO_ROWS = [
    ("bridge", "bridge", "read", "sensors/node-1/reading", True),
    ("bridge", "bridge", "read", "sensors/node-9/reading", False),
    ("bridge", "bridge", "write", "sensors/node-1/reading", False),
    ("node-1", "node-1", "write", "sensors/node-1/reading", True),
    ("node-1", "node-1", "read", "sensors/node-1/status", True),
    ("node-1", "node-1", "write", "sensors/node-2/reading", False),
    ("node-1", "node-1", "write", "sensors/node-1/secret", False),
    ("node-1", "node-1-x", "read", "things/node-1-x/jobs/notify-next", True),
    ("node-1", "node-1-x", "read", "things/node-1/jobs/notify-next", False),
    ("ops", "ops", "read", "sensors/x/secret", True),
    ("ops", "ops", "write", "$aws/things/ops/jobs/start-next", True),
    ("node-1", "node-1", "read", "public/news", False),
]


@pytest.mark.live
def test_mosquitto_decides_the_table_as_written(tmp_path):
    """Each row of the decision table, done on a real Mosquitto 2.0 with POLICY as its acl_file: a write is
    seen (or not) by a watcher allowed to read everything, a read is received (or not) by the client."""
    import getpass
    import os
    import shutil
    import threading

    import paho.mqtt.client as paho

    from processes import MOSQUITTO, free_port, start_server, stop_server

    if not os.access(MOSQUITTO, os.X_OK) or not shutil.which("mosquitto_passwd"):
        pytest.skip("Debian package mosquitto not installed")
    passwd, acl, conf, port = tmp_path / "passwd", tmp_path / "acl", tmp_path / "m.conf", free_port()
    passwd.touch()
    for user in ("bridge", "node-1", "ops", "watch"):
        subprocess.run(["mosquitto_passwd", "-b", str(passwd), user, "pw"], check=True, timeout=30)
    acl.write_text(POLICY_TEXT + "user watch\ntopic readwrite #\ntopic readwrite $aws/#\npattern read marker/#\n")
    conf.write_text(f"user {getpass.getuser()}\nlistener {port} 127.0.0.1\nallow_anonymous false\n"
                    f"password_file {passwd}\nacl_file {acl}\npersistence false\n")
    proc = start_server([MOSQUITTO, "-c", str(conf)], port)

    def client(user: str, client_id: str):
        got, cond, up = [], threading.Condition(), threading.Event()
        c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv311)
        c.username_pw_set(user, "pw")
        c.on_connect = lambda *a: up.set()

        def on_message(_c, _u, message):
            with cond:
                got.append(message.topic)
                cond.notify_all()

        c.on_message = on_message
        c.on_subscribe = lambda _c, _u, mid, *a: acked.add((id(_c), mid))
        c.connect("127.0.0.1", port)
        c.loop_start()
        assert up.wait(30)
        return c, got, cond

    acked: set[tuple[int, int]] = set()  # (client, message id)

    def subscribe(c, topics) -> None:
        mid = c.subscribe(topics, 1)[1] if isinstance(topics, str) else c.subscribe(topics)[1]
        deadline = time.monotonic() + 30
        while (id(c), mid) not in acked:  # the SUBACK comes on paho's thread
            assert time.monotonic() < deadline, "no SUBACK"
            time.sleep(0.005)

    def sync(c, got, cond, marker: str) -> None:
        subscribe(c, marker)
        watch.publish(marker, b"m", qos=1).wait_for_publish(30)  # after whatever was published before it
        with cond:
            assert cond.wait_for(lambda: marker in got, 30)

    try:
        watch, watched, watch_cond = client("watch", "watch")
        subscribe(watch, [("#", 1), ("$aws/#", 1)])
        outcomes = []
        for number, (user, client_id, action, topic, _) in enumerate(MOSQUITTO_ROWS):
            actor, got, cond = client(user, client_id)
            if action == "write":
                actor.publish(topic, b"x", qos=1).wait_for_publish(30)
                sync(watch, watched, watch_cond, f"marker/{number}")
                outcomes.append(topic in watched)
            else:
                subscribe(actor, topic)
                watch.publish(topic, b"x", qos=1).wait_for_publish(30)
                sync(actor, got, cond, f"marker/{number}")
                outcomes.append(topic in got)
            watched.clear()
            actor.disconnect()
            actor.loop_stop()
        watch.disconnect()
        watch.loop_stop()
    finally:
        stop_server(proc)
    assert outcomes == [row[4] for row in MOSQUITTO_ROWS]


def test_the_broker_ships_the_same_policy_mosquitto_reads():
    """``hilsim broker`` (and the wall-clock run's broker) load the ACL from the wheel; operators point
    Mosquitto at deploy/mosquitto/acl. One policy: the two files are the same text."""
    from system.adapters.amqtt_broker import DEFAULT_ACL_FILE

    assert DEFAULT_ACL_FILE.read_text() == (ROOT / "deploy" / "mosquitto" / "acl").read_text()
