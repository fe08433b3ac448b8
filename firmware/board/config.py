# The node's config.json, checked before anything starts.
#
# {
#   "node": "node-1",                      node id: topics, readings, MQTT client id
#   "board": "esp32",                      esp32 (machine, dht, network) or sim (Unix port, CPython)
#   "wifi": {"ssid": "...", "password": "..."},          esp32 only
#   "broker": "mqtt://192.168.1.10:1883",  mqtts:// for TLS
#   "user": "node-1", "password": "...",   optional MQTT credentials
#   "tls": {"ca": "ca.pem", "cert": "node.pem", "key": "node.key"},  optional files on the board
#   "pins": {"dht": 4},
#   "sample_every": 10, "read_every": 4, "buffer_size": 256, "status_every": 60,
#   "web_port": 80,                        0: no web server
#   "ntp_host": "pool.ntp.org",
#   "watchdog": 30                         seconds without a feed before machine.WDT resets; 0: none
# }

import json

from firmware.reading import valid_node

DEFAULTS = {"board": "esp32", "wifi": None, "user": None, "password": None, "tls": None, "pins": {"dht": 4},
            "sample_every": 10, "read_every": 4, "buffer_size": 256, "status_every": 60, "web_port": 80,
            "ntp_host": "pool.ntp.org", "keepalive": 30, "sensor": None, "watchdog": 30}
NUMBERS = ("sample_every", "read_every", "status_every")


def parse_broker(url):
    # "mqtt://host:port" -> (host, port, tls); ValueError names what is wrong.
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in ("mqtt", "mqtts"):
        raise ValueError("broker: want mqtt://HOST:PORT or mqtts://HOST:PORT, got " + repr(url))
    rest = rest.rstrip("/")
    host, sep, port = rest.rpartition(":")
    if not sep:
        host, port = rest, ("8883" if scheme == "mqtts" else "1883")
    if not host:
        raise ValueError("broker: no host in " + repr(url))
    try:
        port = int(port)
    except ValueError:
        raise ValueError("broker: port must be a number in " + repr(url))
    return host, port, scheme == "mqtts"


def check_config(doc):
    # A decoded config.json -> the config with defaults filled in; ValueError("key: reason").
    if not isinstance(doc, dict):
        raise ValueError("config: must be a JSON object")
    known = set(DEFAULTS) | {"node", "broker"}
    for key in doc:
        if key not in known:
            raise ValueError(key + ": unknown key (known: " + ", ".join(sorted(known)) + ")")
    config = {}
    for key in DEFAULTS:
        config[key] = DEFAULTS[key]
    for key in doc:
        config[key] = doc[key]
    node = config.get("node")
    if not valid_node(node):
        raise ValueError("node: want a name such as node-1 (up to 64 of A-Z a-z 0-9 _ . : -)")
    if not isinstance(config.get("broker"), str):
        raise ValueError("broker: want mqtt://HOST:PORT")
    config["broker_host"], config["broker_port"], config["broker_tls"] = parse_broker(config["broker"])
    if config["board"] not in ("esp32", "sim"):
        raise ValueError("board: esp32 or sim")
    if config["board"] == "esp32":
        wifi = config["wifi"]
        if not isinstance(wifi, dict) or not isinstance(wifi.get("ssid"), str):
            raise ValueError("wifi: want {\"ssid\": ..., \"password\": ...} on an esp32")
    for key in NUMBERS:
        value = config[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise ValueError(key + ": want a number of seconds > 0")
    watchdog = config["watchdog"]
    if isinstance(watchdog, bool) or not isinstance(watchdog, (int, float)) or not (watchdog == 0 or watchdog >= 2):
        raise ValueError("watchdog: want seconds >= 2, or 0 for none")
    for key in ("buffer_size", "web_port", "keepalive"):
        value = config[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(key + ": want a whole number >= 0")
    return config


def load_config(path="config.json"):
    with open(path) as f:
        try:
            doc = json.load(f)
        except ValueError:
            raise ValueError(path + ": not valid JSON")
    return check_config(doc)
