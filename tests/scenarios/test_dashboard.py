"""The live dashboard's server without a browser: a slow or stalled viewer never holds up
publish, it skips to the newest frame, it is dropped when it stops reading, and only loopback
host names are served."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator

import httpx
import pytest
from conftest import Journal, growing
from tenacity import Retrying, retry_if_result, stop_after_delay, wait_fixed

from scenarios.dashboard import Dashboard

pytestmark = pytest.mark.integration

FRAMES = 30


@pytest.fixture
def dashboard() -> Iterator[Dashboard]:
    dash = Dashboard(stall_s=2.0)
    dash.start()
    try:
        yield dash
    finally:
        dash.close()


def connect_events(dash: Dashboard, *, rcvbuf: int | None = None) -> socket.socket:
    """A viewer on the event stream that reads only when the test says so."""
    sock = socket.socket()
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    port = int(dash.url.rsplit(":", 1)[1].strip("/"))
    sock.connect(("127.0.0.1", port))
    sock.sendall(f"GET /events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
    return sock


def read_events(sock: socket.socket) -> list[tuple[str, str, str]]:
    """Every event until the server ends the stream: (id, event, data)."""
    sock.settimeout(30)
    chunks = []
    while data := sock.recv(1 << 20):
        chunks.append(data)
    body = b"".join(chunks).split(b"\r\n\r\n", 1)[1].decode()
    events = []
    for block in body.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "event" in fields:
            events.append((fields.get("id", ""), fields["event"], fields.get("data", "")))
    return events


def wait_until(predicate) -> None:
    Retrying(
        stop=stop_after_delay(30),
        wait=wait_fixed(0.05),
        retry=retry_if_result(lambda ok: not ok),
        retry_error_callback=lambda state: False,
    )(predicate)
    assert predicate()


def big(journal: Journal, n: int) -> Journal:
    j = growing(journal, 30)
    j["experiment"]["description"] = f"frame {n} " + "x" * 1_000_000  # about 1 MB a frame
    return j


def publish_all(dash: Dashboard, journal: Journal) -> None:
    """Publish FRAMES snapshots of about 1 MB in a thread; they must all go through while the
    viewer reads nothing (30 MB is far more than any socket buffer holds)."""
    frames = [big(journal, n) for n in range(1, FRAMES + 1)]
    publisher = threading.Thread(target=lambda: [dash.publish(f) for f in frames])
    publisher.start()
    publisher.join(timeout=60)
    assert not publisher.is_alive(), "publish waited for a viewer that does not read"


def test_a_stalled_viewer_skips_to_the_newest_frame(dashboard: Dashboard, journal: Journal):
    stalled = connect_events(dashboard, rcvbuf=16384)
    wait_until(lambda: dashboard.viewers == 1)
    publish_all(dashboard, journal)

    # A viewer arriving now gets the newest frame first.
    with httpx.stream("GET", dashboard.url + "events", timeout=30) as response:
        assert response.headers["content-type"] == "text/event-stream"
        lines = response.iter_lines()
        first = next(line for line in lines if line.startswith("data: {"))
    assert json.loads(first[6:])["journal"]["experiment"]["description"].startswith(
        f"frame {FRAMES} "
    )

    dashboard.close()
    events = read_events(stalled)
    frames = [(int(i), json.loads(d)) for i, kind, d in events if kind == "journal"]
    ids = [i for i, _ in frames]
    assert ids == sorted(set(ids)) and ids[-1] == FRAMES
    assert len(ids) < FRAMES  # the frames it could not take in time were dropped, not queued
    assert frames[-1][1]["journal"]["experiment"]["description"].startswith(f"frame {FRAMES} ")
    assert events[-1][1] == "end"


def test_a_viewer_that_stops_reading_is_dropped(dashboard: Dashboard, journal: Journal):
    stalled = connect_events(dashboard, rcvbuf=16384)
    wait_until(lambda: dashboard.viewers == 1)
    publish_all(dashboard, journal)
    wait_until(lambda: dashboard.viewers == 0)  # after stall_s without reading
    stalled.close()


def test_a_viewer_that_vanished_is_forgotten(dashboard: Dashboard, journal: Journal):
    gone = connect_events(dashboard)
    wait_until(lambda: dashboard.viewers == 1)
    gone.close()
    frame = growing(journal, 3)

    def published_and_forgotten() -> bool:
        dashboard.publish(frame)  # each write to the closed socket brings the error nearer
        return dashboard.viewers == 0

    wait_until(published_and_forgotten)


def test_pages_and_snapshot(dashboard: Dashboard, journal: Journal) -> None:
    assert httpx.get(dashboard.url + "snapshot.json").json() is None
    dashboard.publish(growing(journal, 12))
    page = httpx.get(dashboard.url)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "connect-src 'self'" in page.headers["content-security-policy"]
    assert '"events":"/events"' in page.text
    snapshot = httpx.get(dashboard.url + "snapshot.json").json()
    assert snapshot["label"] == "RUNNING"
    assert len(snapshot["journal"]["metrics"]["seconds"]) == 12
    assert httpx.get(dashboard.url + "nothing-here").status_code == 404


def test_only_loopback_host_names_are_served(dashboard: Dashboard) -> None:
    # A page on another site that rebinds its name to 127.0.0.1 still sends its own Host.
    port = dashboard.url.rsplit(":", 1)[1].strip("/")
    assert httpx.get(dashboard.url, headers={"Host": f"evil.example:{port}"}).status_code == 421
    assert httpx.get(f"http://localhost:{port}/").status_code == 200


def test_publish_before_start_and_after_close_are_harmless(journal: Journal) -> None:
    dash = Dashboard()
    dash.publish(growing(journal, 3))
    with dash:
        assert httpx.get(dash.url + "snapshot.json").json()["label"] == "RUNNING"
    dash.publish(journal)
    dash.close()
