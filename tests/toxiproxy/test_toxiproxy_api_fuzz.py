"""Whatever JSON a client sends, the API answers in Toxiproxy's shape, and a 5xx only where
Toxiproxy answers one: a listen address Go cannot resolve or bind."""

from __future__ import annotations

import re

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.integration

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)
fields = st.fixed_dictionaries(
    {},
    optional={
        "name": json_values | st.sampled_from(["t", "latency_downstream"]),
        "type": json_values | st.sampled_from(["latency", "slicer", "http_error", "timeout"]),
        "stream": json_values | st.sampled_from(["upstream", "DOWNSTREAM"]),
        "toxicity": json_values | st.floats(-1, 2),
        "attributes": json_values
        | st.dictionaries(
            st.sampled_from(["latency", "jitter", "average_size", "status", "path", "bytes"]),
            json_values | st.integers(-5, 700),
        ),
        "listen": json_values | st.sampled_from(["127.0.0.1:0", "localhost:0", ":0", "x"]),
        "upstream": json_values | st.sampled_from(["127.0.0.1:9", "nohost:1", "::1"]),
        "enabled": json_values,
    },
)
routes = st.sampled_from(
    [
        ("POST", "/proxies"),
        ("POST", "/populate"),
        ("PATCH", "/proxies/fuzz"),
        ("POST", "/proxies/fuzz/toxics"),
        ("PATCH", "/proxies/fuzz/toxics/t"),
    ]
)


# Go's errors from net.Listen and net.ResolveTCPAddr, which Toxiproxy answers with a 500.
LISTEN_ERROR = re.compile(r"(listen tcp( \S+)?: )?(address .*: |lookup |bind: )")


@pytest.fixture
def api(server):
    with httpx.Client(base_url=server.url, timeout=5) as client:
        yield client


@settings(
    max_examples=150,
    deadline=None,
    # One server for every example: each example cleans up the proxies it made.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(route=routes, body=fields | json_values | st.lists(fields, max_size=2))
def test_every_body_gets_an_answer_in_toxiproxys_shape(api, route, body):
    api.post("/proxies", json={"name": "fuzz", "listen": "127.0.0.1:0", "upstream": "x:9"})
    api.post("/proxies/fuzz/toxics", json={"type": "latency", "name": "t"})
    resp = api.request(route[0], route[1], json=body)
    if resp.status_code >= 400:
        answer = resp.json()
        keys = {"error", "status", "proxies"} if route[1] == "/populate" else {"error", "status"}
        assert set(answer) == keys
        assert answer["status"] == resp.status_code
        assert not answer["error"].startswith("internal error"), answer
    if resp.status_code >= 500:
        assert route[1] in ("/proxies", "/populate", "/proxies/fuzz"), resp.text
        assert LISTEN_ERROR.match(resp.json()["error"]), resp.text
    for name in api.get("/proxies").json():
        api.delete(f"/proxies/{name}")
