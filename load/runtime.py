"""A load run inside Locust: each process records, the master (or the only process) judges.

Every process that runs users files its samples in its own `Recorder` and, once a second,
ships the seconds that are done as a custom Locust message (to itself when it runs alone).
The master merges them into the run's recorder, appends each merged piece to the event
stream (JSON lines: a `start` line, `second` lines that add up, `judged` lines, one `end`
line), judges the thresholds every 2 s, and ends the run: when the profile's time is up, when
an `abortOnFail` threshold failed, or when asked to (a stop file, or its parent gone).

Ending is graceful so no second is lost: the runner stops its users (workers send what they
hold before they report stopped), the master waits for each worker's last seconds, judges the
whole run, writes the `end` line and only then quits.

Runs only where gevent has patched the process (under Locust); the caller's process reads the
stream (`load.api`).
"""

from __future__ import annotations

import json
import logging
import os
import random
import secrets
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gevent
import gevent.queue
import httpx
import psutil
from locust.env import Environment
from locust.runners import LocalRunner, MasterRunner, WorkerRunner

from harness.suite_client import SlotAllocator, SuiteClient

from . import exit_codes
from . import verdicts as verdict_json
from .behaviours import Catalog, ContendedSlots, Measure, Session, iterate
from .generator import saturation
from .metrics import Recorder, Second
from .profiles import Profile
from .thresholds import Judge, parse

log = logging.getLogger("faultline.load")

SECONDS_MESSAGE = "faultline_seconds"
JUDGE_EVERY_S = 2.0
# A second is shipped once it is this far behind: its requests have mostly come back.
SHIP_AFTER_S = 1.0
# Live judgements leave out the newest seconds, which workers are still sending.
SETTLE_S = 2.0
FINAL_WAIT_S = 15.0
LAG_PROBE_S = 0.1
READY_WAIT_S = 10.0
SHAPE_TICK_S = 1.0
SPAWN_STEP_S = 0.05  # the open model's schedule is recomputed at least this often


def _worker_tag(runner: Any) -> str:
    return str(runner.worker_index) if isinstance(runner, WorkerRunner) else "0"


class Generator:
    """What one process that runs users holds: its recorder, clients, slots and schedule."""

    def __init__(
        self, env: Environment, profile: Profile, t0: float, slot_seed: int, seed: int
    ) -> None:
        self.env = env
        self.profile = profile
        self.recorder = Recorder(time.time, started=t0)
        runner = env.runner
        self.worker = _worker_tag(runner)
        workers = 1
        if isinstance(runner, WorkerRunner):
            workers = max(1, int(getattr(env.parsed_options, "expect_workers", 1) or 1))
        self.share = 1.0 / workers
        self.index = runner.worker_index if isinstance(runner, WorkerRunner) else 0
        self.seed = seed
        self.http = httpx.Client(
            timeout=15.0, limits=httpx.Limits(max_connections=512, max_keepalive_connections=256)
        )
        self.catalog = Catalog(contention=profile.contention_slots > 0)
        if profile.contention_slots:
            self.slots: Any = ContendedSlots(profile.contention_slots, slot_seed)
        else:
            partition = self.index % workers
            self.slots = SlotAllocator(slot_seed, partition=partition, partitions=workers)
        self.users = 0
        self.requests = 0  # sent by this process (checks left out)
        self.ready = 0  # users whose session has started (logged in, account open)
        self.in_flight = 0
        self.idle = 0
        self.queue: gevent.queue.Queue[float] = gevent.queue.Queue()
        self.greenlets: list[gevent.Greenlet] = [
            gevent.spawn(self._ship_loop),
            gevent.spawn(self._sample_loop),
        ]
        if profile.model == "open":
            self.greenlets.append(gevent.spawn(self._dispatch))

    # -- users ------------------------------------------------------------------------------

    def session(self) -> Session:
        self.users += 1
        fire = self._fire
        client = SuiteClient.public(self.env.host or "", http=self.http, slots=self.slots)
        rng = random.Random(f"{self.seed}-{self.worker}-{self.users}")
        session = Session(client, Measure(self.recorder, fire), self.catalog, self.slots, rng)
        session.start()
        return session

    def _fire(
        self, method: str, name: str, ms: float, size: int, error: BaseException | None
    ) -> None:
        if method != "check":
            self.requests += 1
        self.env.events.request.fire(
            request_type=method,
            name=name,
            response_time=ms,
            response_length=size,
            exception=error,
            context={},
        )

    def run_iteration(self, session: Session, due: float | None = None) -> None:
        self.in_flight += 1
        try:
            iterate(session, self.profile.mix, due)
        finally:
            self.in_flight -= 1

    def next_due(self) -> float:
        """Open model: wait until the schedule hands this user an iteration's start time."""
        self.idle += 1
        return self.queue.get()

    def _dispatch(self) -> None:
        """Start iterations on the profile's schedule, whatever the response time: a due
        iteration goes to an idle user, or is dropped when every user is busy."""
        profile, rec = self.profile, self.recorder
        # As k6 readies its users before a scenario starts, the schedule begins once this
        # process's users have logged in (the profile ramps from its start meanwhile).
        wanted = max(1, int(profile.max_in_flight * self.share) - 1)
        deadline = time.monotonic() + READY_WAIT_S
        while self.ready < wanted and time.monotonic() < deadline:
            gevent.sleep(0.05)
        t, owed = rec.elapsed(), self.index * self.share  # workers interleave their starts
        while t < profile.duration_s:
            rate = profile.target_at(t) * self.share
            if rate <= 0:
                t += SPAWN_STEP_S
                continue
            need = (1.0 - owed) / rate
            if need > SPAWN_STEP_S:
                owed += rate * SPAWN_STEP_S
                t += SPAWN_STEP_S
                continue
            t += need
            owed = 0.0
            due = rec.started + t
            wait = due - time.time()
            if wait > 0:
                gevent.sleep(wait)
            if self.idle > 0:
                self.idle -= 1
                self.queue.put(due)
            else:
                rec.count("dropped_iterations", at=due)

    # -- shipping and the generator's own health -------------------------------------------

    def _ship_loop(self) -> None:
        while True:
            gevent.sleep(1.0)
            self.ship(int(self.recorder.elapsed() - SHIP_AFTER_S))

    def ship(self, until: int, final: bool = False) -> None:
        seconds = [s.to_json() for s in self.recorder.take(until)]
        if seconds or final:
            data = {
                "worker": self.worker,
                "seconds": seconds,
                "final": final,
                "requests": self.requests,
            }
            self.env.runner.send_message(SECONDS_MESSAGE, data)

    def _sample_loop(self) -> None:
        process = psutil.Process()
        process.cpu_percent(None)
        worst, second = 0.0, int(self.recorder.elapsed())
        while True:
            before = time.monotonic()
            gevent.sleep(LAG_PROBE_S)
            worst = max(worst, (time.monotonic() - before - LAG_PROBE_S) * 1000.0)
            now = int(self.recorder.elapsed())
            if now != second:
                at = self.recorder.started + second
                rec, tag = self.recorder, self.worker
                rec.gauge("loop_lag_ms", round(worst, 1), at=at, worker=tag)
                rec.gauge("generator_cpu", process.cpu_percent(None), at=at, worker=tag)
                closed = self.profile.model == "closed" and self.env.runner is not None
                vus = self.env.runner.user_count if closed else self.in_flight
                rec.gauge("vus", vus, at=at, worker=tag)
                worst, second = 0.0, now

    def close(self) -> None:
        gevent.killall(self.greenlets, block=True)
        self.ship(10**9, final=True)
        self.http.close()


class Conductor:
    """The master's side: merges seconds, streams them, judges, and ends the run."""

    def __init__(
        self, env: Environment, profile: Profile, stream: Path | None, stop_file: Path | None
    ) -> None:
        self.env = env
        self.profile = profile
        self.t0 = time.time()
        self.recorder = Recorder(time.time, started=self.t0)
        self.judge = Judge([parse(t) for t in profile.thresholds])
        self.stream = stream.open("a", encoding="utf-8") if stream else None
        self.stop_file = stop_file
        self.parent = os.getppid()
        self.finals: set[str] = set()
        self.requests: dict[str, int] = {}
        self.ending: str | None = None  # why the run is to end, once it is
        self.end: dict[str, Any] | None = None
        self._emit({"kind": "start", "t0": self.t0, "profile": profile.to_json()})
        self.greenlet = gevent.spawn(self._conduct)

    def _emit(self, line: dict[str, Any]) -> None:
        if self.stream is not None:
            self.stream.write(json.dumps(line) + "\n")
            self.stream.flush()

    def received(self, data: dict[str, Any]) -> None:
        for raw in data["seconds"]:
            second = Second.from_json(raw)
            self.recorder.merge(second)
            self._emit({"kind": "second", "second": raw})
        self.requests[data["worker"]] = int(data.get("requests", 0))
        if data.get("final"):
            self.finals.add(data["worker"])

    def elapsed(self) -> float:
        return time.time() - self.t0

    def _settled(self) -> list[Second]:
        return self.recorder.seconds(until=max(0, int(self.elapsed() - SETTLE_S)))

    def _conduct(self) -> None:
        last_judged = 0.0
        while self.ending is None:
            gevent.sleep(0.5)
            elapsed = self.elapsed()
            if elapsed - last_judged >= JUDGE_EVERY_S:
                last_judged = elapsed
                aborting = self.judge.tick(self._settled(), elapsed)
                self._emit(
                    {
                        "kind": "judged",
                        "at_s": elapsed,
                        "verdicts": [verdict_json.dump(v) for v in self.judge.verdicts],
                    }
                )
                if aborting is not None:
                    self.ending = f"abort: {aborting.threshold.source}"
            if elapsed >= self.profile.duration_s:
                self.ending = "duration"
            elif self.stop_file is not None and self.stop_file.exists():
                self.ending = "stopped"
            elif os.getppid() != self.parent:
                self.ending = "parent gone"
        # The shape's greenlet ends the run (`finish`): Locust quits as soon as that greenlet
        # is gone, so stopping the users from anywhere else would lose the last seconds.
        gevent.sleep(SHAPE_TICK_S * 3)
        if self.end is None:
            self.finish(self.ending)
            if bool(getattr(self.env.parsed_options, "headless", True)):
                self.env.runner.quit()

    def finish(self, reason: str) -> None:
        """Stop the users, collect every process's last seconds, judge, write the end."""
        if self.end is not None:
            return
        runner = self.env.runner
        if runner is not None and runner.state not in ("stopped", "init"):
            runner.stop()
        if isinstance(runner, MasterRunner):
            expected = max(1, len(runner.clients.all))
            deadline = time.monotonic() + FINAL_WAIT_S
            while len(self.finals) < expected and time.monotonic() < deadline:
                gevent.sleep(0.1)
            # Locust's own figures arrive with the workers' next reports.
            while self._locust_figures()["requests"] < sum(self.requests.values()):
                if time.monotonic() >= deadline:
                    break
                gevent.sleep(0.2)
        self.conclude(reason)

    def _locust_figures(self) -> dict[str, int]:
        """Requests and failures in Locust's own statistics (checks left out)."""
        figures = {"requests": 0, "failures": 0}
        stats = self.env.runner.stats if self.env.runner is not None else None
        for entry in stats.entries.values() if stats is not None else []:
            if entry.method != "check":
                figures["requests"] += entry.num_requests
                figures["failures"] += entry.num_failures
        return figures

    def conclude(self, reason: str) -> None:
        if self.end is not None:
            return
        seconds = self.recorder.seconds()
        elapsed = self.elapsed()
        verdicts = self.judge.finish(seconds, elapsed)
        busy = saturation(seconds)
        passed = all(v.ok for v in verdicts)
        code = exit_codes.of_thresholds(passed, busy["saturated"])
        aborted = self.judge.abort.threshold.source if self.judge.abort else None
        locust = self._locust_figures()
        self.end = {
            "kind": "end",
            "exit_code": code,
            "reason": reason,
            "aborted_by": aborted,
            "elapsed_s": round(elapsed, 3),
            "verdicts": [verdict_json.dump(v) for v in verdicts],
            "saturation": busy,
            "locust": locust,
            "workers_requests": self.requests,
        }
        self._emit(self.end)
        if self.stream is not None:
            self.stream.close()
            self.stream = None
        self.env.process_exit_code = code
        _log_verdicts(verdicts, code)


def _log_verdicts(verdicts: Sequence[Any], code: int) -> None:
    for v in verdicts:
        log.info("%s %s: %s", "✓" if v.ok else "✗", v.threshold.source, v.describe())
    log.info("thresholds decide exit code %d", code)


def new_seed() -> int:
    return secrets.randbelow(2**31)


def is_master(runner: Any) -> bool:
    return isinstance(runner, MasterRunner | LocalRunner)
