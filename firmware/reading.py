# The reading a node publishes: where (its MQTT topics) and its wire encoding (the contract
# in DESIGN.md). The node, the board, the bridge and the reading decoder all take them from here.
#
# Topics: a node publishes each reading on sensors/<node>/reading (QoS 1), and its
# liveness, retained, on sensors/<node>/status: "online" once connected, "offline" as
# the last will the broker publishes for it. The bridge subscribes to every node's
# readings and to the original project's /topic/qos1, whose payload names no node.
# A node id (valid_node) is checked by the board's config and by the bridge alike.
#
# Payload:
# {"node": "node-1", "boot": 3, "seq": 42, "ts": 1700000000, "temperature": 21.5,
#  "humidity": 40.2, "wifi_rssi": -61}
# Values are held in tenths; the JSON is built in a fixed key order so the bytes
# are the same on MicroPython (unordered dicts) and CPython. ts 0 means the
# node's clock was not set yet: the bridge timestamps such readings on arrival.
#
# Identity: (node, boot, seq). seq counts 1, 2, ... from each boot; boot is the boot
# counter kept on the board's flash (firmware/boot_count.py), so a reboot starts a new
# series instead of repeating seqs the bridge already stored. A counter and not a random
# id per boot, because it orders the boots: the bridge counts boots seen and sequence
# gaps per boot, and a reading of boot 3 is known to come after boot 2. A random id
# would save the one small flash write per boot, but it says nothing about order and
# two boots could draw the same id. A board whose count cannot be read starts again at 1.

import json

from firmware.dht22 import tenths

NODE_MAX = 64  # characters in a node id
_NODE_FIRST = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_NODE_REST = _NODE_FIRST + "_.:-"

ONLINE = b"online"
OFFLINE = b"offline"
LEGACY_TOPIC = "/topic/qos1"
BRIDGE_FILTERS = ("sensors/+/reading", LEGACY_TOPIC)


def valid_node(node):
    # A node id: 1 to NODE_MAX of A-Z a-z 0-9 _ . : -, starting with a letter or digit. It is a topic
    # level, a client id, a Prometheus label and a log field, so it holds nothing any of them must escape.
    if not isinstance(node, str) or not 0 < len(node) <= NODE_MAX or node[0] not in _NODE_FIRST:
        return False
    return all(c in _NODE_REST for c in node)


def reading_topic(node):
    return "sensors/" + node + "/reading"


def status_topic(node):
    return "sensors/" + node + "/status"


def last_will(node):
    # (topic, payload, qos, retain): the broker marks the node offline when it goes without a goodbye
    return (status_topic(node), OFFLINE, 1, True)


def reading_topic_node(topic):
    # The node a reading topic names; None when the topic is not sensors/<node>/reading.
    parts = topic.split("/")
    if len(parts) != 3 or parts[0] != "sensors" or parts[2] != "reading" or not parts[1]:
        return None
    return parts[1]


def make_reading(node, boot, seq, ts, temperature10, humidity10, rssi):
    return {"node": node, "boot": boot, "seq": seq, "ts": int(ts), "t10": int(temperature10),
            "h10": int(humidity10), "wifi_rssi": int(rssi)}


def encode_reading(r):
    # The reading as JSON text (str).
    return ('{"node": ' + json.dumps(r["node"]) + ', "boot": ' + str(r["boot"]) + ', "seq": ' + str(r["seq"])
            + ', "ts": ' + str(r["ts"])
            + ', "temperature": ' + tenths(r["t10"]) + ', "humidity": ' + tenths(r["h10"])
            + ', "wifi_rssi": ' + str(r["wifi_rssi"]) + "}")
