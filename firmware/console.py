# The serial console protocol: JSON lines, shared by the firmware and the HIL harness.
#
# Sans-I/O, in the manner of h11: ``LineDecoder.feed(bytes)`` buffers and returns the
# complete lines it could decode; ``encode(msg)`` returns the bytes to write. Nothing here
# reads or writes a port, so the board (MicroPython) and the harness (CPython) run the
# same code, and tests drive it with plain bytes. The protocol is documented in
# hil/PROTOCOL.md; the rules, in one place:
#
# - A line ends with "\n" ("\r\n" accepted). A message is a line holding one JSON object
#   whose ``key`` member ("msg" from the board, "cmd" to the board) is a string.
# - Any other line is either text (printable: banners, tracebacks, prints) returned as
#   ("text", str), or skipped and counted by reason:
#     garbage   bytes that are not printable UTF-8 (binary noise, a baud-rate mismatch)
#     malformed starts with "{" but is not a message (a partial line glued to the next)
#     overlong  longer than ``max_line`` bytes (the rest up to the next newline is dropped)
# - Blank lines are ignored. Nothing a peer sends ever raises out of ``feed``.

import json

MAX_LINE = 1024
REASONS = ("garbage", "malformed", "overlong")

# Commands the board accepts: name -> {argument: type}. "for" is seconds.
COMMANDS = {
    "state": {},
    "interval": {"sample_every": "number"},
    "inject": {"sensor": "str", "for": "number"},
    "wifi_drop": {"for": "number"},
    "reboot": {},
}
SENSOR_FAULTS = ("checksum", "no_response", "stuck", "ok")


class LineDecoder:
    # Bytes in, decoded lines out; ``skipped`` counts refused lines by reason.

    def __init__(self, key="msg", max_line=MAX_LINE):
        self.key = key
        self.max_line = max_line
        self.skipped = {"garbage": 0, "malformed": 0, "overlong": 0}
        self.lines = 0  # complete lines seen, refused ones included
        self._buf = bytearray()
        self._discarding = False  # inside an overlong line, until its newline

    def feed(self, data):
        # -> list of ("message", dict) and ("text", str), in arrival order.
        out = []
        self._buf.extend(data)
        while True:
            end = self._buf.find(b"\n")
            if end < 0:
                if len(self._buf) > self.max_line:
                    if not self._discarding:
                        self._skip("overlong")
                        self._discarding = True
                    self._buf = bytearray()
                return out
            line = bytes(self._buf[:end])
            self._buf = self._buf[end + 1:]
            self.lines += 1
            if self._discarding:
                self._discarding = False
                continue
            if len(line) > self.max_line:
                self._skip("overlong")
                continue
            event = self.decode_line(line)
            if event is not None:
                out.append(event)

    def pending(self):
        # Bytes of an unfinished line (for a log at close).
        return bytes(self._buf)

    def decode_line(self, line):
        # One line without its newline -> ("message", dict), ("text", str) or None (skipped/blank).
        if line.endswith(b"\r"):
            line = line[:-1]
        if not line.strip():
            return None
        try:
            text = line.decode("utf-8")
        except UnicodeError:
            return self._skip("garbage")
        for ch in text:
            if ch < " " and ch != "\t":
                return self._skip("garbage")
        if text[0] != "{":
            return ("text", text)
        try:
            msg = json.loads(text)
        except ValueError:
            return self._skip("malformed")
        if not isinstance(msg, dict) or not isinstance(msg.get(self.key), str):
            return self._skip("malformed")
        return ("message", msg)

    def _skip(self, reason):
        self.skipped[reason] += 1
        return None


def encode(msg):
    # A message dict -> one line of bytes (compact JSON, newline-terminated).
    return (json.dumps(msg) + "\n").encode("utf-8")


def command(name, **args):
    # A command line for the board; refuses unknown names and arguments (ValueError).
    msg = {"cmd": name}
    for k in args:
        msg[k] = args[k]
    check_command(msg)
    return encode(msg)


def check_command(msg):
    # A decoded "cmd" message -> (name, args dict), or ValueError naming what is wrong.
    name = msg.get("cmd")
    spec = COMMANDS.get(name)
    if spec is None:
        raise ValueError("unknown command " + repr(name))
    args = {}
    for k in msg:
        if k == "cmd":
            continue
        kind = spec.get(k)
        if kind is None:
            raise ValueError("command " + name + " takes no argument " + repr(k))
        value = msg[k]
        if kind == "number" and (isinstance(value, bool) or not isinstance(value, (int, float))
                                 or value < 0):
            raise ValueError(name + ": " + k + " must be a number >= 0")
        if kind == "str" and not isinstance(value, str):
            raise ValueError(name + ": " + k + " must be a string")
        args[k] = value
    for k in spec:
        if k not in args:
            raise ValueError(name + ": missing " + k)
    if name == "interval" and args["sample_every"] <= 0:
        raise ValueError("interval: sample_every must be > 0")
    if name == "inject" and args["sensor"] not in SENSOR_FAULTS:
        raise ValueError("inject: sensor must be one of " + ", ".join(SENSOR_FAULTS))
    return name, args
