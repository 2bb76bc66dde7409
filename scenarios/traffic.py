"""The load of a game day: the load layer's profile through `load.api` (Locust, the `load`
extra); without that extra, a small open-model booking workload of this package's own. The
runner also uses that workload for the gentle traffic it sends while waiting for steady state.

Either way the runner sees one interface, `LoadRun`: a `recorder` (`load.metrics.Recorder`,
k6 metric names, per-second `Second`s), `running()` and `stop()`.

The built-in workload starts `rate` iterations a second (open model: an iteration that cannot
start on time is counted as dropped, never silently delayed) through the gateway with the suite
client: place a booking, read it back, list facilities. Requests are tagged with `name` as the
load layer tags them (`POST /api/bookings`, `GET /api/bookings/{id}`, `GET /api/facilities`).
"""

from __future__ import annotations

import asyncio
import importlib.util
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

from harness.suite_client import Answer, AsyncSuiteClient, SlotAllocator
from load.metrics import Recorder

MAX_IN_FLIGHT = 64  # iterations at once; more are dropped (the suite is already saturated)


class LoadRun(Protocol):
    recorder: Recorder

    def running(self) -> bool: ...

    def stop(self) -> Any: ...


def start(
    *,
    host: str,
    profile: str,
    rate: float | None,
    users: int | None,
    duration_s: float,
    thresholds: list[str],
    seed: int,
    processes: int = 0,
    builtin: bool = False,
    report_dir: Path | None = None,
) -> LoadRun:
    """Start the load; it runs `duration_s` unless stopped. `builtin` chooses the built-in
    workload even where the load layer could run the profile."""
    if not builtin and importlib.util.find_spec("locust") is not None:
        from load import api  # needs Locust, which only the `load` extra installs

        overrides = api.Overrides(
            users=users, rate=rate, duration_s=duration_s, thresholds=list(thresholds)
        )
        return api.start(
            profile,
            host=host,
            overrides=overrides,
            seed=seed,
            processes=processes,
            report_dir=report_dir,
            audit=False,
        )
    traffic = BookingTraffic(host, rate=rate or float(users or 5), duration_s=duration_s, seed=seed)
    traffic.start()
    return traffic


class BookingTraffic:
    """An open-model booking workload on its own thread and event loop."""

    def __init__(self, gateway_url: str, *, rate: float, duration_s: float, seed: int) -> None:
        self.gateway_url = gateway_url
        self.rate = rate
        self.duration_s = duration_s
        self.seed = seed
        self.recorder = Recorder()
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._main, name="gameday-load", daemon=True)
        self._ready = threading.Event()

    def start(self) -> None:
        self._thread.start()
        self._ready.wait(30)
        if self.error is not None:
            raise self.error

    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)

    def wait(self) -> None:
        self._thread.join()

    def _main(self) -> None:
        try:
            asyncio.run(self._run())
        except BaseException as exc:  # surfaced by start() or by the runner's checks
            self.error = exc
            self._ready.set()

    async def _run(self) -> None:
        client = AsyncSuiteClient.public(self.gateway_url, slots=SlotAllocator(self.seed))
        try:
            await client.login()
            # Names only have to be new on a suite that earlier runs used too; the seed
            # decides the slots and the timing, which is what a replay repeats.
            suffix = f"{self.seed}-{uuid.uuid4().hex[:12]}"
            user = await client.create_user(f"gameday-{suffix}@example.org", "Game Day")
            hall = await client.create_facility(f"Game-day hall {suffix}", 50)
            # The run's clock starts now, once the workload is ready to send.
            self.recorder = Recorder()
            self._ready.set()
            await self._open_model(client, user.id, hall.id)
        finally:
            await client.aclose()

    async def _open_model(self, client: AsyncSuiteClient, user_id: str, hall_id: str) -> None:
        started = self.recorder.started
        interval = 1.0 / self.rate
        tasks: set[asyncio.Task[None]] = set()
        n = 0
        while not self._stop.is_set():
            due = started + n * interval
            if due - started >= self.duration_s:
                break
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(min(delay, 0.25))
                continue
            n += 1
            if len(tasks) >= MAX_IN_FLIGHT:
                self.recorder.count("dropped_iterations", at=due)
                continue
            task = asyncio.create_task(self._iteration(client, user_id, hall_id, due))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.wait(tasks, timeout=20)

    async def _iteration(
        self, client: AsyncSuiteClient, user_id: str, hall_id: str, due: float
    ) -> None:
        rec = self.recorder
        begun = time.monotonic()
        placed = await self._timed(
            "POST /api/bookings", due, lambda: client.try_book(user_id, hall_id)
        )
        if placed.booking_id:
            await self._timed(
                "GET /api/bookings/{id}", None, lambda: client.try_booking(placed.booking_id)
            )
        await self._timed("GET /api/facilities", None, client.try_facilities)
        rec.trend("iteration_duration", (time.monotonic() - begun) * 1000, at=due)
        rec.count("iterations", at=due)

    async def _timed(
        self, name: str, due: float | None, call: Callable[[], Awaitable[Answer[Any]]]
    ) -> Answer[Any]:
        sent = time.monotonic()
        answer = await call()
        at = sent if due is None else due
        # From the intended start (open model), so a queue in front of the suite shows.
        elapsed = time.monotonic() - (due if due is not None else sent)
        self.recorder.trend("http_req_duration", elapsed * 1000, at=at, name=name)
        self.recorder.rate("http_req_failed", not answer.ok, at=at, name=name)
        self.recorder.count("http_reqs", at=at, name=name)
        self.recorder.rate("checks", answer.ok, at=at, name=name)
        return answer
