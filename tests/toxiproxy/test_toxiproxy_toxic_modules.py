"""A toxic type is one module: the registry finds it and the data path calls it by its hooks,
never by its name."""

from __future__ import annotations

import ast
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import chaos.toxiproxy
from chaos.toxiproxy.state import ToxicState
from chaos.toxiproxy.toxics import EXTENSION_TYPES, REGISTRY, ToxicKind, register
from chaos.toxiproxy.toxics.base import attribute
from harness.toxiproxy import EXTENSION_TOXIC_TYPES

PACKAGE = Path(chaos.toxiproxy.__file__).parent
TOXIPROXY_TYPES = {
    "noop",
    "latency",
    "bandwidth",
    "slow_close",
    "timeout",
    "reset_peer",
    "slicer",
    "limit_data",
}


def test_every_type_is_registered_from_a_module_of_its_own():
    assert set(REGISTRY) == TOXIPROXY_TYPES | {"http_error", "http_latency"}
    for name, kind in REGISTRY.items():
        assert kind.__module__ == f"chaos.toxiproxy.toxics.{name}"
        assert kind.type_name == name


def test_the_data_path_names_no_toxic_type():
    for path in [*PACKAGE.glob("*.py")]:
        tree = ast.parse(path.read_text())
        strings = {
            node.value
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
        }
        assert not strings & set(REGISTRY), path.name


def test_the_client_knows_the_servers_extension_types():
    assert EXTENSION_TOXIC_TYPES == EXTENSION_TYPES == {"http_error", "http_latency"}
    assert not EXTENSION_TYPES & TOXIPROXY_TYPES


@pytest.mark.integration
def test_a_new_toxic_is_one_registered_class(client, proxy_to, echo, net):
    @register("shout")
    @dataclass
    class ShoutToxic(ToxicKind):
        times: int = attribute("int64", 1)

        async def pipe(
            self, d: object, state: ToxicState, data: bytes, at: float
        ) -> AsyncIterator[bytes]:
            yield data.upper() * self.times

    try:
        name, port = proxy_to(echo)
        added = client.add_toxic(name, "shout", {"times": 2}, stream="upstream")
        assert added["attributes"] == {"times": 2}
        with net.connect(port) as sock:
            sock.sendall(b"hey")
            assert net.recv_exactly(sock, 6) == b"HEYHEY"
    finally:
        del REGISTRY["shout"]
