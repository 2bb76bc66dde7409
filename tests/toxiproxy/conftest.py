"""Fixtures for the embedded Toxiproxy server's tests: a fresh server per test, real TCP peers.

Every socket binds port 0 on loopback, so runs never collide with each other or with a
Toxiproxy already running on this machine.
"""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from tenacity import RetryError, Retrying, retry_if_result, stop_after_delay, wait_exponential

from chaos.toxiproxy import EmbeddedToxiproxy
from harness.toxiproxy import ToxiproxyClient


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while True:
            try:
                data = self.request.recv(65536)
            except OSError:
                return
            if not data:
                return
            try:
                self.request.sendall(data)
            except OSError:
                return


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 512


@pytest.fixture
def echo() -> Iterator[str]:
    """A TCP echo server; yields its "127.0.0.1:port"."""
    server = _Server(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class Upstream:
    """A keep-alive HTTP/1.1 server that counts the requests reaching it."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str]] = []
        seen = self.requests

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                seen.append((self.command, self.path))
                body = f"ok {self.command} {self.path}".encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = _answer

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def http_upstream() -> Iterator[Upstream]:
    upstream = Upstream()
    yield upstream
    upstream.close()


@pytest.fixture
def server() -> Iterator[EmbeddedToxiproxy]:
    with EmbeddedToxiproxy() as running:
        yield running


@pytest.fixture
def client(server: EmbeddedToxiproxy) -> Iterator[ToxiproxyClient]:
    with ToxiproxyClient(server.url) as api:
        yield api


@pytest.fixture
def proxy_to(client: ToxiproxyClient) -> Callable[[str], tuple[str, int]]:
    """Create a proxy to an upstream; returns (name, listen port)."""
    count = iter(range(1000))

    def make(upstream: str, name: str | None = None) -> tuple[str, int]:
        name = name or f"p{next(count)}"
        created = client.create_proxy(name, "127.0.0.1:0", upstream)
        return name, int(created["listen"].rsplit(":", 1)[1])

    return make


def connect(port: int, timeout: float = 5.0) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def recv_exactly(sock: socket.socket, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        part = sock.recv(size - len(data))
        if not part:
            break
        data += part
    return bytes(data)


def recv_until_closed(sock: socket.socket) -> bytes:
    data = bytearray()
    while part := sock.recv(65536):
        data += part
    return bytes(data)


def round_trip(sock: socket.socket, size: int = 64) -> float:
    """Seconds for `size` bytes to go through an echo and back."""
    payload = b"x" * size
    started = time.perf_counter()
    sock.sendall(payload)
    assert recv_exactly(sock, size) == payload
    return time.perf_counter() - started


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Return once `condition()` holds; fail the test if it does not within `timeout` s."""
    waiting = Retrying(
        stop=stop_after_delay(timeout),
        wait=wait_exponential(multiplier=0.005, max=0.1),
        retry=retry_if_result(lambda met: not met),
    )
    try:
        waiting(condition)
    except RetryError:
        raise AssertionError("condition not met in time") from None


@pytest.fixture
def metrics(server: EmbeddedToxiproxy) -> Iterator[Callable[[str, str, str], int]]:
    """Bytes a proxy has `received` or `sent` in a direction, read from /metrics.

    The API shares the proxies' event loop, so once a count shows, the data path has the bytes.
    One client for the test: a new one per scrape costs a TLS set-up of a few hundred ms on a
    busy machine, too slow to follow the data path between two chunks.
    """
    with httpx.Client(base_url=server.url, timeout=5) as http:

        def read(proxy: str, kind: str, direction: str) -> int:
            wanted = (
                f'toxiproxy_proxy_{kind}_bytes_total{{direction="{direction}",proxy="{proxy}"}}'
            )
            for line in http.get("/metrics").text.splitlines():
                if line.startswith(wanted):
                    return int(float(line.rsplit(" ", 1)[1]))
            return 0

        yield read


@pytest.fixture
def net(metrics: Callable[[str, str, str], int]) -> SimpleNamespace:
    """The socket helpers as one object (the test modules here are not a package)."""

    def held(sock: socket.socket, proxy: str, direction: str, size: int) -> None:
        """Assert that the proxy read `size` bytes in `direction` and passed nothing on.

        An event, not a wait: once /metrics shows the bytes read, the data path has had them;
        the second scrape gives it more loop turns, in which it would have written them.
        """
        wait_for(lambda: metrics(proxy, "received", direction) == size)
        assert metrics(proxy, "sent", direction) == 0
        timeout = sock.gettimeout()
        sock.setblocking(False)
        try:
            with pytest.raises(BlockingIOError):
                sock.recv(size)
        finally:
            sock.settimeout(timeout)

    return SimpleNamespace(
        connect=connect,
        recv_exactly=recv_exactly,
        recv_until_closed=recv_until_closed,
        round_trip=round_trip,
        wait_for=wait_for,
        held=held,
    )
