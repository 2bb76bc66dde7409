"""The HTTP API answers like Toxiproxy 2.12.0: routes, JSON shapes, defaults and status codes.

test_toxiproxy_parity.py holds the cases where it used to differ from the real server.
"""

from __future__ import annotations

import socket

import httpx
import pytest

pytestmark = pytest.mark.integration


@pytest.fixture
def api(server):
    with httpx.Client(base_url=server.url, timeout=5) as http:
        yield http


def _proxy(api, name="web", upstream="127.0.0.1:9", listen="127.0.0.1:0", **extra):
    return api.post(
        "/proxies", json={"name": name, "listen": listen, "upstream": upstream, **extra}
    )


def test_version(api):
    resp = api.get("/version")
    assert resp.status_code == 200
    assert resp.content == b'{"version": "2.12.0"}\n'
    assert resp.headers["content-type"] == "application/json;charset=utf-8"


def test_the_embedded_server_names_itself_on_a_route_of_its_own(api):
    # A real Toxiproxy answers this route 404, so a client can tell the two apart.
    resp = api.get("/faultline")
    assert resp.status_code == 200
    assert resp.json()["server"] == "faultline"
    assert resp.json()["toxics"] == ["http_error", "http_latency"]


def test_create_proxy_answers_201_with_the_bound_port(api):
    resp = _proxy(api)
    assert resp.status_code == 201
    body = resp.json()
    assert list(body) == ["name", "listen", "upstream", "enabled", "Logger", "toxics"]
    host, port = body["listen"].rsplit(":", 1)
    assert (host, body["enabled"], body["toxics"]) == ("127.0.0.1", True, [])
    assert int(port) > 0
    with socket.create_connection(("127.0.0.1", int(port)), timeout=2):
        pass
    assert api.get("/proxies/web").json() == body
    assert api.get("/proxies").json() == {"web": body}


def test_localhost_is_reported_as_ipv4_loopback(api):
    assert _proxy(api, listen="localhost:0").json()["listen"].startswith("127.0.0.1:")


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({"upstream": "127.0.0.1:9"}, 400, "missing required field: name"),
        ({"name": "x"}, 400, "missing required field: upstream"),
        (
            {"name": 5, "upstream": "127.0.0.1:9"},
            400,
            "bad request body: json: cannot unmarshal number into Go struct field Proxy.name "
            "of type string",
        ),
        (
            {"name": "x", "upstream": "127.0.0.1:9", "enabled": "yes"},
            400,
            "bad request body: json: cannot unmarshal string into Go struct field Proxy.enabled "
            "of type bool",
        ),
        (
            [1, 2],
            400,
            "bad request body: json: cannot unmarshal array into Go value of type toxiproxy.Proxy",
        ),
    ],
)
def test_bad_proxy_bodies_answer_400(api, body, status, error):
    resp = api.post("/proxies", json=body)
    assert resp.json() == {"error": error, "status": status}
    assert resp.status_code == status
    assert api.get("/proxies").json() == {}


def test_malformed_json_answers_400_in_toxiproxy_error_shape(api):
    resp = api.post("/proxies", content=b"{not json")
    assert resp.status_code == 400
    assert set(resp.json()) == {"error", "status"}
    assert resp.json()["error"] == (
        "bad request body: invalid character 'n' looking for beginning of object key string"
    )
    assert api.post("/proxies", content=b"").json()["error"] == "bad request body: EOF"
    cut = api.post("/proxies", content=b'{"name": "x", ')
    assert cut.json()["error"] == "bad request body: unexpected EOF"


def test_duplicate_proxy_answers_409(api):
    assert _proxy(api).status_code == 201
    resp = _proxy(api)
    assert (resp.status_code, resp.json()) == (
        409,
        {"error": "proxy already exists", "status": 409},
    )


def test_listen_address_in_use_answers_500_with_the_os_reason_as_toxiproxy_does(api):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        resp = _proxy(api, listen=f"127.0.0.1:{port}")
    finally:
        taken.close()
    assert resp.json() == {
        "error": f"listen tcp 127.0.0.1:{port}: bind: address already in use",
        "status": 500,
    }
    assert resp.status_code == 500


def test_unknown_proxy_answers_404_on_every_route(api):
    expected = {"error": "proxy not found", "status": 404}
    for method, path in [
        ("GET", "/proxies/nope"),
        ("PATCH", "/proxies/nope"),
        ("DELETE", "/proxies/nope"),
        ("GET", "/proxies/nope/toxics"),
        ("POST", "/proxies/nope/toxics"),
        ("GET", "/proxies/nope/toxics/t"),
        ("DELETE", "/proxies/nope/toxics/t"),
    ]:
        resp = api.request(method, path, json={"type": "latency"})
        assert (resp.status_code, resp.json()) == (404, expected), (method, path)


def test_toxic_create_answers_200_with_defaults(api):
    _proxy(api)
    resp = api.post("/proxies/web/toxics", json={"type": "latency"})
    assert resp.status_code == 200
    assert resp.json() == {
        "attributes": {"latency": 0, "jitter": 0},
        "name": "latency_downstream",
        "type": "latency",
        "stream": "downstream",
        "toxicity": 1,
    }
    up = api.post(
        "/proxies/web/toxics",
        json={"type": "limit_data", "stream": "UpStream", "attributes": {"bytes": 10}},
    ).json()
    assert (up["name"], up["stream"], up["attributes"]) == (
        "limit_data_UpStream",
        "UpStream",
        {"bytes": 10},
    )
    listed = api.get("/proxies/web/toxics").json()
    assert [t["name"] for t in listed] == ["limit_data_UpStream", "latency_downstream"]
    assert api.get("/proxies/web").json()["toxics"] == listed
    assert api.get("/proxies/web/toxics/latency_downstream").json()["type"] == "latency"


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"type": "nope"}, "invalid toxic type"),
        ({"type": "latency", "stream": "sideways"}, "stream was invalid"),
        ({"type": "nope", "stream": ""}, "stream was invalid"),  # the stream is checked first
        (
            {"type": "latency", "attributes": {"latency": "slow"}},
            "bad request body: json: cannot unmarshal string into Go struct field "
            "LatencyToxic.attributes.latency of type int64",
        ),
        (
            {"type": "slicer", "attributes": {"delay": 2**63}},
            "bad request body: json: cannot unmarshal number 9223372036854775808 into Go struct "
            "field SlicerToxic.attributes.delay of type int",
        ),
        (
            {"type": "latency", "attributes": [1]},
            "bad request body: json: cannot unmarshal array into Go struct field "
            "ToxicWrapper.attributes of type toxics.NoopToxic",
        ),
        (
            {"type": "latency", "toxicity": "all"},
            "bad request body: json: cannot unmarshal string into Go struct field "
            "ToxicWrapper.toxicity of type float32",
        ),
        (
            {"type": "latency", "toxicity": 1e39},
            "bad request body: json: cannot unmarshal number 1e+39 into Go struct field "
            "ToxicWrapper.toxicity of type float32",
        ),
        (
            "latency",
            "bad request body: json: cannot unmarshal string into Go value of type "
            "toxics.ToxicWrapper",
        ),
        # faultline's HTTP toxics check their own attributes
        (
            {"type": "http_error", "attributes": {"status": 99}},
            "bad request body: attribute status must be between 200 and 599",
        ),
        ({"type": "http_error", "attributes": {"path": "("}}, "bad request body: attribute path"),
        ({"type": "http_error", "stream": "downstream"}, "http_error acts on requests"),
    ],
)
def test_bad_toxic_bodies_answer_400(api, body, error):
    _proxy(api)
    resp = api.post("/proxies/web/toxics", json=body)
    assert resp.status_code == 400
    assert resp.json()["status"] == 400
    assert resp.json()["error"].startswith(error)
    assert api.get("/proxies/web/toxics").json() == []


def test_duplicate_and_missing_toxics(api):
    _proxy(api)
    api.post("/proxies/web/toxics", json={"type": "latency"})
    dup = api.post("/proxies/web/toxics", json={"type": "latency"})
    assert (dup.status_code, dup.json()) == (409, {"error": "toxic already exists", "status": 409})
    for method in ("GET", "PATCH", "DELETE"):
        resp = api.request(method, "/proxies/web/toxics/nope", json={})
        assert (resp.status_code, resp.json()) == (
            404,
            {"error": "toxic not found", "status": 404},
        )


def test_toxic_update_merges_attributes_and_keeps_toxicity(api):
    _proxy(api)
    api.post(
        "/proxies/web/toxics",
        json={"type": "latency", "toxicity": 0.5, "attributes": {"latency": 100, "jitter": 7}},
    )
    resp = api.patch("/proxies/web/toxics/latency_downstream", json={"attributes": {"latency": 5}})
    assert resp.status_code == 200
    assert resp.json()["attributes"] == {"latency": 5, "jitter": 7}
    assert resp.json()["toxicity"] == 0.5
    resp = api.post("/proxies/web/toxics/latency_downstream", json={"toxicity": 0.25})
    assert resp.json()["toxicity"] == 0.25
    bad = api.patch("/proxies/web/toxics/latency_downstream", json={"attributes": {"jitter": "x"}})
    assert bad.json()["error"] == (
        "bad request body: json: cannot unmarshal string into Go struct field "
        "LatencyToxic.attributes.jitter of type int64"
    )
    other = api.patch("/proxies/web/toxics/latency_downstream", json={"toxicity": "x"})
    assert other.json()["error"] == (
        "bad request body: json: cannot unmarshal string into Go struct field .toxicity "
        "of type float32"
    )
    assert api.get("/proxies/web/toxics/latency_downstream").json()["attributes"]["jitter"] == 7


def test_deletes_and_reset_answer_204(api):
    _proxy(api)
    api.post("/proxies/web/toxics", json={"type": "latency"})
    api.patch("/proxies/web", json={"enabled": False})
    resp = api.post("/reset")
    assert (resp.status_code, resp.content) == (204, b"")
    proxy = api.get("/proxies/web").json()
    assert (proxy["enabled"], proxy["toxics"]) == (True, [])
    api.post("/proxies/web/toxics", json={"type": "timeout"})
    assert api.delete("/proxies/web/toxics/timeout_downstream").status_code == 204
    assert api.delete("/proxies/web").status_code == 204
    assert api.get("/proxies").json() == {}


def test_disabling_closes_the_listener_and_enabling_reopens_the_same_port(api):
    port = int(_proxy(api).json()["listen"].rsplit(":", 1)[1])
    resp = api.patch("/proxies/web", json={"enabled": False})
    assert resp.status_code == 200
    assert resp.json()["enabled"] is False
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2)
    assert api.patch("/proxies/web", json={"enabled": True}).json()["listen"].endswith(f":{port}")
    socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_populate_creates_keeps_and_replaces(api):
    first = api.post(
        "/populate",
        json=[
            {"name": "a", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:9"},
            {"name": "b", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:9", "enabled": False},
        ],
    )
    assert first.status_code == 201
    a, b = first.json()["proxies"]
    assert (a["enabled"], b["enabled"]) == (True, False)
    api.post("/proxies/a/toxics", json={"type": "latency"})
    again = api.post(
        "/populate",
        json=[
            {"name": "a", "listen": a["listen"], "upstream": "127.0.0.1:9"},
            {"name": "b", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:10"},
        ],
    ).json()["proxies"]
    assert again[0]["toxics"] != []  # same listen and upstream: kept as it was
    assert (again[1]["upstream"], again[1]["enabled"]) == ("127.0.0.1:10", True)  # replaced
    assert sorted(api.get("/proxies").json()) == ["a", "b"]


def test_populate_validates_everything_before_changing_anything(api):
    resp = api.post(
        "/populate",
        json=[{"name": "ok", "upstream": "127.0.0.1:9"}, {"name": "broken"}],
    )
    assert (resp.status_code, resp.json()["error"]) == (
        400,
        "missing required field: upstream at proxy 2",
    )
    assert api.get("/proxies").json() == {}
    assert api.post("/populate", json={"name": "x"}).json()["error"] == (
        "bad request body: json: cannot unmarshal object into Go value of type "
        '[]struct { toxiproxy.Proxy; Enabled *bool "json:\\"enabled\\"" }'
    )


def test_populate_replaces_a_proxy_named_twice_as_toxiproxy_does(api):
    twice = {"name": "a", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:9"}
    resp = api.post("/populate", json=[twice, twice])
    assert resp.status_code == 201
    first, second = resp.json()["proxies"]
    # The first is bound to a port, so "127.0.0.1:0" differs from it: the second replaces it.
    assert (first["enabled"], second["enabled"]) == (False, True)
    assert api.get("/proxies/a").json() == second


def test_unclean_paths_are_redirected_as_gorilla_mux_does(api):
    resp = api.get("/proxies//web/./toxics", params={"x": "1"})
    assert (resp.status_code, resp.headers["location"]) == (301, "/proxies/web/toxics?x=1")
    assert api.get("/proxies/").status_code == 404  # a trailing slash is another path


def test_browsers_are_refused_like_toxiproxy_does(api):
    resp = api.get("/proxies", headers={"User-Agent": "Mozilla/5.0"})
    assert resp.status_code == 403
