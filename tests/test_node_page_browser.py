"""The node's chart page in a real headless browser (Debian's chromium, driven by Playwright).

The page is served by the firmware's own request handler (``firmware/web.py: handle``)
behind a loopback socket, as the node's serve loop does; the test changes the node's
readings and waits for the page to redraw them. Every wait is on a condition in the page.
"""

from __future__ import annotations

import socketserver
import threading

import pytest

from browsers import chromium

from firmware import web
from firmware.reading import make_reading

pytestmark = pytest.mark.live

POLL_MS = 200


@pytest.fixture
def node_site():
    """A loopback server answering like the node; ``state`` is what the node knows right now."""
    state = {"latest": (402, 215), "readings": [make_reading("node-7", 1, s, 1700000000 + 10 * s, 200 + s, 400 + s, -60)
                                                for s in range(1, 6)]}

    class Handler(socketserver.StreamRequestHandler):
        def handle(self):
            data = self.request.recv(web.MAX_REQUEST + 1)
            reply, _status = web.handle(data, "node-7", state["latest"], list(state["readings"]), every_ms=POLL_MS)
            self.wfile.write(reply)

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", state
    server.shutdown()
    server.server_close()


@pytest.fixture
def page():
    with chromium() as browser:
        yield browser.new_page()


def points(page, element: str) -> list[tuple[float, float]]:
    raw = page.get_attribute(f"#{element}", "points") or ""
    return [tuple(float(v) for v in pair.split(",")) for pair in raw.split()]


def test_the_chart_page_draws_the_readings_and_follows_new_ones(node_site, page):
    url, state = node_site
    page.goto(url + "/")
    page.wait_for_function("document.getElementById('now').textContent.includes('seq 5')", timeout=10_000)
    assert page.text_content("#now") == "20.5 \u00b0C, 40.5 %, RSSI -60 dBm (seq 5)"
    temp, hum = points(page, "temp"), points(page, "hum")
    assert len(temp) == len(hum) == 5
    assert [x for x, _ in temp] == [0.0, 180.0, 360.0, 540.0, 720.0]  # spread across the 720-wide chart
    assert all(a[1] > b[1] for a, b in zip(temp, temp[1:]))  # rising temperature: y goes up the screen
    assert all(10 <= y <= 250 for _, y in temp + hum)  # inside the plot area

    # The node takes new readings and its ring drops the oldest: the page polls and redraws.
    state["readings"] = state["readings"][2:] + [make_reading("node-7", 1, s, 1700000000 + 10 * s, 180, 455, -71)
                                                 for s in range(6, 9)]
    page.wait_for_function("document.getElementById('now').textContent.includes('seq 8')", timeout=10_000)
    assert page.text_content("#now") == "18.0 \u00b0C, 45.5 %, RSSI -71 dBm (seq 8)"
    assert len(points(page, "temp")) == 6


def test_the_original_endpoint_answers_the_browser_too(node_site, page):
    url, _state = node_site
    response = page.goto(url + "/dhtSensor.json")
    assert response.status == 200 and response.json() == {"temp": "21.5", "humidity": "40.2"}
