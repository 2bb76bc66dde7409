"""`--seed` makes every random draw of the server reproducible."""

from __future__ import annotations

import itertools
import socket
from random import Random

import httpx
import pytest

from chaos.toxiproxy import EmbeddedToxiproxy
from chaos.toxiproxy.toxics.slicer import slice_offsets
from harness.toxiproxy import ToxiproxyClient

pytestmark = pytest.mark.integration


def _error_pattern(seed: int | None, upstream: str) -> list[int]:
    with EmbeddedToxiproxy(seed=seed) as server, ToxiproxyClient(server.url) as api:
        listen = api.create_proxy("edge", "127.0.0.1:0", upstream)["listen"]
        api.add_toxic("edge", "http_error", {"status": 503}, toxicity=0.5)
        with httpx.Client(base_url=f"http://{listen}", timeout=5) as http:
            return [http.get(f"/{i}").status_code for i in range(40)]


def _toxicity_pattern(seed: int, upstream: str, net) -> list[bool]:
    """Which of 16 connections a toxicity-0.5 toxic applied to (limit_data of 0 bytes)."""
    with EmbeddedToxiproxy(seed=seed) as server, ToxiproxyClient(server.url) as api:
        listen = api.create_proxy("edge", "127.0.0.1:0", upstream)["listen"]
        api.add_toxic("edge", "limit_data", {"bytes": 1}, toxicity=0.5)
        port = int(listen.rsplit(":", 1)[1])
        cut = []
        for _ in range(16):
            with net.connect(port) as sock:
                sock.sendall(b"ab")
                sock.shutdown(socket.SHUT_WR)
                cut.append(net.recv_until_closed(sock) == b"a")
        return cut


def test_same_seed_same_http_fault_pattern(http_upstream):
    first = _error_pattern(7, http_upstream.address)
    assert first == _error_pattern(7, http_upstream.address)
    assert set(first) == {200, 503}
    assert first != _error_pattern(8, http_upstream.address)


def test_same_seed_same_toxicity_draws_per_connection(echo, net):
    first = _toxicity_pattern(11, echo, net)
    assert first == _toxicity_pattern(11, echo, net)
    assert True in first and False in first
    assert first != _toxicity_pattern(12, echo, net)


def test_slice_sizes_follow_the_generator():
    cuts = slice_offsets(Random(3), 100, 40, 0, 10_000)
    assert cuts == slice_offsets(Random(3), 100, 40, 0, 10_000)
    assert cuts[0] == 0 and cuts[-1] == 10_000
    sizes = [b - a for a, b in itertools.pairwise(cuts)]
    assert all(30 <= s <= 170 for s in sizes)
