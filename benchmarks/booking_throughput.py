"""Confirmed bookings per second through the gateway, and a FastAPI hello-world, in one run.

    .venv/bin/python benchmarks/booking_throughput.py [--seconds 10] [--levels 1,8,32,64]
    make bench-bookings

Brings the whole suite up (`harness.stack.Stack` on free ports, every edge through its
proxy), then at each concurrency level keeps that many `POST /api/bookings` in flight for a
while, each for its own slot with its own Idempotency-Key, and counts the answers: confirmed
bookings per second, p50 and p95 of the answer time (every answer, shed ones included), and
every answer that was not a confirmed booking, by kind. A FastAPI hello-world on one uvicorn
worker is measured with the same load generator in the same run, and each figure is printed
with its ratio to it.

The load generator is wrk (`apt-get install wrk`, scripts in benchmarks/wrk/): a Python client
would itself be the bottleneck of the hello-world figure. A level "holds" when nothing but
confirmed bookings and clean shedding (503 problem bodies with Retry-After) came back and the
p95 stayed under 1 s; the largest level that holds is stated, with what went wrong beyond it.
`--stack-url` measures a stack that is already up (`faultline up`), e.g. while profiling it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from harness.service_metrics import scrape  # noqa: E402
from harness.suite_client import SlotAllocator, SuiteClient, wait_until  # noqa: E402

WRK_DIR = Path(__file__).resolve().parent / "wrk"
P95_LIMIT_MS = 1000.0
HELLO_IN_FLIGHT = 64
HELLO_APP = """from fastapi import FastAPI

app = FastAPI()


@app.get("/hello")
async def hello() -> dict[str, str]:
    return {"hello": "world"}
"""


@dataclass
class Figures:
    """What one wrk run measured."""

    in_flight: int
    raw: dict[str, Any]

    @property
    def seconds(self) -> float:
        return float(self.raw["seconds"])

    @property
    def rate(self) -> float:
        """Confirmed bookings (or, for the hello-world, answers) per second."""
        done = self.raw.get("confirmed", self.raw["answers"])
        return done / self.seconds if self.seconds else 0.0

    @property
    def p50(self) -> float:
        return float(self.raw["p50_ms"])

    @property
    def p95(self) -> float:
        return float(self.raw["p95_ms"])

    @property
    def others(self) -> dict[str, int]:
        names = ("rejected", "cancelled", "pending", "shed", "unavailable", "other", "errors")
        return {name: int(self.raw[name]) for name in names if self.raw.get(name)}

    @property
    def unclean(self) -> dict[str, int]:
        """Answers that are neither a confirmed booking nor clean shedding."""
        return {k: v for k, v in self.others.items() if k != "shed"}

    @property
    def holds(self) -> bool:
        return not self.unclean and self.p95 < P95_LIMIT_MS


def wrk(url: str, in_flight: int, seconds: float, script: str, *args: str) -> dict[str, Any]:
    """One wrk run; the script prints its figures as the last line, in JSON."""
    threads = min(2, in_flight)
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{in_flight}",
        f"-d{seconds:g}s",
        "--timeout",
        "30s",
        "-s",
        str(WRK_DIR / script),
        url,
    ]
    if args:
        command += ["--", *args, str(threads)]
    run = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(run.stdout.strip().splitlines()[-1])


@contextlib.contextmanager
def hello_world() -> Iterator[str]:
    """A FastAPI hello-world on one uvicorn worker, in its own process."""
    with tempfile.TemporaryDirectory(prefix="faultline-bench-") as app_dir:
        (Path(app_dir) / "hello_app.py").write_text(HELLO_APP)
        yield from _serve_hello(app_dir)


def _serve_hello(app_dir: str) -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "hello_app:app", "--port", str(port), "--no-access-log"],
        cwd=app_dir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(app_dir)},
    )
    url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        with contextlib.suppress(httpx.HTTPError):
            return httpx.get(f"{url}/hello", timeout=1).status_code == 200
        return False

    try:
        wait_until(answers, 10.0)
        yield url
    finally:
        process.terminate()
        process.wait(10)


def measure_hello(seconds: float) -> Figures:
    with hello_world() as url:
        wrk(f"{url}/hello", 8, 1, "summary.lua")  # warm-up
        figures = wrk(f"{url}/hello", HELLO_IN_FLIGHT, seconds, "summary.lua")
    return Figures(HELLO_IN_FLIGHT, figures)


def setup_bookings(gateway_url: str) -> tuple[str, str, str]:
    """A token, a user and a facility to book for."""
    with SuiteClient.public(gateway_url, timeout=30) as client:
        token = client.login()
        user = client.create_user(name="Bench family")
        hall = client.create_facility("Bench hall", 50)
        return token.access_token, user.id, hall.id


def measure_bookings(gateway_url: str, levels: list[int], seconds: float) -> list[Figures]:
    token, user, facility = setup_bookings(gateway_url)
    # wrk numbers its slots one hour apart from the start of a slot allocator's region; each
    # level starts 400 days after the last, so no two requests of the benchmark share a slot.
    first = SlotAllocator().first
    url = f"{gateway_url}/api/bookings"
    results = []
    for index, in_flight in enumerate([4, *levels]):
        # wrk stops with requests in flight, which the suite still finishes: start each level
        # on an idle gateway, or its first requests are shed for the last level's.
        wait_idle(gateway_url)
        start = int((first + timedelta(days=400 * index)).timestamp())
        tag = uuid.uuid4().hex[:12]
        raw = wrk(url, in_flight, 2 if index == 0 else seconds, "bookings.lua",
                  token, user, facility, str(start), tag)  # fmt: skip
        if index:  # the first run only warms connections, caches and prepared statements
            results.append(Figures(in_flight, raw))
    return results


def wait_idle(gateway_url: str, deadline_s: float = 60.0) -> bool:
    """Until the gateway reports no request in flight (its own metric)."""

    def idle() -> bool:
        samples = scrape(gateway_url)
        return samples.ok and samples.value("faultline_requests_in_flight") == 0

    return wait_until(idle, deadline_s, 0.2)


def report(hello: Figures, levels: list[Figures], console: Console) -> None:
    table = Table(title="Confirmed bookings through the gateway, distinct slots (wrk)")
    for column in ("in flight", "per second", "÷ hello-world", "p50 ms", "p95 ms", "others"):
        table.add_column(column, justify="left" if column == "others" else "right")
    table.add_row(
        f"hello-world {hello.in_flight}",
        f"{hello.rate:,.0f} req",
        "1",
        f"{hello.p50:.1f}",
        f"{hello.p95:.1f}",
        "",
    )
    for level in levels:
        kinds = dict.fromkeys(k for k in level.raw.get("other_statuses", "").split("; ") if k)
        others = level.others | ({"answers": "; ".join(kinds)} if kinds else {})
        table.add_row(
            str(level.in_flight),
            f"{level.rate:.1f} bookings",
            f"{level.rate / hello.rate:.4f}" if hello.rate else "-",
            f"{level.p50:.0f}",
            f"{level.p95:.0f}",
            ", ".join(f"{k} {v}" for k, v in others.items()) or "-",
        )
    console.print(table)
    largest = max((lv.in_flight for lv in levels if lv.holds), default=0)
    console.print(
        f"largest concurrency held (only confirmed or shed as 503 + Retry-After, p95 < "
        f"{P95_LIMIT_MS / 1000:g} s): {largest or 'none'} in flight"
    )
    beyond = [lv for lv in levels if lv.in_flight > largest and not lv.holds]
    if beyond:
        level = beyond[0]
        why = [f"answers {level.unclean}"] if level.unclean else []
        if level.p95 >= P95_LIMIT_MS:
            why.append(f"p95 {level.p95 / 1000:.2f} s")
        console.print(f"beyond it, at {level.in_flight} in flight: {'; '.join(why)}")
    shed = {lv.in_flight: lv.raw["shed"] for lv in levels if lv.raw.get("shed")}
    if shed:
        console.print(f"shed as 503 + Retry-After, by requests in flight: {shed}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="per concurrency level")
    parser.add_argument("--levels", default="1,8,32,64", help="requests in flight, comma-separated")
    parser.add_argument("--stack-url", help="gateway of a stack already up (default: start one)")
    args = parser.parse_args()
    console = Console()
    if shutil.which("wrk") is None:
        console.print("wrk not found: install it (apt-get install wrk) and run again")
        sys.exit(2)
    levels = [int(x) for x in args.levels.split(",")]
    hello = measure_hello(args.seconds)
    if args.stack_url:
        measured = measure_bookings(args.stack_url.rstrip("/"), levels, args.seconds)
    else:
        from harness.stack import Stack

        console.print("starting the suite…")
        state_dir = tempfile.mkdtemp(prefix="faultline-bench-")
        with Stack(ports="auto", state_file=Path(state_dir) / "stack.json") as stack:
            run_dir = stack.state.run_dir if stack.state else None
            measured = measure_bookings(stack.gateway_url, levels, args.seconds)
        for leftover in (run_dir, state_dir):  # logs and state; nothing failed to explain
            if leftover:
                shutil.rmtree(leftover, ignore_errors=True)
    report(hello, measured, console)


if __name__ == "__main__":
    main()
