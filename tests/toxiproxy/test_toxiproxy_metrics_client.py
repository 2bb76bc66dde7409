"""/metrics counts what went through; the Python client reports the server's errors."""

from __future__ import annotations

import httpx
import pytest

from harness.toxiproxy import ToxiproxyClient, ToxiproxyError

pytestmark = pytest.mark.integration


def _metrics(url: str) -> dict[str, float]:
    text = httpx.get(f"{url}/metrics").text
    return {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line and not line.startswith("#")
    }


def test_metrics_count_connections_bytes_and_activations(server, client, proxy_to, echo, net):
    name, port = proxy_to(echo)
    with net.connect(port) as sock:
        net.round_trip(sock, 1000)
        client.add_toxic(name, "latency", {"latency": 1})
        net.round_trip(sock, 500)
        live = _metrics(server.url)
        assert live[f'toxiproxy_proxy_connections_active{{proxy="{name}"}}'] == 1
    net.wait_for(
        lambda: _metrics(server.url)[f'toxiproxy_proxy_connections_active{{proxy="{name}"}}'] == 0
    )
    m = _metrics(server.url)
    assert m[f'toxiproxy_proxy_connections_total{{proxy="{name}"}}'] == 1
    for direction in ("upstream", "downstream"):
        for kind in ("received", "sent"):
            key = f'toxiproxy_proxy_{kind}_bytes_total{{direction="{direction}",proxy="{name}"}}'
            assert m[key] == 1500
    labels = f'proxy="{name}",toxic="latency_downstream",type="latency"'
    key = f"toxiproxy_toxic_activations_total{{{labels}}}"
    assert m[key] == 1


def test_client_errors_carry_the_server_text_and_status(client):
    with pytest.raises(ToxiproxyError) as missing:
        client.proxy("nope")
    assert (missing.value.status, missing.value.message) == (404, "proxy not found")
    client.create_proxy("a", "127.0.0.1:0", "127.0.0.1:9")
    with pytest.raises(ToxiproxyError) as exists:
        client.create_proxy("a", "127.0.0.1:0", "127.0.0.1:9")
    assert exists.value.status == 409
    with pytest.raises(ToxiproxyError, match="invalid toxic type"):
        client.add_toxic("a", "nope")


def test_client_round_trip_of_every_call(client, echo):
    created = client.create_proxy("bookings->payments", "127.0.0.1:0", echo)
    assert client.proxy("bookings->payments") == created
    toxic = client.add_toxic("bookings->payments", "latency", {"latency": 5}, name="slow")
    assert toxic["name"] == "slow"
    updated = client.update_toxic("bookings->payments", "slow", {"jitter": 2}, toxicity=0.5)
    assert (updated["attributes"], updated["toxicity"]) == ({"latency": 5, "jitter": 2}, 0.5)
    assert [t["name"] for t in client.toxics("bookings->payments")] == ["slow"]
    client.remove_toxic("bookings->payments", "slow")
    assert client.update_proxy("bookings->payments", enabled=False)["enabled"] is False
    client.reset()
    assert client.proxy("bookings->payments")["enabled"] is True
    assert [p["name"] for p in client.populate([{"name": "x", "upstream": echo}])] == ["x"]
    assert sorted(client.proxies()) == ["bookings->payments", "x"]
    client.delete_proxy("x")
    assert client.version() == "2.12.0"


def test_unreachable_server_is_a_clear_error():
    with (
        ToxiproxyClient("http://127.0.0.1:9", timeout=1) as api,
        pytest.raises(ToxiproxyError, match="unreachable"),
    ):
        api.version()
