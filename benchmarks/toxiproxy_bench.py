"""Direct vs proxied over loopback, in one run: what a connection through the embedded
Toxiproxy-compatible server costs when no toxic is active (the spliced fast path), and, as a
second proxied path, when a 0 ms latency toxic sends every chunk through the toxic pipeline.

    .venv/bin/python benchmarks/toxiproxy_bench.py [--gib 1] [--repeats 3] [--pings 20000]
    make bench

Three processes take part: a peer (sink for the throughput test, echo for ping-pong), the
proxy server (`faultline toxiproxy --port 0`) and this script as the client. Pass
`--toxiproxy-url` to measure another Toxiproxy (e.g. the real one) instead of starting ours.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from harness.toxiproxy import ToxiproxyClient  # noqa: E402

# Real Toxiproxy 2.x built from source, measured on this kind of machine (iperf3, sockperf).
REAL_THROUGHPUT_RATIO = (0.23, 0.29)
REAL_P50_RATIO = (1.1, 2.0)
CHUNK = 1 << 20


# ---- the peer process ------------------------------------------------------------------
def _peer_connection(conn: socket.socket) -> None:
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    mode = conn.recv(1)
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    total = 0
    while n := conn.recv_into(buf):
        if mode == b"E":
            conn.sendall(view[:n])
        total += n
    if mode == b"S":
        conn.sendall(str(total).encode())
    conn.close()


def run_peer() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    print(listener.getsockname()[1], flush=True)
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=_peer_connection, args=(conn,), daemon=True).start()


# ---- measurements ------------------------------------------------------------------------
def _connect(port: int, mode: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(mode)
    return sock


def throughput(port: int, size: int) -> float:
    """Bytes per second of one stream of `size` bytes into the sink."""
    chunk = b"\0" * CHUNK
    with _connect(port, b"S") as sock:
        started = time.perf_counter()
        for _ in range(size // CHUNK):
            sock.sendall(chunk)
        sock.shutdown(socket.SHUT_WR)
        acknowledged = int(sock.recv(64))
        elapsed = time.perf_counter() - started
    if acknowledged != size:
        raise SystemExit(f"sink received {acknowledged} bytes of {size}")
    return size / elapsed


def ping_pong(port: int, count: int, size: int = 64) -> list[float]:
    """Round-trip times in microseconds of `count` messages of `size` bytes."""
    message = b"p" * size
    samples = []
    with _connect(port, b"E") as sock:
        for i in range(count + 1000):
            started = time.perf_counter_ns()
            sock.sendall(message)
            got = 0
            while got < size:
                got += len(sock.recv(size - got))
            if i >= 1000:  # the first thousand warm caches and the allocator up
                samples.append((time.perf_counter_ns() - started) / 1000)
    samples.sort()
    return samples


def percentile(sorted_samples: list[float], p: float) -> float:
    return sorted_samples[min(len(sorted_samples) - 1, int(len(sorted_samples) * p))]


# ---- orchestration -----------------------------------------------------------------------
def start_peer() -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen([sys.executable, __file__, "--peer"], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    return proc, int(proc.stdout.readline())


def start_server() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "chaos.toxiproxy", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("listening on "):
        raise SystemExit(f"the proxy server did not start: {line!r}")
    return proc, line.split()[-1]


def start_socat(peer_port: int) -> tuple[subprocess.Popen[bytes], int] | None:
    """socat, a relay written in C, as a yardstick of what any user-space hop costs here."""
    if shutil.which("socat") is None:
        return None
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    proc = subprocess.Popen(
        [
            "socat",
            f"TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork,nodelay",
            f"TCP:127.0.0.1:{peer_port},nodelay",
        ]
    )
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    proc.terminate()
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--peer", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--gib", type=float, default=1.0, help="size of each stream (GiB)")
    parser.add_argument("--repeats", type=int, default=3, help="streams per path")
    parser.add_argument("--pings", type=int, default=20000, help="64-byte round trips per path")
    parser.add_argument("--toxiproxy-url", help="measure this Toxiproxy instead of ours")
    parser.add_argument("--no-socat", action="store_true", help="skip the socat yardstick")
    parser.add_argument(
        "--no-toxic", action="store_true", help="skip the path through a 0 ms latency toxic"
    )
    args = parser.parse_args()
    if args.peer:
        run_peer()
        return

    console = Console()
    size = int(args.gib * (1 << 30)) // CHUNK * CHUNK
    peer, peer_port = start_peer()
    procs: list[subprocess.Popen[Any]] = [peer]
    try:
        if args.toxiproxy_url:
            url = args.toxiproxy_url
        else:
            server, url = start_server()
            procs.append(server)
        with ToxiproxyClient(url) as api:
            name = f"bench-{os.getpid()}"
            listen = api.create_proxy(name, "127.0.0.1:0", f"127.0.0.1:{peer_port}")["listen"]
            kind = "faultline" if api.is_embedded() else "toxiproxy"
            paths = {"direct": peer_port, kind: int(listen.rsplit(":", 1)[1])}
            if not args.no_toxic:
                # A 0 ms latency toxic each way: every chunk takes the toxic path (queue, task,
                # the toxic's hooks) instead of splice, so its cost shows beside the fast path.
                toxic_listen = api.create_proxy(
                    f"{name}-toxic", "127.0.0.1:0", f"127.0.0.1:{peer_port}"
                )["listen"]
                for stream in ("upstream", "downstream"):
                    api.add_toxic(f"{name}-toxic", "latency", {"latency": 0}, stream=stream)
                paths[f"{kind}+toxic"] = int(toxic_listen.rsplit(":", 1)[1])
            socat = None if args.no_socat else start_socat(peer_port)
            if socat is not None:
                procs.append(socat[0])
                paths["socat"] = socat[1]
            console.print(f"proxy server: {url} ({kind}); {os.cpu_count()} CPUs")

            rates: dict[str, list[float]] = {path: [] for path in paths}
            for _ in range(args.repeats):  # interleaved so drift affects every path alike
                for path, port in paths.items():
                    rates[path].append(throughput(port, size))
            rtts = {path: ping_pong(port, args.pings) for path, port in paths.items()}
            api.delete_proxy(name)
            if not args.no_toxic:
                api.delete_proxy(f"{name}-toxic")
    finally:
        for proc in reversed(procs):
            proc.terminate()
            proc.wait(timeout=10)

    report(console, args, size, kind, rates, rtts)


def report(
    console: Console,
    args: argparse.Namespace,
    size: int,
    kind: str,
    rates: dict[str, list[float]],
    rtts: dict[str, list[float]],
) -> None:
    title = (
        f"no toxic, loopback: {args.repeats} x {size / (1 << 30):g} GiB streams per path, "
        f"{args.pings} x 64-byte round trips"
    )
    table = Table(title=title)
    table.add_column("measure")
    table.add_column("direct", justify="right")
    relays = [path for path in rates if path != "direct"]
    for path in relays:
        table.add_column(path, justify="right")
        table.add_column(f"{path} / direct", justify="right")
    rate = {path: statistics.median(values) for path, values in rates.items()}
    row = ["throughput (GB/s, median)", f"{rate['direct'] / 1e9:.2f}"]
    for path in relays:
        row += [f"{rate[path] / 1e9:.2f}", f"{rate[path] / rate['direct']:.2f}"]
    table.add_row(*row)
    for label, p in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99)):
        direct = percentile(rtts["direct"], p)
        row = [f"round trip {label} (µs)", f"{direct:.1f}"]
        for path in relays:
            value = percentile(rtts[path], p)
            row += [f"{value:.1f}", f"{value / direct:.2f}"]
        table.add_row(*row)
    console.print(table)

    ratio = rate[kind] / rate["direct"]
    p50 = percentile(rtts[kind], 0.5) / percentile(rtts["direct"], 0.5)
    low, high = REAL_THROUGHPUT_RATIO
    console.print(
        f"throughput: {ratio:.2f} of direct; real Toxiproxy {low}-{high} of direct "
        f"-> {ratio / high:.1f}-{ratio / low:.1f}x its throughput (target: >= 1.5x)"
    )
    low, high = REAL_P50_RATIO
    console.print(
        f"p50 round trip: {p50:.2f}x direct; real Toxiproxy {low}-{high}x "
        f"(target: add at most half of what it adds)"
    )
    if "socat" in rtts:
        floor = percentile(rtts["socat"], 0.5) / percentile(rtts["direct"], 0.5)
        console.print(
            f"socat, a C relay, measured in the same run: p50 {floor:.2f}x direct: the share of "
            "the round trip that any extra user-space hop costs on this machine"
        )


if __name__ == "__main__":
    main()
