"""toxiproxy-python, the client the product card names, drives the embedded server end to end."""

from __future__ import annotations

import pytest
from toxiproxy import Toxiproxy
from toxiproxy.api import APIConsumer
from toxiproxy.exceptions import InvalidToxic, NotFound, ProxyExists

pytestmark = pytest.mark.integration


@pytest.fixture
def toxiproxy(server):
    # The library keeps the server address in class attributes: restore them afterwards.
    saved = APIConsumer.host, APIConsumer.port
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    tp = Toxiproxy()
    tp.update_api_consumer(host, int(port))
    yield tp
    APIConsumer.host, APIConsumer.port = saved


def test_toxiproxy_python_end_to_end(toxiproxy, echo, net):
    assert toxiproxy.running()
    assert b'"version"' in toxiproxy.version()
    proxy = toxiproxy.create(upstream=echo, name="echo")
    port = int(proxy.listen.rsplit(":", 1)[1])
    assert proxy.enabled is True
    assert set(toxiproxy.proxies()) == {"echo"}

    proxy.add_toxic(type="latency", attributes={"latency": 60})
    assert set(proxy.toxics()) == {"latency_downstream"}
    assert proxy.get_toxic("latency_downstream").attributes == {"latency": 60, "jitter": 0}
    with net.connect(port) as sock:
        assert net.round_trip(sock) >= 0.055
    proxy.destroy_toxic("latency_downstream")
    assert proxy.toxics() == {}

    with proxy.down(), pytest.raises(ConnectionRefusedError):
        net.connect(port)
    with net.connect(port) as sock:
        net.round_trip(sock)

    with pytest.raises(ProxyExists):
        toxiproxy.create(upstream=echo, name="echo", listen=proxy.listen)
    with pytest.raises(InvalidToxic):
        proxy.add_toxic(type="no_such_toxic")
    assert toxiproxy.reset()
    assert toxiproxy.destroy(proxy)
    with pytest.raises(NotFound):
        proxy.destroy()
    assert toxiproxy.proxies() == {}


def test_toxiproxy_python_populate(toxiproxy, echo):
    created = toxiproxy.populate(
        [
            {"name": "a", "upstream": echo, "listen": "127.0.0.1:0"},
            {"name": "b", "upstream": echo, "listen": "127.0.0.1:0"},
        ]
    )
    assert sorted(p.name for p in created) == ["a", "b"]
    assert all(not p.listen.endswith(":0") for p in created)
    toxiproxy.destroy_all()
    assert toxiproxy.proxies() == {}
