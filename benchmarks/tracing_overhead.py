"""CPU per confirmed booking with tracing on and off, measured in the same run.

    .venv/bin/python benchmarks/tracing_overhead.py [--bookings 200] [--in-flight 8] [--rounds 2]
    make bench-tracing

Brings the whole suite up (`harness.stack.Stack` on free ports, every edge through its proxy)
once with `SVC_TRACING=false` and once with tracing on (spans as JSON lines in the run's
directory, as by default), alternating `--rounds` times, one stack at a time. Each stack is warmed
up, its idle CPU rate measured, then `--bookings` bookings are placed through the gateway,
`--in-flight` at a time, and waited for until settled and notified. The CPU time (user + system)
of the six service processes over the load, less their idle rate over the same time, divided by
the confirmed bookings, is the figure; printed per service and in total, with the ratio on/off.
On a shared machine one stack's figure moves with the other work there, so each round pairs an
"off" with the "on" right after it, and the ratio stated is the median of the rounds' ratios,
with their range.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from harness.stack import Stack  # noqa: E402
from harness.suite_client import AsyncSuiteClient  # noqa: E402
from harness.traces import load_spans  # noqa: E402

IDLE_S = 3.0
WARM_UP_BOOKINGS = 20
# Spans are written every half second: wait that out so their writing is counted too.
EXPORT_WAIT_S = 1.5


@dataclass
class Measure:
    tracing: bool
    bookings: int = 0
    seconds: float = 0.0
    cpu_s: dict[str, float] = field(default_factory=dict)
    spans: int = 0

    def per_booking_ms(self, service: str | None = None) -> float:
        cpu = self.cpu_s[service] if service else sum(self.cpu_s.values())
        return 1000 * cpu / max(self.bookings, 1)


def cpu_seconds(processes: dict[str, psutil.Process]) -> dict[str, float]:
    out = {}
    for name, process in processes.items():
        times = process.cpu_times()
        out[name] = times.user + times.system
    return out


async def book(stack: Stack, count: int, in_flight: int) -> int:
    """Place `count` bookings, `in_flight` at a time; the confirmed ones once all settled."""
    async with AsyncSuiteClient.for_stack(stack, timeout=60.0) as client:
        await client.login()
        user = await client.create_user(name="Bench family")
        hall = await client.create_facility("Bench hall", 90)
        gate = asyncio.Semaphore(in_flight)

        async def one() -> str | None:
            async with gate:
                answer = await client.try_book(user.id, hall.id, client.slots.take())
                return answer.booking_id

        ids = [i for i in await asyncio.gather(*(one() for _ in range(count))) if i]
        settled = await client.wait_settled(ids, timeout=120)
        return sum(1 for b in settled.values() if b.status == "confirmed")


def measure(tracing: bool, bookings: int, in_flight: int) -> Measure:
    env = {} if tracing else {"SVC_TRACING": "false"}
    result = Measure(tracing)
    with Stack(ports="auto", env=env) as stack:
        assert stack.state is not None
        processes = {s.name: psutil.Process(s.pid) for s in stack.state.services.values()}
        asyncio.run(book(stack, WARM_UP_BOOKINGS, in_flight))
        time.sleep(EXPORT_WAIT_S)
        before = cpu_seconds(processes)
        time.sleep(IDLE_S)
        idle = cpu_seconds(processes)
        idle_rate = {k: (idle[k] - before[k]) / IDLE_S for k in idle}
        started = time.monotonic()
        result.bookings = asyncio.run(book(stack, bookings, in_flight))
        time.sleep(EXPORT_WAIT_S)
        result.seconds = time.monotonic() - started
        after = cpu_seconds(processes)
        result.cpu_s = {
            k: max(0.0, after[k] - idle[k] - idle_rate[k] * result.seconds) for k in after
        }
        result.spans = len(load_spans(stack.state.run_dir))
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bookings", type=int, default=200)
    parser.add_argument("--in-flight", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    console = Console()
    runs: list[Measure] = []
    for n in range(args.rounds):
        for tracing in (False, True):
            label = "on" if tracing else "off"
            console.print(f"round {n + 1}/{args.rounds}: tracing {label} …")
            runs.append(measure(tracing, args.bookings, args.in_flight))
    off = [r for r in runs if not r.tracing]
    on = [r for r in runs if r.tracing]
    services = sorted(runs[0].cpu_s)
    table = Table(title="CPU ms per confirmed booking (service processes, idle rate removed)")
    table.add_column("service")
    table.add_column("tracing off", justify="right")
    table.add_column("tracing on", justify="right")
    table.add_column("on / off", justify="right")

    def mean(values: list[float]) -> float:
        return sum(values) / len(values)

    for name in [*services, None]:
        a = mean([r.per_booking_ms(name) for r in off])
        b = mean([r.per_booking_ms(name) for r in on])
        table.add_row(name or "all six", f"{a:.2f}", f"{b:.2f}", f"{b / a:.2f}" if a else "—")
    console.print(table)
    confirmed = sum(r.bookings for r in runs)
    spans = mean([r.spans / max(r.bookings + WARM_UP_BOOKINGS, 1) for r in on])
    total_off = mean([r.per_booking_ms() for r in off])
    total_on = mean([r.per_booking_ms() for r in on])
    ratios = sorted(b.per_booking_ms() / a.per_booking_ms() for a, b in zip(off, on, strict=True))
    median = statistics.median(ratios)
    console.print(
        f"{confirmed} confirmed bookings over {len(runs)} stacks; about {spans:.0f} spans written"
        f" per booking with tracing on; CPU per booking on/off: mean {total_on / total_off:.2f},"
        f" median of the rounds {median:.2f} (rounds {', '.join(f'{r:.2f}' for r in ratios)})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
