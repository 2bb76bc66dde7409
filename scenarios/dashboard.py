"""The live dashboard: while a game day runs, a page on loopback that draws the growing journal.

    dash = Dashboard()            # 127.0.0.1, a free port
    url = dash.start()            # the runner prints it
    dash.publish(journal)         # about once a second, the journal so far
    dash.close()                  # at the end: browsers are told the run is over

The page is report.html's page (scenarios/report/page.py) without embedded data: the same
script draws the same charts, from snapshots sent as server-sent events.

Served by the standard library's threading HTTP server, one thread per browser, rather than
uvicorn: the runner owns the main thread, its event loop and its signal handlers (Ctrl-C must
reach the rollback), and an ASGI server in a second thread would need its own loop, its signal
handling disabled and every publish hopped across loops. Here a publish only swaps the latest
frame under a lock and wakes the browsers' threads; each thread sends the newest frame when it
can, so a slow browser skips frames and a stalled one times out, and neither ever holds up the
runner.
"""

from __future__ import annotations

import ipaddress
import json
import threading
from collections.abc import Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from scenarios.report.page import content_security_policy, render_page
from scenarios.report.view import payload

EVENTS_PATH = "/events"
SNAPSHOT_PATH = "/snapshot.json"


class _Latest:
    """The newest frame and its number; browsers' threads wait here for a newer one."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.version = 0
        self.frame = b""
        self.closed = False

    def put(self, frame: bytes) -> None:
        with self._cond:
            self.version += 1
            self.frame = frame
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self.closed = True
            self._cond.notify_all()

    def wait_newer(self, seen: int, timeout: float) -> tuple[int, bytes, bool]:
        with self._cond:
            self._cond.wait_for(lambda: self.version != seen or self.closed, timeout)
            return self.version, self.frame, self.closed


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a browser still connected never keeps the runner's process alive
    allow_reuse_address = True

    def __init__(
        self, address: tuple[str, int], latest: _Latest, keepalive_s: float, stall_s: float
    ) -> None:
        super().__init__(address, _Handler)
        self.latest = latest
        self.keepalive_s = keepalive_s
        self.stall_s = stall_s
        self.viewers = 0
        self.viewers_lock = threading.Lock()
        self.page = render_page(None, events=EVENTS_PATH).encode()
        self.csp = content_security_policy(live=True)
        self.allowed_hosts = _allowed_hosts(address[0], self.server_address[1])


def _allowed_hosts(host: str, port: int) -> set[str] | None:
    """Host headers accepted on a loopback bind (no DNS-rebinding page may read the run)."""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        return None
    return {f"{name}:{port}" for name in ("localhost", "127.0.0.1", "[::1]", host)}


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def setup(self) -> None:
        # A browser that stops reading is dropped after this long (the socket's timeout).
        self.timeout = self.server.stall_s
        super().setup()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the runner's terminal belongs to its live view

    def do_GET(self) -> None:
        allowed = self.server.allowed_hosts
        if allowed is not None and self.headers.get("Host", "") not in allowed:
            self._send(HTTPStatus.MISDIRECTED_REQUEST, b"unknown host\n", "text/plain")
            return
        path = self.path.split("?", 1)[0]
        if path == "/":
            self._send(HTTPStatus.OK, self.server.page, "text/html; charset=utf-8")
        elif path == SNAPSHOT_PATH:
            frame = self.server.latest.frame or b"null"
            self._send(HTTPStatus.OK, frame, "application/json")
        elif path == EVENTS_PATH:
            self._stream()
        else:
            self._send(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain")

    def _send(self, status: HTTPStatus, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Content-Security-Policy", self.server.csp)
        self.end_headers()
        self.wfile.write(body)

    def _stream(self) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        latest = self.server.latest
        seen = 0
        with self.server.viewers_lock:
            self.server.viewers += 1
        try:
            self.wfile.write(b"retry: 1000\n\n")
            while True:
                version, frame, closed = latest.wait_newer(seen, self.server.keepalive_s)
                if version != seen and frame:
                    self.wfile.write(b"id: %d\nevent: journal\ndata: %s\n\n" % (version, frame))
                    seen = version
                if closed:
                    self.wfile.write(b"event: end\ndata: {}\n\n")
                    return
                if version == seen:
                    self.wfile.write(b": keep-alive\n\n")  # finds browsers that went away
        except OSError:
            return  # the browser left, or stopped reading for `stall_s` seconds
        finally:
            with self.server.viewers_lock:
                self.server.viewers -= 1


class Dashboard:
    """A page on `host:port` (port 0: a free one) showing the journal as it grows."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        keepalive_s: float = 15.0,
        stall_s: float = 10.0,
    ) -> None:
        self.host = host
        self.port = port
        self._keepalive_s = keepalive_s
        self._stall_s = stall_s
        self._latest = _Latest()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the dashboard is not started")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self._server.server_address[1]}/"

    @property
    def viewers(self) -> int:
        """Browsers connected to the event stream now."""
        return self._server.viewers if self._server is not None else 0

    def start(self) -> str:
        """Serve in a background thread; returns the page's URL."""
        if self._server is None:
            self._server = _Server(
                (self.host, self.port), self._latest, self._keepalive_s, self._stall_s
            )
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.2},
                name="gameday-dashboard",
                daemon=True,
            )
            self._thread.start()
        return self.url

    def publish(self, journal_snapshot: Mapping[str, Any]) -> None:
        """Show this journal. Never waits on a browser: frames a browser has not taken yet are
        replaced by this one."""
        body = json.dumps(
            payload(journal_snapshot),
            ensure_ascii=False,
            allow_nan=False,
            separators=(",", ":"),
            default=str,  # a datetime or a path the runner left in: shown, never an exception
        )
        self._latest.put(body.encode())

    def close(self) -> None:
        """Tell every browser the run is over (after the last frame), stop serving."""
        self._latest.close()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            if self._thread is not None:
                self._thread.join()
            self._server = None

    def __enter__(self) -> Dashboard:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
