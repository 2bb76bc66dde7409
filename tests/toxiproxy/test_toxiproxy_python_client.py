"""toxiproxy-python, the client the product card names, drives the embedded server end to end.

It covers what the library offers: create, toxics of every type, update (through its
`APIConsumer`, since the library has no update call of its own), remove, toggle, populate and
reset, and shows that what it sets acts on traffic.
"""

from __future__ import annotations

import pytest
from toxiproxy import Toxiproxy
from toxiproxy.api import APIConsumer
from toxiproxy.exceptions import InvalidToxic, NotFound, ProxyExists

pytestmark = pytest.mark.integration

EVERY_TYPE = {
    "latency": {"latency": 100, "jitter": 10},
    "bandwidth": {"rate": 1000},
    "slow_close": {"delay": 100},
    "timeout": {"timeout": 1000},
    "reset_peer": {"timeout": 100},
    "slicer": {"average_size": 1000, "size_variation": 1000, "delay": 1000},
    "limit_data": {"bytes": 42},
    "noop": {},
}


@pytest.fixture
def toxiproxy(server):
    # The library keeps the server address in class attributes: restore them afterwards.
    saved = APIConsumer.host, APIConsumer.port
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    tp = Toxiproxy()
    tp.update_api_consumer(host, int(port))
    yield tp
    APIConsumer.host, APIConsumer.port = saved


def _port(proxy) -> int:
    return int(proxy.listen.rsplit(":", 1)[1])


def test_server_and_create(toxiproxy, echo):
    assert toxiproxy.running()
    assert toxiproxy.version() == b'{"version": "2.12.0"}\n'
    proxy = toxiproxy.create(upstream=echo, name="echo")
    assert (proxy.name, proxy.upstream, proxy.enabled) == ("echo", echo, True)
    assert proxy.listen.startswith("127.0.0.1:") and _port(proxy) > 0
    assert set(toxiproxy.proxies()) == {"echo"}
    assert toxiproxy.get_proxy("echo").listen == proxy.listen
    off = toxiproxy.create(upstream=echo, name="off", listen="localhost:0", enabled=False)
    assert (off.enabled, off.listen) == (False, "localhost:0")  # as given until started
    with pytest.raises(ProxyExists):
        toxiproxy.create(upstream=echo, name="echo")


@pytest.mark.parametrize(("type_", "attributes"), EVERY_TYPE.items())
def test_toxics_of_every_type(toxiproxy, echo, type_, attributes):
    proxy = toxiproxy.create(upstream=echo, name="typed")
    proxy.add_toxic(type=type_, attributes=attributes, stream="upstream", toxicity=0.5)
    toxic = proxy.get_toxic(f"{type_}_upstream")
    assert (toxic.type, toxic.stream, toxic.toxicity) == (type_, "upstream", 0.5)
    assert toxic.attributes == attributes
    assert proxy.destroy_toxic(f"{type_}_upstream")
    assert proxy.toxics() == {}


def test_toxics_set_through_the_client_act_on_traffic(toxiproxy, echo, net):
    proxy = toxiproxy.create(upstream=echo, name="echo")
    proxy.add_toxic(type="latency", attributes={"latency": 300})
    with net.connect(_port(proxy)) as sock:
        assert net.round_trip(sock) >= 0.3
    proxy.destroy_toxic("latency_downstream")
    proxy.add_toxic(type="limit_data", attributes={"bytes": 3})
    with net.connect(_port(proxy)) as sock:
        sock.sendall(b"abcdef")
        assert net.recv_until_closed(sock) == b"abc"


def test_update_through_the_api_consumer(toxiproxy, echo):
    proxy = toxiproxy.create(upstream=echo, name="echo")
    proxy.add_toxic(type="latency", attributes={"latency": 100, "jitter": 10}, toxicity=0.5)
    updated = APIConsumer.post(
        "/proxies/echo/toxics/latency_downstream", json={"attributes": {"latency": 5}}
    ).json()
    assert (updated["attributes"], updated["toxicity"]) == ({"latency": 5, "jitter": 10}, 0.5)
    moved = APIConsumer.post("/proxies/echo", json={"upstream": "127.0.0.1:9"}).json()
    assert (moved["upstream"], moved["enabled"], moved["listen"]) == (
        "127.0.0.1:9",
        True,
        proxy.listen,
    )


def test_remove(toxiproxy, echo):
    proxy = toxiproxy.create(upstream=echo, name="echo")
    proxy.add_toxic(type="timeout", attributes={"timeout": 0})
    assert proxy.destroy_toxic("timeout_downstream")
    with pytest.raises(NotFound):
        proxy.destroy_toxic("timeout_downstream")
    assert toxiproxy.destroy(proxy)
    with pytest.raises(NotFound):
        proxy.destroy()
    assert toxiproxy.proxies() == {}


def test_toggle(toxiproxy, echo, net):
    proxy = toxiproxy.create(upstream=echo, name="echo")
    proxy.disable()
    assert (proxy.enabled, toxiproxy.get_proxy("echo").enabled) == (False, False)
    with pytest.raises(ConnectionRefusedError):
        net.connect(_port(proxy))
    proxy.enable()
    with net.connect(_port(proxy)) as sock:
        net.round_trip(sock)
    with proxy.down(), pytest.raises(ConnectionRefusedError):
        net.connect(_port(proxy))
    assert toxiproxy.get_proxy("echo").enabled is True


def test_populate(toxiproxy, echo):
    created = toxiproxy.populate(
        [
            {"name": "a", "upstream": echo, "listen": "127.0.0.1:0"},
            {"name": "b", "upstream": echo, "listen": "127.0.0.1:0"},
        ]
    )
    assert sorted(p.name for p in created) == ["a", "b"]
    assert all(not p.listen.endswith(":0") for p in created)
    # The server's own /populate, through the library's API consumer.
    answer = APIConsumer.post("/populate", json=[{"name": "c", "upstream": echo}]).json()
    assert [p["name"] for p in answer["proxies"]] == ["c"]
    assert sorted(toxiproxy.proxies()) == ["a", "b", "c"]
    toxiproxy.destroy_all()
    assert toxiproxy.proxies() == {}


def test_reset(toxiproxy, echo):
    proxy = toxiproxy.create(upstream=echo, name="echo")
    proxy.add_toxic(type="latency", attributes={"latency": 100})
    proxy.add_toxic(type="bandwidth", attributes={"rate": 10}, stream="upstream")
    proxy.disable()
    assert toxiproxy.reset()
    after = toxiproxy.get_proxy("echo")
    assert (after.enabled, after.listen) == (True, proxy.listen)
    assert proxy.toxics() == {}


def test_refusals_raise_the_librarys_exceptions(toxiproxy, echo):
    proxy = toxiproxy.create(upstream=echo, name="echo")
    with pytest.raises(InvalidToxic):
        proxy.add_toxic(type="no_such_toxic")
    proxy.add_toxic(type="noop")
    with pytest.raises(ProxyExists):  # what the library raises for any 409
        proxy.add_toxic(type="noop")
    with pytest.raises(NotFound):
        APIConsumer.get("/proxies/nope")
