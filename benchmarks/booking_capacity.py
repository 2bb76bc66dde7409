"""The suite's capacity on this machine, each figure beside a FastAPI hello-world's, in one run.

    .venv/bin/python benchmarks/booking_capacity.py [--seconds 10]
    make bench-capacity

Measures, one after another (one stack at a time):
1. a FastAPI hello-world on one uvicorn worker (wrk, 64 connections): the ceiling of one
   Python service process here;
2. `GET /api/facilities` through the gateway and its proxies (wrk, 16 connections: under the
   gateway's in-flight bound, so nothing is shed);
3. the booking saga's largest sustained arrival rate: the `breakpoint` profile (bookings at a
   rate stepped up every 10 s; a step holds when its p95 stayed under 1 s with no failed
   request, no failed check and no dropped iteration), every edge through its proxy;
4. the same with the proxies bypassed (services, PostgreSQL and RabbitMQ reached directly),
   so the proxies' cost is known.

Each figure is printed with its ratio to the hello-world's requests per second. The stacks
run with the gateway's per-client rate limit lifted (one demo account sends everything), so
the figures are the suite's, not its limiter's. wrk is `apt-get install wrk`.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from booking_throughput import WRK_DIR, measure_hello  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from harness.stack import Stack  # noqa: E402
from harness.suite_client import SuiteClient  # noqa: E402
from load.api import start  # noqa: E402

FACILITIES_IN_FLIGHT = 16
STACK_ENV = {"SVC_RATE_LIMIT_RPS": "1000000"}
console = Console(highlight=False)


def measure_facilities(stack: Stack, seconds: float) -> dict[str, Any]:
    with SuiteClient.for_stack(stack) as client:
        token = client.login().access_token
        client.create_facility("Bench chapel", 40)
    url = f"{stack.gateway_url}/api/facilities"
    command = ["wrk", "-t2", f"-c{FACILITIES_IN_FLIGHT}", "--timeout", "30s"]
    command += ["-H", f"Authorization: Bearer {token}", "-s", str(WRK_DIR / "summary.lua")]
    subprocess.run([*command, "-d1s", url], capture_output=True, check=True)  # warm-up
    done = subprocess.run([*command, f"-d{seconds:g}s", url], capture_output=True, text=True)
    done.check_returncode()
    raw = json.loads(done.stdout.strip().splitlines()[-1])
    return {
        "rps": raw["answers"] / raw["seconds"],
        "p95_ms": raw["p95_ms"],
        "errors": raw["errors"],
    }


def measure_saga(stack: Stack, label: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="faultline-capacity-") as where:
        console.print(f"  breakpoint profile, {label}…")
        result = start(
            "breakpoint", host=stack.gateway_url, stack=stack, report_dir=Path(where)
        ).wait()
    found = result.summary["capacity"]
    steps = ", ".join(f"{s['rate']:g}{'✓' if s['held'] else '✗'}" for s in found["steps"])
    console.print(f"    steps: {steps}; audit: {result.summary['audit']['summary']}")
    return {
        "rps": found["sustained_rate"] or 0.0,
        "steps": found["steps"],
        "audit_passed": result.summary["audit"]["passed"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each wrk run")
    args = parser.parse_args()

    console.print("FastAPI hello-world, one uvicorn worker…")
    hello = measure_hello(args.seconds)
    figures: list[tuple[str, float, str]] = [
        ("FastAPI hello-world (1 uvicorn worker)", hello.rate, f"p95 {hello.p95:.0f} ms")
    ]
    console.print("the suite, every edge through its proxy…")
    with Stack(ports="auto", env=STACK_ENV) as stack:
        facilities = measure_facilities(stack, args.seconds)
        figures.append(
            (
                "GET /api/facilities through the gateway",
                facilities["rps"],
                f"p95 {facilities['p95_ms']:.0f} ms, {facilities['errors']} errors",
            )
        )
        saga = measure_saga(stack, "through the proxies")
        figures.append(("booking saga, sustained (proxied)", saga["rps"], "p95 < 1 s, no errors"))
    console.print("the suite, proxies bypassed…")
    with Stack(ports="auto", env=STACK_ENV, proxied=False) as stack:
        direct = measure_saga(stack, "proxies bypassed")
        figures.append(("booking saga, sustained (direct)", direct["rps"], "p95 < 1 s, no errors"))

    table = Table(title="capacity on this machine (one run)")
    for column in ("figure", "per second", "ratio to hello-world", "notes"):
        table.add_column(column, justify="left" if column in ("figure", "notes") else "right")
    for name, rate, notes in figures:
        table.add_row(name, f"{rate:.1f}", f"{rate / hello.rate:.4f}", notes)
    console.print(table)
    if saga["rps"] and direct["rps"]:
        console.print(
            f"proxies' cost on the saga: direct / proxied = {direct['rps'] / saga['rps']:.2f}"
        )


if __name__ == "__main__":
    main()
