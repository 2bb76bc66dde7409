"""Bytes go through unchanged and in order, with and without toxics, under load and abuse."""

from __future__ import annotations

import contextlib
import os
import socket
import struct
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

pytestmark = pytest.mark.integration


def _exchange(net, port: int, payload: bytes) -> bytes:
    """Send while receiving (a large payload would fill both buffers otherwise)."""
    with net.connect(port, timeout=20) as sock:
        sender = threading.Thread(target=sock.sendall, args=(payload,))
        sender.start()
        received = net.recv_exactly(sock, len(payload))
        sender.join()
    return received


@pytest.mark.parametrize("size", [1, 1000, 3_000_000])
def test_random_payloads_come_back_byte_exact(proxy_to, echo, net, size):
    _, port = proxy_to(echo)
    payload = os.urandom(size)
    assert _exchange(net, port, payload) == payload


def test_random_payloads_come_back_byte_exact_through_toxics(client, proxy_to, echo, net):
    name, port = proxy_to(echo)
    client.add_toxic(name, "slicer", {"average_size": 700, "size_variation": 300}, "upstream")
    client.add_toxic(name, "latency", {"latency": 5, "jitter": 4})
    client.add_toxic(name, "bandwidth", {"rate": 50_000}, "upstream")
    payload = os.urandom(1_500_000)
    assert _exchange(net, port, payload) == payload


def test_toxics_added_and_removed_under_traffic_lose_nothing(client, proxy_to, echo, net):
    name, port = proxy_to(echo)
    payload = os.urandom(4_000_000)
    result: list[bytes] = []
    worker = threading.Thread(target=lambda: result.append(_exchange(net, port, payload)))
    worker.start()
    while worker.is_alive():
        client.add_toxic(name, "latency", {"latency": 1})
        client.add_toxic(name, "slicer", {"average_size": 2000, "size_variation": 1000}, "upstream")
        client.remove_toxic(name, "latency_downstream")
        client.remove_toxic(name, "slicer_upstream")
        worker.join(0.01)
    assert result == [payload]


def test_hundreds_of_concurrent_connections(proxy_to, echo, net):
    _, port = proxy_to(echo)
    count = 300
    socks = [net.connect(port, timeout=20) for _ in range(count)]
    try:
        for i, sock in enumerate(socks):
            sock.sendall(struct.pack("!I", i) * 64)
        for i, sock in enumerate(socks):
            assert net.recv_exactly(sock, 256) == struct.pack("!I", i) * 64
    finally:
        for sock in socks:
            sock.close()


def test_many_connections_in_parallel_with_a_toxic(client, proxy_to, echo, net):
    name, port = proxy_to(echo)
    client.add_toxic(name, "latency", {"latency": 20})

    def one(i: int) -> bytes:
        payload = os.urandom(2000 + i)
        return payload if _exchange(net, port, payload) == payload else b""

    with ThreadPoolExecutor(max_workers=50) as pool:
        assert all(pool.map(one, range(200)))


def test_clients_vanishing_mid_transfer_do_not_hurt_the_server(client, proxy_to, echo, net):
    name, port = proxy_to(echo)
    client.add_toxic(name, "latency", {"latency": 10}, stream="upstream")
    for abort in range(20):
        sock = net.connect(port)
        sock.sendall(os.urandom(200_000))
        if abort % 2:  # RST instead of FIN
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    client.remove_toxic(name, "latency_upstream")
    payload = os.urandom(100_000)
    assert _exchange(net, port, payload) == payload
    net.wait_for(lambda: _active(client, name) == 0)


def _active(client, name: str) -> float:
    text = httpx.get(f"{client.url}/metrics").text
    line = next(x for x in text.splitlines() if x.startswith("toxiproxy_proxy_connections_active"))
    return float(line.rsplit(" ", 1)[1])


def test_upstream_refusing_closes_the_client(proxy_to, net):
    unused = socket.socket()
    unused.bind(("127.0.0.1", 0))
    port_without_server = unused.getsockname()[1]
    unused.close()
    _, port = proxy_to(f"127.0.0.1:{port_without_server}")
    for _ in range(3):
        with net.connect(port) as sock, contextlib.suppress(ConnectionResetError):
            assert sock.recv(10) == b""


def test_half_close_is_passed_on(proxy_to, echo, net):
    _, port = proxy_to(echo)
    with net.connect(port) as sock:
        sock.sendall(b"last words")
        sock.shutdown(socket.SHUT_WR)
        assert net.recv_until_closed(sock) == b"last words"
