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


# Time is checked so that a busy machine cannot fail a test: a toxic never acts sooner than
# its setting (lower bounds, which also fail a toxic that does nothing); nothing is bounded
# from above by a fixed number. What must not wait is shown by events (bytes passed or held
# in /metrics, data arriving within a socket timeout a held toxic would exceed many times) or
# by a ratio of two durations measured in the same test, with room for a stalled machine.


def _chunks_in_flight(net, sock, metrics, proxy, count, size=10):
    """Seconds from sending the first of `count` chunks to receiving the last back; each is
    sent once the proxy has read the one before, so the toxics see them as separate chunks."""
    before = metrics(proxy, "received", "upstream")
    started = time.perf_counter()
    for sent in range(1, count + 1):
        sock.sendall(bytes([sent]) * size)
        read = before + sent * size
        net.wait_for(lambda read=read: metrics(proxy, "received", "upstream") == read)
    received = net.recv_exactly(sock, count * size)
    elapsed = time.perf_counter() - started
    assert received == b"".join(bytes([i]) * size for i in range(1, count + 1))
    return elapsed


def test_latency_delays_each_direction_by_its_setting(client, proxy_to, echo, net, metrics):
    name, port = proxy_to(echo)
    with net.connect(port) as sock:
        client.add_toxic(name, "latency", {"latency": 200})
        client.add_toxic(name, "latency", {"latency": 100}, stream="upstream")
        delayed = _median_rtt(net, sock, n=3)
        together = _chunks_in_flight(net, sock, metrics, name, count=5)
    assert delayed >= 0.3  # a round trip crosses both toxics
    # Each chunk is delayed from its own arrival, so five in flight together take about one
    # round trip, where delays that added up would take five.
    assert together / delayed < 2.5


def test_removing_latency_lets_held_data_go_at_once(client, proxy_to, echo, net, metrics):
    name, port = proxy_to(echo)
    client.add_toxic(name, "latency", {"latency": 60_000})
    with net.connect(port, timeout=20) as sock:
        sock.sendall(b"held")
        net.held(sock, name, "downstream", 4)  # echoed, and held
        client.remove_toxic(name, "latency_downstream")
        # Within the socket's 20 s, where the toxic would have held it for a minute.
        assert net.recv_exactly(sock, 4) == b"held"
        net.round_trip(sock)  # and what follows is not delayed either


def test_jitter_varies_each_delay_never_below_its_range(client, proxy_to, echo, net):
    name, port = proxy_to(echo)
    client.add_toxic(name, "latency", {"latency": 200, "jitter": 100})
    with net.connect(port) as sock:
        samples = [net.round_trip(sock) for _ in range(8)]
    assert all(s >= 0.1 for s in samples), samples
    # Eight draws over 200 ms spread by less than 20 ms about once in a million runs, and a
    # stall only widens the spread. The draws' upper end is checked below, without a clock.
    assert max(samples) - min(samples) >= 0.02, samples


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
        client.add_toxic(name, "bandwidth", {"rate": 100})  # KB/s: 100 kB take a second
        started = time.perf_counter()
        sock.sendall(payload)
        assert net.recv_exactly(sock, len(payload)) == payload  # within the socket's 20 s
        elapsed = time.perf_counter() - started
    assert elapsed >= 0.9


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


def test_timeout_drops_data_then_closes_after_the_timeout(client, proxy_to, echo, net, metrics):
    name, port = proxy_to(echo)
    client.add_toxic(name, "timeout", {"timeout": 1000})
    started = time.perf_counter()
    # The close comes within the socket's 5 s; a timeout of 0 would never close (below).
    with net.connect(port, timeout=5) as sock:
        sock.sendall(b"hello")
        # Dropped, not delayed: the echo came back into the proxy and does not leave it.
        net.wait_for(lambda: metrics(name, "received", "downstream") == 5)
        assert net.recv_until_closed(sock) == b""
        elapsed = time.perf_counter() - started
    assert metrics(name, "sent", "downstream") == 0
    assert elapsed >= 1.0


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
        passing = _median_rtt(net, sock)
        started = time.perf_counter()
        sock.shutdown(socket.SHUT_WR)
        assert net.recv_until_closed(sock) == b""  # within the socket's 5 s
        elapsed = time.perf_counter() - started
    assert elapsed >= 0.3
    # Data is not held as the close is: round trips on the same connection, measured in the
    # same test, take a small part of the close's delay.
    assert passing < elapsed / 3


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
