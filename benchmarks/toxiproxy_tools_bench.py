"""The embedded proxy measured with iperf3 and sockperf, the tools behind real Toxiproxy's figures.

`toxiproxy_bench.py` measures with its own Python client and peer; this script repeats the
comparison with the exact tools the issue's Toxiproxy figures came from (iperf3 for
throughput, sockperf ping-pong for 64-byte latency), so the ratios are like for like. Direct and
proxied paths are measured alternately in one run; only ratios are compared across machines.

    apt-get install iperf3 sockperf
    .venv/bin/python benchmarks/toxiproxy_tools_bench.py [--seconds 4] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import time

from chaos.toxiproxy import EmbeddedToxiproxy
from harness.processes import free_port
from harness.toxiproxy import ToxiproxyClient

# Real Toxiproxy 2.x, built from source and measured side by side on this kind of machine.
TOXIPROXY_THROUGHPUT = (0.23, 0.29)
TOXIPROXY_P50 = (1.1, 2.0)


def iperf3(port: int, seconds: float) -> float:
    out = subprocess.run(
        ["iperf3", "-c", "127.0.0.1", "-p", str(port), "-t", str(seconds), "-J"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out)["end"]["sum_received"]["bits_per_second"] / 8e9  # GB/s


def sockperf(port: int, seconds: float) -> tuple[float, float]:
    out = subprocess.run(
        [
            "sockperf",
            "ping-pong",
            "-i",
            "127.0.0.1",
            "-p",
            str(port),
            "--tcp",
            "-m",
            "64",
            "-t",
            str(seconds),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    def pct(p: str) -> float:
        match = re.search(rf"percentile {p} =\s+([\d.]+)", out)
        if match is None:
            raise RuntimeError(f"no {p} percentile in sockperf's output:\n{out}")
        return float(match.group(1))

    return pct("50.000"), pct("99.000")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="length of each measurement")
    parser.add_argument("--rounds", type=int, default=3, help="direct/proxied pairs per tool")
    args = parser.parse_args()
    missing = [tool for tool in ("iperf3", "sockperf") if shutil.which(tool) is None]
    if missing:
        print(f"needs {' and '.join(missing)}: apt-get install iperf3 sockperf", file=sys.stderr)
        return 2

    iperf_port, sockperf_port = free_port(), free_port()
    servers = [
        subprocess.Popen(
            ["iperf3", "-s", "-p", str(iperf_port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ),
        subprocess.Popen(
            ["sockperf", "server", "-i", "127.0.0.1", "-p", str(sockperf_port), "--tcp"],
            stdout=subprocess.DEVNULL,
        ),
    ]
    try:
        time.sleep(1.0)  # both servers print nothing useful when ready
        with EmbeddedToxiproxy() as server:
            api = ToxiproxyClient(server.url)

            def proxied(name: str, port: int) -> int:
                listen = api.create_proxy(name, "127.0.0.1:0", f"127.0.0.1:{port}")["listen"]
                return int(listen.rsplit(":", 1)[1])

            iperf_proxy, sockperf_proxy = (
                proxied("iperf3", iperf_port),
                proxied("sockperf", sockperf_port),
            )
            throughput, p50, p99 = [], [], []
            for _ in range(args.rounds):
                direct, through = (
                    iperf3(iperf_port, args.seconds),
                    iperf3(iperf_proxy, args.seconds),
                )
                throughput.append(through / direct)
                (d50, d99), (t50, t99) = (
                    sockperf(sockperf_port, args.seconds),
                    sockperf(sockperf_proxy, args.seconds),
                )
                p50.append(t50 / d50)
                p99.append(t99 / d99)
                print(
                    f"iperf3 {direct:.2f} -> {through:.2f} GB/s ({through / direct:.2f}); "
                    f"sockperf p50 {d50:.1f} -> {t50:.1f} us ({t50 / d50:.2f}x), "
                    f"p99 {d99:.1f} -> {t99:.1f} us ({t99 / d99:.2f}x)",
                    flush=True,
                )
    finally:
        for proc in servers:
            proc.terminate()
            proc.wait()

    tp, lat = statistics.median(throughput), statistics.median(p50)
    lo, hi = TOXIPROXY_THROUGHPUT
    print(
        f"\nmedian of {args.rounds}: throughput {tp:.2f} of direct "
        f"(real Toxiproxy {lo}-{hi}: {tp / hi:.1f}-{tp / lo:.1f}x its rate); "
        f"p50 latency {lat:.2f}x direct, p99 {statistics.median(p99):.2f}x "
        f"(real Toxiproxy p50 {TOXIPROXY_P50[0]}-{TOXIPROXY_P50[1]}x)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
