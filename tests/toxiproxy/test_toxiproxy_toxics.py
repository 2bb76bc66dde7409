"""Each toxic's effect, measured on real TCP connections through an echo server."""

from __future__ import annotations

import contextlib
import socket
import statistics
import time
from random import Random

import pytest

from chaos.toxiproxy.toxics.base import jittered

pytestmark = pytest.mark.integration


def _median_rtt(net, sock, n=5):
    return statistics.median(net.round_trip(sock) for _ in range(n))


# Time is checked two ways only, so that a busy machine cannot fail a test: a toxic never
# acts sooner than its setting (lower bounds), and what it adds is compared, as a ratio, with
# its setting and a baseline measured in the same test. That something does not wait is shown
# by events instead: data arriving long before a removed toxic would have let it through.


def test_latency_delays_each_direction_by_its_setting(client, proxy_to, echo, net):
    name, port = proxy_to(echo)
    with net.connect(port) as sock:
        base = _median_rtt(net, sock)
        client.add_toxic(name, "latency", {"latency": 200})
        client.add_toxic(name, "latency", {"latency": 100}, stream="upstream")
        delayed = _median_rtt(net, sock, n=3)
    assert delayed >= 0.3  # a round trip crosses both toxics
    assert (delayed - base) / 0.3 < 1.5


def test_removing_latency_lets_held_data_go_at_once(client, proxy_to, echo, net, metrics):
    name, port = proxy_to(echo)
    client.add_toxic(name, "latency", {"latency": 60_000})
    with net.connect(port, timeout=20) as sock:
        sock.sendall(b"held")
        net.wait_for(lambda: metrics(name, "received", "downstream") == 4)  # echoed, held
        client.remove_toxic(name, "latency_downstream")
        # Within the socket's 20 s, where the toxic would have held it for a minute.
        assert net.recv_exactly(sock, 4) == b"held"
        net.round_trip(sock)  # and what follows is not delayed either


def test_jitter_keeps_every_delay_within_its_range(client, proxy_to, echo, net):
    name, port = proxy_to(echo)
    with net.connect(port) as sock:
        base = _median_rtt(net, sock)
        client.add_toxic(name, "latency", {"latency": 200, "jitter": 100})
        samples = [net.round_trip(sock) for _ in range(6)]
    assert all(s >= 0.1 for s in samples), samples
    assert all((s - base) / 0.3 < 1.5 for s in samples), samples


def test_jitter_draws_spread_over_latency_plus_minus_jitter():
    rng = Random(7)
    draws = [jittered(rng, 200, 100) for _ in range(500)]
    assert min(draws) >= 100 and max(draws) < 300
    assert min(draws) < 120 and max(draws) > 280  # the whole range is used
    assert jittered(rng, 200, 0) == 200 and jittered(rng, 200, -5) == 200


def test_toxicity_zero_never_applies(client, proxy_to, echo, net):
    name, port = proxy_to(echo)
    client.add_toxic(name, "latency", {"latency": 60_000}, toxicity=0.0)
    with net.connect(port, timeout=20) as sock:
        net.round_trip(sock)  # a minute's delay would time the socket out


def test_bandwidth_limits_the_rate(client, proxy_to, echo, net):
    name, port = proxy_to(echo)
    payload = bytes(100_000)
    with net.connect(port, timeout=20) as sock:
        started = time.perf_counter()
        sock.sendall(payload)
        assert net.recv_exactly(sock, len(payload)) == payload
        base = time.perf_counter() - started
        client.add_toxic(name, "bandwidth", {"rate": 100})  # KB/s: 100 kB take a second
        started = time.perf_counter()
        sock.sendall(payload)
        assert net.recv_exactly(sock, len(payload)) == payload
        elapsed = time.perf_counter() - started
    assert elapsed >= 0.9
    assert (elapsed - base) / 1.0 < 1.5


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
        net.round_trip(sock, 100)  # the first 100 bytes pass
        sock.sendall(b"b" * 100)
        assert net.recv_until_closed(sock) == b"b" * 50  # the count carried over


def test_timeout_drops_data_then_closes_after_the_timeout(client, proxy_to, echo, net):
    name, port = proxy_to(echo)
    client.add_toxic(name, "timeout", {"timeout": 300})
    started = time.perf_counter()
    with net.connect(port) as sock:
        sock.sendall(b"hello")
        assert net.recv_until_closed(sock) == b""
        elapsed = time.perf_counter() - started
    assert elapsed >= 0.3
    assert elapsed / 0.3 < 3


def test_timeout_zero_holds_until_removed_then_closes(client, proxy_to, echo, net, metrics):
    name, port = proxy_to(echo)
    client.add_toxic(name, "timeout", {"timeout": 0})
    with net.connect(port) as sock:
        sock.sendall(b"hello")
        net.held(sock, name, "downstream", 5)  # neither data nor a close
        client.remove_toxic(name, "timeout_downstream")
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
        assert time.perf_counter() - started >= 0.1


def test_slow_close_delays_the_close(client, proxy_to, echo, net):
    name, port = proxy_to(echo)
    client.add_toxic(name, "slow_close", {"delay": 300}, stream="upstream")
    with net.connect(port) as sock:
        base = _median_rtt(net, sock)  # data is not held
        started = time.perf_counter()
        sock.shutdown(socket.SHUT_WR)
        assert net.recv_until_closed(sock) == b""
        elapsed = time.perf_counter() - started
    assert elapsed >= 0.3
    assert (elapsed - base) / 0.3 < 3


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
        net.round_trip(sock)
        client.add_toxic(name, "limit_data", {"bytes": 10})
        sock.sendall(b"x" * 100)
        assert net.recv_until_closed(sock) == b"x" * 10


def test_disabling_a_proxy_closes_open_connections(client, proxy_to, echo, net):
    name, port = proxy_to(echo)
    with net.connect(port) as sock:
        net.round_trip(sock)
        client.update_proxy(name, enabled=False)
        sock.settimeout(5)
        with contextlib.suppress(ConnectionResetError):
            assert sock.recv(10) == b""


def test_a_triggered_reset_peer_still_resets_after_removal(client, proxy_to, echo, net, metrics):
    # It has dropped data already; letting the connection go on would deliver a gap.
    name, port = proxy_to(echo)
    client.add_toxic(name, "reset_peer", {"timeout": 300}, stream="upstream")
    with net.connect(port) as sock:
        sock.sendall(b"dropped")
        # The API shares the proxy's event loop: once it reports the bytes read, the toxic
        # has seen them.
        net.wait_for(lambda: metrics(name, "received", "upstream") == 7)
        client.remove_toxic(name, "reset_peer_upstream")
        with pytest.raises(ConnectionResetError):
            while sock.recv(10):
                pass
