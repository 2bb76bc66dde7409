"""Requests that Toxiproxy 2.12.0 accepts are accepted and answered the same way.

Each test is one behaviour where the embedded server used to differ from the real one, asked
as black-box HTTP. The expected answers come from the real server's Go source (api.go,
toxic_collection.go, proxy_collection.go, proxy.go, toxics/*.go and gorilla/mux).
"""

from __future__ import annotations

import logging
import re
import socket

import httpx
import pytest

pytestmark = pytest.mark.integration

WARNINGS = "chaos.toxiproxy.toxic_collection"


@pytest.fixture
def api(server):
    with httpx.Client(base_url=server.url, timeout=10) as http:
        yield http


@pytest.fixture
def web(api, echo):
    """A proxy named web in front of an echo server; yields its listen port."""
    created = api.post("/proxies", json={"name": "web", "listen": "127.0.0.1:0", "upstream": echo})
    assert created.status_code == 201
    return int(created.json()["listen"].rsplit(":", 1)[1])


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _exchange(net, port: int, payload: bytes) -> bytes:
    with net.connect(port, timeout=10) as sock:
        sock.sendall(payload)
        return net.recv_exactly(sock, len(payload))


# ---- toxics real Toxiproxy accepts --------------------------------------------------------
def test_noop_toxic_is_accepted_and_passes_data_untouched(api, web, net):
    resp = api.post("/proxies/web/toxics", json={"type": "noop", "stream": "upstream"})
    assert resp.status_code == 200
    assert resp.content == (
        b'{"attributes":{},"name":"noop_upstream","type":"noop","stream":"upstream","toxicity":1}'
    )
    payload = bytes(range(256)) * 40
    assert _exchange(net, web, payload) == payload


def test_slicer_with_variation_as_large_as_the_average_is_accepted(api, web, net):
    attributes = {"average_size": 1000, "size_variation": 1000, "delay": 1000}
    resp = api.post("/proxies/web/toxics", json={"type": "slicer", "attributes": attributes})
    assert resp.status_code == 200
    assert resp.json()["attributes"] == attributes
    payload = bytes(range(256)) * 200
    assert _exchange(net, web, payload) == payload


def test_slicer_with_average_size_zero_is_accepted_and_still_delivers(api, web, net):
    resp = api.post("/proxies/web/toxics", json={"type": "slicer", "attributes": {}})
    assert resp.status_code == 200
    assert resp.json()["attributes"] == {"average_size": 0, "size_variation": 0, "delay": 0}
    payload = b"sliced down to single bytes"
    assert _exchange(net, web, payload) == payload


@pytest.mark.parametrize(
    ("type_", "attributes"),
    [
        ("latency", {"latency": -100, "jitter": -5}),
        ("timeout", {"timeout": -1}),
        ("limit_data", {"bytes": -10}),
        ("bandwidth", {"rate": -3}),
        ("slow_close", {"delay": -7}),
        ("reset_peer", {"timeout": -1}),
    ],
)
def test_negative_attributes_are_accepted_as_given(api, web, type_, attributes):
    resp = api.post("/proxies/web/toxics", json={"type": type_, "attributes": attributes})
    assert resp.status_code == 200, resp.text
    assert resp.json()["attributes"] == attributes
    patched = api.patch(f"/proxies/web/toxics/{type_}_downstream", json={"attributes": attributes})
    assert (patched.status_code, patched.json()["attributes"]) == (200, attributes)


def test_negative_latency_delays_nothing(api, web, net):
    api.post("/proxies/web/toxics", json={"type": "latency", "attributes": {"latency": -10_000}})
    # If the sign were ignored this would wait ten seconds; the socket gives up after five.
    assert _exchange(net, web, b"on time") == b"on time"


def test_negative_bytes_closes_at_the_first_chunk(api, web, net):
    api.post("/proxies/web/toxics", json={"type": "limit_data", "attributes": {"bytes": -10}})
    with net.connect(web) as sock:
        sock.sendall(b"nothing of this gets back")
        assert net.recv_until_closed(sock) == b""


def test_negative_rate_holds_the_data_until_the_toxic_goes(api, web, net):
    api.post("/proxies/web/toxics", json={"type": "bandwidth", "attributes": {"rate": -3}})
    with net.connect(web) as sock:
        sock.sendall(b"held")
        net.held(sock, "web", "downstream", 4)
        api.delete("/proxies/web/toxics/bandwidth_downstream")
        assert net.recv_exactly(sock, 4) == b"held"


# ---- toxicity -------------------------------------------------------------------------------
@pytest.mark.parametrize("toxicity", [1.5, -0.5])
def test_toxicity_outside_0_1_is_accepted_with_a_warning(api, web, caplog, toxicity):
    with caplog.at_level(logging.WARNING, logger=WARNINGS):
        resp = api.post("/proxies/web/toxics", json={"type": "latency", "toxicity": toxicity})
    assert resp.status_code == 200
    assert resp.json()["toxicity"] == toxicity
    assert any(
        "outside [0, 1]" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records
    )


def test_patch_toxicity_2_is_accepted_with_a_warning(api, web, caplog):
    api.post("/proxies/web/toxics", json={"type": "latency", "toxicity": 0.5})
    with caplog.at_level(logging.WARNING, logger=WARNINGS):
        resp = api.patch("/proxies/web/toxics/latency_downstream", json={"toxicity": 2})
    assert resp.status_code == 200
    assert b'"toxicity":2}' in resp.content
    assert [r.getMessage() for r in caplog.records if "outside [0, 1]" in r.getMessage()] == [
        "proxy web: toxic latency_downstream has toxicity 2, outside [0, 1]; it applies always"
    ]


def test_toxicity_above_1_always_applies_and_below_0_never(api, web, net):
    api.post(
        "/proxies/web/toxics",
        json={"type": "latency", "toxicity": -0.5, "attributes": {"latency": 10_000}},
    )
    assert _exchange(net, web, b"never delayed") == b"never delayed"
    api.delete("/proxies/web/toxics/latency_downstream")
    api.post(
        "/proxies/web/toxics",
        json={"type": "limit_data", "toxicity": 1.5, "attributes": {"bytes": 2}},
    )
    for _ in range(5):
        with net.connect(web) as sock:
            sock.sendall(b"cut short")
            assert net.recv_until_closed(sock) == b"cu"


def test_default_toxicity_is_written_1_not_1_0(api, web):
    created = api.post("/proxies/web/toxics", json={"type": "latency"})
    assert created.content.endswith(b'"toxicity":1}')
    assert b'"toxicity":1}' in api.get("/proxies/web/toxics").content
    half = api.post("/proxies/web/toxics", json={"type": "timeout", "toxicity": 0.1})
    assert half.content.endswith(b'"toxicity":0.1}')  # float32 0.1, shortest form


# ---- stream ---------------------------------------------------------------------------------
def test_stream_case_is_kept_as_given(api, net):
    server = socket.create_server(("127.0.0.1", 0))
    upstream = f"127.0.0.1:{server.getsockname()[1]}"
    listen = api.post("/proxies", json={"name": "s", "upstream": upstream}).json()["listen"]
    port = int(listen.rsplit(":", 1)[1])
    resp = api.post(
        "/proxies/s/toxics",
        json={"type": "limit_data", "stream": "UPSTREAM", "attributes": {"bytes": 3}},
    )
    assert resp.status_code == 200
    body = resp.json()
    assert (body["name"], body["stream"]) == ("limit_data_UPSTREAM", "UPSTREAM")
    assert api.get("/proxies/s/toxics/limit_data_UPSTREAM").json()["stream"] == "UPSTREAM"
    # It acts on the client -> server direction: the server gets three bytes, then the close.
    with server, net.connect(port) as client:
        client.sendall(b"abcdef")
        accepted, _ = server.accept()
        with accepted:
            accepted.settimeout(5)
            assert net.recv_until_closed(accepted) == b"abc"


# ---- listen addresses ---------------------------------------------------------------------
@pytest.mark.parametrize("host", ["localhost", "0.0.0.0", "", "[::1]"])
def test_disabled_proxy_echoes_listen_as_given_until_started(api, host):
    port = _free_port()
    listen = f"{host}:{port}"
    body = {"name": "off", "listen": listen, "upstream": "127.0.0.1:9", "enabled": False}
    created = api.post("/proxies", json=body)
    assert created.status_code == 201
    assert created.json()["listen"] == listen
    assert api.get("/proxies/off").json()["listen"] == listen
    started = api.patch("/proxies/off", json={"enabled": True})
    assert started.status_code == 200
    expected = {
        "localhost": f"127.0.0.1:{port}",
        "0.0.0.0": f"[::]:{port}",  # Go listens on every interface, IPv6 and IPv4
        "": f"[::]:{port}",
        "[::1]": f"[::1]:{port}",
    }[host]
    assert started.json()["listen"] == expected


def test_a_proxy_without_listen_binds_a_free_port_on_every_interface(api):
    created = api.post("/proxies", json={"name": "any", "upstream": "127.0.0.1:9"})
    assert created.status_code == 201
    assert re.fullmatch(r"\[::\]:\d+", created.json()["listen"])


def test_upstream_is_not_checked_until_a_client_connects(api, net):
    created = api.post("/proxies", json={"name": "u", "listen": "127.0.0.1:0", "upstream": "x"})
    assert created.status_code == 201
    port = int(created.json()["listen"].rsplit(":", 1)[1])
    with net.connect(port) as sock:
        assert net.recv_until_closed(sock) == b""  # the dial fails, the client is closed


def test_a_listen_address_go_cannot_use_answers_500_with_gos_error(api):
    resp = api.post(
        "/proxies", json={"name": "bad", "listen": "local373", "upstream": "127.0.0.1:9"}
    )
    assert (resp.status_code, resp.json()) == (
        500,
        {"error": "listen tcp: address local373: missing port in address", "status": 500},
    )
    assert api.get("/proxies").json() == {}
    api.post("/proxies", json={"name": "ok", "listen": "127.0.0.1:0", "upstream": "x:1"})
    patched = api.patch("/proxies/ok", json={"listen": "127.0.0.1:99999"})
    assert (patched.status_code, patched.json()["error"]) == (500, "address 99999: invalid port")


def test_a_host_name_resolving_to_the_bound_address_restarts_nothing(api, echo, net):
    port = _free_port()
    body = {"name": "kept", "listen": f"localhost:{port}", "upstream": echo}
    assert api.post("/proxies", json=body).json()["listen"] == f"127.0.0.1:{port}"
    api.post("/proxies/kept/toxics", json={"type": "noop"})
    with net.connect(port) as sock:
        net.round_trip(sock)
        updated = api.patch("/proxies/kept", json={"listen": f"localhost:{port}"})
        assert updated.json()["listen"] == f"127.0.0.1:{port}"
        net.round_trip(sock)  # the connection was not closed by a restart
    again = api.post("/populate", json=[body]).json()["proxies"]
    assert [t["name"] for t in again[0]["toxics"]] == ["noop_downstream"]  # kept, not replaced


# ---- populate -------------------------------------------------------------------------------
def test_populate_creates_up_to_the_failing_proxy_and_answers_500_with_them(api):
    resp = api.post(
        "/populate",
        json=[
            {"name": "first", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:9"},
            {"name": "second", "listen": "local373", "upstream": "127.0.0.1:9"},
            {"name": "third", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:9"},
        ],
    )
    assert resp.status_code == 500
    body = resp.json()
    assert list(body) == ["error", "status", "proxies"]
    assert body["error"] == "listen tcp: address local373: missing port in address"
    assert body["status"] == 500
    first = api.get("/proxies/first").json()
    assert body["proxies"] == [first]
    assert sorted(api.get("/proxies").json()) == ["first"]


def test_populate_answers_null_proxies_when_none_were_made(api):
    empty = api.post("/populate", json=[])
    assert (empty.status_code, empty.content) == (201, b'{"proxies":null}')
    missing = api.post("/populate", json=[{"name": "a", "upstream": "x:1"}, {"name": "b"}])
    assert (missing.status_code, missing.json()) == (
        400,
        {"error": "missing required field: upstream at proxy 2", "status": 400, "proxies": None},
    )


# ---- headers and routing --------------------------------------------------------------------
XID = re.compile(r"[0-9a-v]{20}")


def test_every_answer_of_a_route_carries_a_fresh_request_id(api, web):
    answers = [
        api.get("/version"),
        api.get("/proxies"),
        api.get("/proxies/web"),
        api.get("/proxies/nope"),
        api.post("/proxies/web/toxics", json={"type": "latency"}),
        api.post("/proxies/web/toxics", json={"type": "nope"}),
        api.delete("/proxies/web/toxics/latency_downstream"),
        api.post("/reset"),
        api.get("/proxies", headers={"User-Agent": "Mozilla/5.0"}),
    ]
    ids = [a.headers.get("x-toxiproxy-request-id", "") for a in answers]
    assert all(XID.fullmatch(i) for i in ids), ids
    assert len(set(ids)) == len(ids)


def test_unknown_route_is_404_page_not_found_in_plain_text(api):
    resp = api.get("/nothing/here")
    assert (resp.status_code, resp.content) == (404, b"404 page not found\n")
    assert resp.headers["content-type"] == "text/plain; charset=utf-8"
    # gorilla/mux runs Toxiproxy's middleware only on matched routes: no request id here.
    assert "x-toxiproxy-request-id" not in resp.headers


def test_a_known_path_with_another_method_is_405_with_an_empty_body(api):
    for method, path in [("PUT", "/proxies"), ("HEAD", "/version"), ("GET", "/reset")]:
        resp = api.request(method, path)
        assert (resp.status_code, resp.content) == (405, b""), (method, path)
        assert "content-type" not in resp.headers


def test_errors_are_json_written_by_go_http_error(api):
    resp = api.get("/proxies/nope")
    assert resp.status_code == 404
    assert resp.content == b'{"error":"proxy not found","status":404}\n'
    assert resp.headers["content-type"] == "text/plain; charset=utf-8"
    assert resp.headers["x-content-type-options"] == "nosniff"


def test_proxy_json_is_gos_including_its_logger_field(api, web):
    resp = api.get("/proxies/web")
    assert resp.headers["content-type"] == "application/json"
    assert list(resp.json()) == ["name", "listen", "upstream", "enabled", "Logger", "toxics"]
    assert resp.json()["Logger"] == {}


def test_no_faultline_extension_shows_in_what_real_clients_see(api, web):
    api.post("/proxies/web/toxics", json={"type": "bandwidth"})
    answers = [
        api.get("/version"),
        api.get("/proxies"),
        api.get("/proxies/web/toxics"),
        api.post("/proxies/web/toxics", json={"type": "slow_close"}),
    ]
    for answer in answers:
        assert not [h for h in answer.headers if "faultline" in h.lower()]
        assert b"faultline" not in answer.content
    assert api.get("/proxies/web/toxics/bandwidth_downstream").json() == {
        "attributes": {"rate": 0},
        "name": "bandwidth_downstream",
        "type": "bandwidth",
        "stream": "downstream",
        "toxicity": 1,
    }


def test_request_bodies_are_read_as_gos_decoder_reads_them(api, web):
    # Keys match fields whatever their case, and only the first JSON value of a body counts.
    resp = api.post(
        "/proxies/web/toxics",
        content=b'{"Type": "latency", "ATTRIBUTES": {"Latency": 5}} and then garbage',
    )
    assert resp.status_code == 200
    assert resp.json()["attributes"] == {"latency": 5, "jitter": 0}
    bad = api.post(
        "/proxies/web/toxics",
        content=b'{"type": "latency", "name": "j", "attributes": {"jitter": 1.5}}',
    )
    assert bad.json()["error"] == (
        "bad request body: json: cannot unmarshal number 1.5 into Go struct field "
        "LatencyToxic.attributes.jitter of type int64"
    )
    syntax = api.post("/proxies", content=b"{bad}")
    assert syntax.json() == {
        "error": "bad request body: invalid character 'b' looking for beginning of object key "
        "string",
        "status": 400,
    }
