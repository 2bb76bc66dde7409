"""Each toxic's effect, measured on real TCP connections through an echo server."""

from __future__ import annotations

import contextlib
import socket
import statistics
import time

import httpx
import pytest

pytestmark = pytest.mark.integration


def _median_rtt(net, sock, n=5):
    return statistics.median(net.round_trip(sock) for _ in range(n))


def test_latency_adds_the_delay_to_each_direction(client, proxy_to, echo, net):
    name, port = proxy_to(echo)
    with net.connect(port) as sock:
        base = _median_rtt(net, sock)
        client.add_toxic(name, "latency", {"latency": 40})
        client.add_toxic(name, "latency", {"latency": 20}, stream="upstream")
        delayed = _median_rtt(net, sock)
        client.remove_toxic(name, "latency_downstream")
        client.remove_toxic(name, "latency_upstream")
        after = _median_rtt(net, sock)
    # One open connection: the toxics took effect on it and left with their removal.
    assert 0.058 <= delayed - base <= 0.120
    assert after < 0.015


def test_jitter_stays_within_bounds(client, proxy_to, echo, net):
    name, port = proxy_to(echo)
    client.add_toxic(name, "latency", {"latency": 30, "jitter": 10})
    with net.connect(port) as sock:
        samples = [net.round_trip(sock) for _ in range(8)]
    assert all(0.019 <= s <= 0.080 for s in samples), samples
    assert max(samples) - min(samples) > 0.002  # the delays do vary


def test_toxicity_zero_never_applies(client, proxy_to, echo, net):
    name, port = proxy_to(echo)
    client.add_toxic(name, "latency", {"latency": 200}, toxicity=0.0)
    with net.connect(port) as sock:
        assert _median_rtt(net, sock) < 0.1


def test_bandwidth_limits_the_rate(client, proxy_to, echo, net):
    name, port = proxy_to(echo)
    client.add_toxic(name, "bandwidth", {"rate": 200})  # KB/s
    payload = bytes(100_000)
    with net.connect(port, timeout=10) as sock:
        started = time.perf_counter()
        sock.sendall(payload)
        assert net.recv_exactly(sock, len(payload)) == payload
        elapsed = time.perf_counter() - started
    assert 0.45 <= elapsed <= 1.2  # 100 kB at 200 kB/s = 0.5 s


def test_limit_data_cuts_at_the_limit_then_closes(client, proxy_to, echo, net):
    name, port = proxy_to(echo)
    client.add_toxic(name, "limit_data", {"bytes": 1000})
    with net.connect(port) as sock:
        sock.sendall(bytes(range(256)) * 20)
        received = net.recv_until_closed(sock)
    assert received == (bytes(range(256)) * 20)[:1000]


def test_limit_data_counts_across_chunks(client, proxy_to, echo, net):
    name, port = proxy_to(echo)
    client.add_toxic(name, "limit_data", {"bytes": 150})
    with net.connect(port) as sock:
        assert net.round_trip(sock, 100) < 0.1  # first 100 bytes pass
        sock.sendall(b"b" * 100)
        assert net.recv_until_closed(sock) == b"b" * 50  # the count carried over


def test_timeout_drops_data_then_closes_after_the_timeout(client, proxy_to, echo, net):
    name, port = proxy_to(echo)
    client.add_toxic(name, "timeout", {"timeout": 300})
    with net.connect(port) as sock:
        started = time.perf_counter()
        sock.sendall(b"hello")
        assert net.recv_until_closed(sock) == b""
        elapsed = time.perf_counter() - started
    assert 0.25 <= elapsed <= 1.0


def test_timeout_zero_holds_until_removed_then_closes(client, proxy_to, echo, net):
    name, port = proxy_to(echo)
    client.add_toxic(name, "timeout", {"timeout": 0})
    with net.connect(port) as sock:
        sock.sendall(b"hello")
        sock.settimeout(0.4)
        with pytest.raises(TimeoutError):
            sock.recv(10)  # held: neither data nor a close
        client.remove_toxic(name, "timeout_downstream")
        sock.settimeout(5)
        assert net.recv_until_closed(sock) == b""


def test_reset_peer_resets_the_connection(client, proxy_to, echo, net):
    name, port = proxy_to(echo)
    client.add_toxic(name, "reset_peer", {"timeout": 100}, stream="upstream")
    with net.connect(port) as sock:
        started = time.perf_counter()
        sock.sendall(b"hello")
        with pytest.raises(ConnectionResetError):
            while sock.recv(10):
                pass
        assert time.perf_counter() - started >= 0.09


def test_slow_close_delays_the_close(client, proxy_to, echo, net):
    name, port = proxy_to(echo)
    client.add_toxic(name, "slow_close", {"delay": 300}, stream="upstream")
    with net.connect(port) as sock:
        assert net.round_trip(sock) < 0.1  # data is not delayed
        started = time.perf_counter()
        sock.shutdown(socket.SHUT_WR)
        assert net.recv_until_closed(sock) == b""
        elapsed = time.perf_counter() - started
    assert 0.28 <= elapsed <= 1.0


def test_slicer_splits_and_spaces_the_data(client, proxy_to, echo, net):
    name, port = proxy_to(echo)
    client.add_toxic(
        name, "slicer", {"average_size": 100, "size_variation": 40, "delay": 20_000}
    )  # 20 ms between slices
    payload = bytes(range(256)) * 4
    with net.connect(port) as sock:
        started = time.perf_counter()
        sock.sendall(payload)
        reads = []
        got = b""
        while len(got) < len(payload):
            part = sock.recv(65536)
            reads.append(part)
            got += part
        elapsed = time.perf_counter() - started
    assert got == payload
    assert len(reads) >= 5  # about ten slices of 100 +/- 40 bytes
    assert elapsed >= 0.1


def test_a_toxic_added_on_an_open_connection_takes_effect(client, proxy_to, echo, net):
    name, port = proxy_to(echo)
    with net.connect(port) as sock:
        assert net.round_trip(sock) < 0.05
        client.add_toxic(name, "limit_data", {"bytes": 10})
        sock.sendall(b"x" * 100)
        assert net.recv_until_closed(sock) == b"x" * 10


def test_disabling_a_proxy_closes_open_connections(client, proxy_to, echo, net):
    name, port = proxy_to(echo)
    with net.connect(port) as sock:
        assert net.round_trip(sock) < 0.05
        client.update_proxy(name, enabled=False)
        sock.settimeout(5)
        with contextlib.suppress(ConnectionResetError):
            assert sock.recv(10) == b""


def test_a_triggered_reset_peer_still_resets_after_removal(client, proxy_to, echo, net):
    # It has dropped data already; letting the connection go on would deliver a gap.
    name, port = proxy_to(echo)
    client.add_toxic(name, "reset_peer", {"timeout": 300}, stream="upstream")
    with net.connect(port) as sock:
        sock.sendall(b"dropped")
        # The API shares the proxy's event loop: once it reports the bytes read, the toxic
        # has seen them.
        net.wait_for(lambda: _received_upstream(client, name) == 7)
        client.remove_toxic(name, "reset_peer_upstream")
        with pytest.raises(ConnectionResetError):
            while sock.recv(10):
                pass


def _received_upstream(client, name: str) -> int:
    wanted = f'toxiproxy_proxy_received_bytes_total{{direction="upstream",proxy="{name}"}}'
    for line in httpx.get(f"{client.url}/metrics").text.splitlines():
        if line.startswith(wanted):
            return int(float(line.rsplit(" ", 1)[1]))
    return 0
