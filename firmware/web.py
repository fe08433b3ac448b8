# The node's small web server: pure request -> response functions and a tiny loop.
#
# GET /dhtSensor.json -> {"temp": "21.5", "humidity": "40.2"} (the original's shape)
# GET /readings.json  -> {"node": ..., "readings": [...]} the last N readings, oldest first
# GET /               -> a page with a live chart of those readings (inline JS, no CDN)
# The loop talks to a HAL listener: ``await accept()`` -> conn with ``await read(n)``,
# ``await write(data)``, ``close()``. Anything a client sends is bounded and a bad
# request gets a 4xx, never an exception out of the loop.

from firmware.dht22 import tenths
from firmware.reading import encode_reading

MAX_REQUEST = 1024
REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
           503: "Service Unavailable"}
JSON = "application/json"
HTML = "text/html; charset=utf-8"


def parse_request(data):
    # Request bytes -> (method, path without query); ValueError for anything else.
    if not data or len(data) > MAX_REQUEST:
        raise ValueError("empty or oversized request")
    end = data.find(b"\r\n")
    line = data if end < 0 else data[:end]
    try:
        text = line.decode("ascii")
    except UnicodeError:
        raise ValueError("request line is not ASCII")
    parts = text.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/") or not parts[1].startswith("/"):
        raise ValueError("malformed request line")
    path = parts[1]
    q = path.find("?")
    if q >= 0:
        path = path[:q]
    return parts[0], path


def response(status, content_type, body):
    # (status, content type, body str/bytes) -> the HTTP/1.0 response bytes.
    if isinstance(body, str):
        body = body.encode("utf-8")
    head = ("HTTP/1.0 " + str(status) + " " + REASONS.get(status, "Error") + "\r\n"
            + "Content-Type: " + content_type + "\r\n"
            + "Content-Length: " + str(len(body)) + "\r\n"
            + "Cache-Control: no-store\r\nConnection: close\r\n\r\n")
    return head.encode("ascii") + body


def dht_json(latest):
    # The original endpoint's body for the last verified read (h10, t10), or None before any.
    if latest is None:
        return None
    return '{"temp": "' + tenths(latest[1]) + '", "humidity": "' + tenths(latest[0]) + '"}'


def readings_json(node, readings):
    return ('{"node": "' + node + '", "readings": ['
            + ", ".join([encode_reading(r) for r in readings]) + "]}")


def chart_page(node, every_ms):
    # A self-contained page: polls /readings.json and draws two polylines in an SVG.
    return PAGE.replace("$NODE", node).replace("$EVERY", str(int(every_ms)))


def route(method, path, node, latest, readings, every_ms=4000):
    # The pure handler: (method, path, node state) -> (status, content type, body).
    if method != "GET":
        return 405, JSON, '{"error": "only GET"}'
    if path == "/dhtSensor.json":
        body = dht_json(latest)
        if body is None:
            return 503, JSON, '{"error": "no verified reading yet"}'
        return 200, JSON, body
    if path == "/readings.json":
        return 200, JSON, readings_json(node, readings)
    if path == "/" or path == "/index.html":
        return 200, HTML, chart_page(node, every_ms)
    return 404, JSON, '{"error": "not found"}'


def handle(data, node, latest, readings, every_ms=4000):
    # Request bytes -> response bytes; a malformed request is a 400, never an exception.
    try:
        method, path = parse_request(data)
    except ValueError as exc:
        return response(400, JSON, '{"error": "' + str(exc) + '"}'), 400
    status, ctype, body = route(method, path, node, latest, readings, every_ms)
    return response(status, ctype, body), status


async def serve(listener, respond, on_error=None):
    # Accept connections forever; ``respond(request bytes) -> response bytes``.
    while True:
        conn = await listener.accept()
        try:
            data = await conn.read(MAX_REQUEST + 1)
            await conn.write(respond(data))
        except OSError as exc:
            if on_error is not None:
                on_error(exc)
        finally:
            conn.close()


PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>$NODE</title>
<style>body{font-family:sans-serif;margin:1em}svg{border:1px solid #ccc;width:100%;max-width:720px;height:260px}
.t{stroke:#c0392b}.h{stroke:#2471a3}polyline{fill:none;stroke-width:2}</style></head>
<body><h1>$NODE</h1>
<p><span id="now">waiting for readings</span></p>
<svg id="chart" viewBox="0 0 720 260" preserveAspectRatio="none">
<polyline class="t" id="temp" points=""/><polyline class="h" id="hum" points=""/></svg>
<p><span style="color:#c0392b">temperature &deg;C</span> &middot; <span style="color:#2471a3">humidity %</span></p>
<script>
function line(vals, lo, hi) {
  var n = vals.length, pts = [];
  for (var i = 0; i < n; i++) {
    var x = n > 1 ? i * 720 / (n - 1) : 0;
    var y = 250 - (vals[i] - lo) * 240 / (hi - lo || 1);
    pts.push(x.toFixed(1) + "," + y.toFixed(1));
  }
  return pts.join(" ");
}
function draw(doc) {
  var rs = doc.readings;
  if (!rs.length) return;
  var t = rs.map(function (r) { return r.temperature; });
  var h = rs.map(function (r) { return r.humidity; });
  document.getElementById("temp").setAttribute("points", line(t, Math.min.apply(null, t) - 1, Math.max.apply(null, t) + 1));
  document.getElementById("hum").setAttribute("points", line(h, 0, 100));
  var last = rs[rs.length - 1];
  // one decimal, as the node measures (JSON 18.0 arrives as the number 18)
  document.getElementById("now").textContent = last.temperature.toFixed(1) + " \\u00b0C, " + last.humidity.toFixed(1) + " %, RSSI " + last.wifi_rssi + " dBm (seq " + last.seq + ")";
}
function poll() {
  fetch("/readings.json").then(function (r) { return r.json(); }).then(draw).catch(function () {});
}
poll();
setInterval(poll, $EVERY);
</script></body></html>
"""
