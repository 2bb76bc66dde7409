"""faultline's HTTP-level toxics: made-up responses and per-route delays on an HTTP edge."""

from __future__ import annotations

import time

import httpx
import pytest

from chaos.toxiproxy import EmbeddedToxiproxy
from harness.toxiproxy import ToxiproxyClient

pytestmark = pytest.mark.integration


@pytest.fixture
def edge(client, proxy_to, http_upstream):
    name, port = proxy_to(http_upstream.address)
    # One connection for the whole test: keep-alive must survive the injected responses.
    limits = httpx.Limits(max_connections=1)
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5, limits=limits) as http:
        yield name, http


def test_http_error_answers_matching_requests_without_reaching_the_server(
    client, edge, http_upstream
):
    name, http = edge
    client.add_toxic(
        name,
        "http_error",
        {
            "status": 503,
            "body": '{"detail": "down"}',
            "content_type": "application/json",
            "method": "post",
            "path": "^/charges/",
        },
    )
    faulted = http.post("/charges/1", json={"amount": 5})
    assert faulted.status_code == 503
    assert faulted.json() == {"detail": "down"}
    assert faulted.headers["content-type"] == "application/json"
    assert faulted.headers["x-faultline-toxic"] == "http_error_upstream"
    passed = [http.get("/charges/1"), http.post("/users"), http.get("/health")]
    assert [r.status_code for r in passed] == [200, 200, 200]
    assert passed[0].text == "ok GET /charges/1"
    assert http.post("/charges/2").status_code == 503
    assert http_upstream.requests == [("GET", "/charges/1"), ("POST", "/users"), ("GET", "/health")]
    client.remove_toxic(name, "http_error_upstream")
    assert http.post("/charges/3").status_code == 200


def test_http_error_with_connection_close_closes_after_the_response(client, edge, net):
    name, _ = edge
    port = int(client.proxy(name)["listen"].rsplit(":", 1)[1])
    client.add_toxic(name, "http_error", {"status": 429, "body": "slow down"})
    with net.connect(port) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        response = net.recv_until_closed(sock)
    assert response.startswith(b"HTTP/1.1 429 Too Many Requests\r\n")
    assert response.endswith(b"\r\n\r\nslow down")


def test_http_error_toxicity_is_the_fraction_of_requests(client, edge):
    name, http = edge
    client.add_toxic(name, "http_error", {"status": 500}, toxicity=0.5)
    statuses = [http.get(f"/r/{i}").status_code for i in range(200)]
    assert set(statuses) == {200, 500}
    assert 60 <= statuses.count(500) <= 140


def test_http_latency_delays_only_matching_requests(client, edge):
    name, http = edge
    assert http.get("/warm-up").status_code == 200
    client.add_toxic(name, "http_latency", {"latency": 60_000, "path": "^/slow"})
    # Within the client's 5 s, where a matching request would be held for a minute.
    assert http.get("/fast").status_code == 200
    client.update_toxic(name, "http_latency_upstream", {"latency": 300})
    started = time.perf_counter()
    # Within the client's 5 s too: the update, not the minute set before it, holds it.
    assert http.get("/slow/thing").text == "ok GET /slow/thing"
    assert time.perf_counter() - started >= 0.3


def test_non_http_bytes_pass_through_unchanged(client, proxy_to, echo, net):
    name, port = proxy_to(echo)
    client.add_toxic(name, "http_error", {"status": 500})
    with net.connect(port) as sock:
        sock.sendall(b"\x00\x01 definitely not HTTP\r\n\r\n")
        assert net.recv_exactly(sock, 26) == b"\x00\x01 definitely not HTTP\r\n\r\n"


def test_extension_toxics_are_refused_clearly_by_a_real_toxiproxy(stand_in_real_toxiproxy):
    with ToxiproxyClient(stand_in_real_toxiproxy) as api:
        assert api.is_embedded() is False
        with pytest.raises(Exception, match=r"http_error.*needs faultline's embedded"):
            api.add_toxic("web", "http_error", {"status": 503})


def test_the_embedded_server_is_recognised(server: EmbeddedToxiproxy):
    with ToxiproxyClient(server.url) as api:
        assert api.is_embedded() is True


@pytest.fixture
def stand_in_real_toxiproxy():
    """An HTTP server answering /version as Toxiproxy does, and other paths 404 as it does."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from threading import Thread

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/version":
                status, kind, body = (
                    200,
                    "application/json;charset=utf-8",
                    b'{"version": "2.12.0"}\n',
                )
            else:
                status, kind, body = 404, "text/plain; charset=utf-8", b"404 page not found\n"
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_large_bodies_stream_through_and_faulted_ones_are_swallowed(client, edge, http_upstream):
    name, http = edge
    client.add_toxic(name, "http_error", {"status": 502, "method": "PUT"})
    big = b"z" * 3_000_000
    assert http.post("/upload", content=big).text == "ok POST /upload"
    assert http.put("/upload", content=big).status_code == 502
    assert http.get("/after").status_code == 200  # the swallowed body did not derail framing
    assert http_upstream.requests == [("POST", "/upload"), ("GET", "/after")]


def test_a_faulted_request_expecting_100_continue_is_answered_at_once(client, edge, net):
    name, _ = edge
    port = int(client.proxy(name)["listen"].rsplit(":", 1)[1])
    client.add_toxic(name, "http_error", {"status": 503, "body": "no"})
    with net.connect(port) as sock:
        sock.sendall(
            b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"
        )
        response = net.recv_until_closed(sock)  # no body sent: the answer must not wait for it
    assert response.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
    assert response.endswith(b"\r\n\r\nno")
