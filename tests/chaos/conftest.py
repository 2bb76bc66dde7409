"""Fixtures of the fault API's tests: a proxy server with one proxy per edge of the topology."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from chaos.toxiproxy import EmbeddedToxiproxy
from harness.topology import load_topology
from harness.toxiproxy import ToxiproxyClient


@pytest.fixture
def upstream() -> Iterator[socket.socket]:
    server = socket.create_server(("127.0.0.1", 0))
    yield server
    server.close()


@pytest.fixture
def stack(upstream: socket.socket) -> Iterator[Any]:
    """The parts of a stack the network faults use: its topology and its proxy server, with
    one proxy per edge as the stack creates them."""
    topology = load_topology()
    target = f"127.0.0.1:{upstream.getsockname()[1]}"
    with EmbeddedToxiproxy() as server, ToxiproxyClient(server.url) as client:
        client.populate(
            [
                {"name": e.proxy_name, "listen": "127.0.0.1:0", "upstream": target}
                for e in topology.edges
            ]
        )
        yield SimpleNamespace(topology=topology, toxiproxy_url=server.url, client=client)
