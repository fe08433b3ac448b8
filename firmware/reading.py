# The reading a node publishes, and its wire encoding (the contract in DESIGN.md).
#
# {"node": "node-1", "seq": 42, "ts": 1700000000, "temperature": 21.5,
#  "humidity": 40.2, "wifi_rssi": -61}
# Values are held in tenths; the JSON is built in a fixed key order so the bytes
# are the same on MicroPython (unordered dicts) and CPython. ts 0 means the
# node's clock was not set yet: the bridge timestamps such readings on arrival.

import json

from firmware.dht22 import tenths


def make_reading(node, seq, ts, temperature10, humidity10, rssi):
    return {"node": node, "seq": seq, "ts": int(ts), "t10": int(temperature10),
            "h10": int(humidity10), "wifi_rssi": int(rssi)}


def encode_reading(r):
    # The reading as JSON text (str).
    return ('{"node": ' + json.dumps(r["node"]) + ', "seq": ' + str(r["seq"]) + ', "ts": ' + str(r["ts"])
            + ', "temperature": ' + tenths(r["t10"]) + ', "humidity": ' + tenths(r["h10"])
            + ', "wifi_rssi": ' + str(r["wifi_rssi"]) + "}")
