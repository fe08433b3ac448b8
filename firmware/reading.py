# The reading a node publishes, and its wire encoding (the contract in DESIGN.md).
#
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


def make_reading(node, boot, seq, ts, temperature10, humidity10, rssi):
    return {"node": node, "boot": boot, "seq": seq, "ts": int(ts), "t10": int(temperature10),
            "h10": int(humidity10), "wifi_rssi": int(rssi)}


def encode_reading(r):
    # The reading as JSON text (str).
    return ('{"node": ' + json.dumps(r["node"]) + ', "boot": ' + str(r["boot"]) + ', "seq": ' + str(r["seq"])
            + ', "ts": ' + str(r["ts"])
            + ', "temperature": ' + tenths(r["t10"]) + ', "humidity": ' + tenths(r["h10"])
            + ', "wifi_rssi": ' + str(r["wifi_rssi"]) + "}")
