"""Run a load profile from Python: start it, read its metrics live, stop it, get the verdict.

    run = start("baseline", host=stack.gateway_url, overrides=Overrides(rate=20))
    while run.running():
        latest = run.recorder.seconds()[-3:]       # per-second metrics, merged over workers
    result = run.wait()                              # or run.stop() at any time
    result.exit_code, result.verdicts, result.summary

Locust runs in a child process (`python -m locust -f load/locustfile.py ...`, the same path
as `faultline load` and as plain Locust), never in the caller's: Locust's gevent patches the
standard library of the process it runs in, and the callers (the game-day runner, pytest)
use threads and asyncio. The child's master appends each merged second to an event stream
(JSON lines) that a thread here reads into `run.recorder`; `stop()` asks the child to end
through a stop file, and the child ends gracefully (users stopped, last seconds collected,
thresholds judged) before it exits. The audit runs here, after the child is gone.

Exit codes: 0 every threshold held and the audit is clean; 99 a threshold failed; 98
inconclusive, a threshold failed while the load generator was saturated; 1 the audit found
something lost, duplicated or stuck (whatever the thresholds said); 2 a usage or
configuration error (raised as `UserError` before anything starts).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from harness import extras
from harness.errors import UserError

from . import exit_codes, report
from . import verdicts as verdict_json
from .metrics import Recorder, Second
from .profiles import Overrides, Profile, get_profile, list_profiles
from .thresholds import ThresholdError, Verdict, parse

__all__ = [
    "EXIT_AUDIT",
    "EXIT_INCONCLUSIVE",
    "EXIT_OK",
    "EXIT_THRESHOLD",
    "EXIT_USAGE",
    "LoadResult",
    "LoadRun",
    "Overrides",
    "Profile",
    "get_profile",
    "list_profiles",
    "start",
]

EXIT_OK = exit_codes.OK
EXIT_AUDIT = exit_codes.AUDIT
EXIT_USAGE = exit_codes.USAGE
EXIT_INCONCLUSIVE = exit_codes.INCONCLUSIVE
EXIT_THRESHOLD = exit_codes.THRESHOLD

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
# After the profile's time: the child stops its users, gathers the workers' last seconds
# (up to 15 s) and judges; beyond this it is stopped by signal.
END_GRACE_S = 45.0
AUDIT_TIMEOUT_S = 60.0
HEALTH_TIMEOUT_S = 3.0
START_TIMEOUT_S = 60.0  # Locust's start, forking its workers included


@dataclass
class LoadResult:
    exit_code: int
    verdicts: list[Verdict]
    seconds: list[Second]
    report_dir: Path | None
    summary: dict[str, Any]


def _check_thresholds(profile: Profile) -> None:
    for text in profile.thresholds + profile.step_slo:
        try:
            parse(text)
        except ThresholdError as exc:
            raise UserError(str(exc)) from None


def _check_host(host: str) -> None:
    url = host.rstrip("/") + "/health"
    try:
        answer = httpx.get(url, timeout=HEALTH_TIMEOUT_S)
    except httpx.HTTPError as exc:
        raise UserError(
            f"no suite answers at {host} ({type(exc).__name__}): start one with "
            "`faultline up --detach`, or give the gateway's URL with --host"
        ) from None
    if answer.status_code >= 500:
        raise UserError(f"the gateway at {host} is not healthy (GET /health: {answer.status_code})")


def start(
    profile: str | Profile,
    *,
    host: str,
    overrides: Overrides | None = None,
    seed: int | None = None,
    processes: int = 0,
    report_dir: Path | None = None,
    audit: bool = True,
    stack: Any = None,
) -> LoadRun:
    """Start `profile` against the gateway at `host`; returns once the run has begun.

    `processes` > 0 runs that many Locust worker processes (thresholds are judged on the
    master's merged figures). `stack` is the `harness.stack.Stack` to audit after the run
    (default: the stack `faultline up` recorded, when its gateway is `host`); without one the
    audit is skipped and the summary says so. With `report_dir`, every report goes there.
    """
    extras.require("load", "faultline load")
    chosen = get_profile(profile) if isinstance(profile, str) else profile
    chosen = chosen.overridden(overrides)
    _check_thresholds(chosen)
    if processes < 0:
        raise UserError(f"processes must be 0 (one process) or more, not {processes}")
    _check_host(host)
    run = LoadRun(chosen, host, seed, processes, report_dir, audit, stack)
    run._wait_started(START_TIMEOUT_S)
    return run


class LoadRun:
    """A profile running in a child process; `recorder` fills as its seconds come in.

    `recorder` is on this process's monotonic clock: `recorder.started` is the moment the
    run's second 0 began, `recorder.elapsed()` how long it has run."""

    def __init__(
        self,
        profile: Profile,
        host: str,
        seed: int | None,
        processes: int,
        report_dir: Path | None,
        audit: bool,
        stack: Any,
    ) -> None:
        self.profile = profile
        self.host = host.rstrip("/")
        self.seed = seed
        self.processes = processes
        self.report_dir = report_dir
        self.audit = audit
        self.stack = stack
        self.started_at = datetime.now(UTC)
        # On this process's monotonic clock (Recorder's default), like any recorder a caller
        # reads: `started` is moved to the child's run origin when its `start` line arrives.
        self.recorder = Recorder()
        self._started = threading.Event()
        self.live: list[Verdict] = []  # the latest live judgement
        self._end: dict[str, Any] | None = None
        self._result: LoadResult | None = None
        self._lock = threading.Lock()
        if report_dir is not None:
            report_dir.mkdir(parents=True, exist_ok=True)
            self._workdir = report_dir
            self._own_workdir = False
        else:
            self._workdir = Path(tempfile.mkdtemp(prefix="faultline-load-"))
            self._own_workdir = True
        self.stream_path = self._workdir / "events.jsonl"
        self.stop_path = self._workdir / "stop"
        self.stream_path.unlink(missing_ok=True)
        self.stop_path.unlink(missing_ok=True)
        self.log_path = self._workdir / "locust.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            self._argv(),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            # Its own process group: the workers Locust forks are ended with it.
            start_new_session=True,
        )
        self._tail_thread = threading.Thread(target=self._tail, daemon=True, name="load-tail")
        self._tail_thread.start()

    def _argv(self) -> list[str]:
        argv = [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(LOCUSTFILE),
            "--headless",
            "--only-summary",
            "--host",
            self.host,
            "--profile-json",
            json.dumps(self.profile.to_json()),
            "--faultline-stream",
            str(self.stream_path),
            "--faultline-stop-file",
            str(self.stop_path),
        ]
        if self.seed is not None:
            argv += ["--load-seed", str(self.seed)]
        if self.processes:
            argv += ["--processes", str(self.processes)]
        if self.report_dir is not None:
            argv += ["--html", str(self.report_dir / "locust.html")]
        return argv

    # -- the event stream -------------------------------------------------------------------

    def _tail(self) -> None:
        buffered = ""
        handle = None
        while True:
            if handle is None:
                try:
                    handle = self.stream_path.open("r", encoding="utf-8")
                except FileNotFoundError:
                    if self.process.poll() is not None:
                        return
                    time.sleep(0.1)
                    continue
            chunk = handle.read()
            if chunk:
                buffered += chunk
                *lines, buffered = buffered.split("\n")
                for line in lines:
                    if line.strip():
                        self._event(json.loads(line))
                if self._end is not None:
                    handle.close()
                    return
            elif self.process.poll() is not None:
                # Whatever was written before the exit has been read: nothing more comes.
                if not handle.read():
                    handle.close()
                    return
            else:
                time.sleep(0.1)

    def _event(self, event: dict[str, Any]) -> None:
        kind = event.get("kind")
        if kind == "start":
            # The child's origin is on the wall clock; the recorder keeps the monotonic one.
            self.recorder.started = time.monotonic() - (time.time() - float(event["t0"]))
            self._started.set()
        elif kind == "second":
            self.recorder.merge(Second.from_json(event["second"]))
        elif kind == "judged":
            self.live = [verdict_json.load(v) for v in event["verdicts"]]
        elif kind == "end":
            self._end = event

    def _wait_started(self, timeout: float) -> None:
        """Until the child's run has begun (its users are spawning): a caller may then map
        `recorder.started` to its own clock. A child that ends first is a usage error."""
        deadline = time.monotonic() + timeout
        while not self._started.wait(0.1):
            if self.process.poll() is not None or time.monotonic() > deadline:
                result = self.stop()
                raise UserError(f"the load generator did not start: {result.summary['reason']}")

    # -- control ----------------------------------------------------------------------------

    def running(self) -> bool:
        return self.process.poll() is None

    def elapsed(self) -> float:
        return self.recorder.elapsed()

    def stop(self) -> LoadResult:
        """End the run now (idempotent): users stopped, thresholds judged, the audit run,
        reports written."""
        if self._result is None and self.running():
            self.stop_path.touch()
        return self._finish(END_GRACE_S)

    def wait(self, timeout: float | None = None) -> LoadResult:
        """Until the profile's time is up (or a threshold aborted it); past `timeout`
        seconds the run is stopped instead."""
        if self._result is not None:
            return self._result
        limit = self.profile.duration_s + END_GRACE_S if timeout is None else timeout
        try:
            self.process.wait(limit)
        except subprocess.TimeoutExpired:
            return self.stop()
        return self._finish(END_GRACE_S)

    def _finish(self, grace: float) -> LoadResult:
        with self._lock:
            if self._result is not None:
                return self._result
            try:
                self.process.wait(grace)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGINT)
                try:
                    self.process.wait(10)
                except subprocess.TimeoutExpired:
                    self._signal(signal.SIGKILL)
                    self.process.wait()
            self._tail_thread.join(10)
            self._log.close()
            self._result = self._conclude()
            if self._own_workdir:
                shutil.rmtree(self._workdir, ignore_errors=True)
            return self._result

    def _signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)

    # -- the verdict ------------------------------------------------------------------------

    def _conclude(self) -> LoadResult:
        seconds = self.recorder.seconds()
        end = self._end
        if end is None:
            tail = self.log_path.read_text(errors="replace").strip().splitlines()[-5:]
            end = {
                "exit_code": EXIT_USAGE,
                "reason": f"the load generator ended without a verdict (exit "
                f"{self.process.returncode}): " + " | ".join(tail),
                "verdicts": [],
                "saturation": {"saturated": False, "workers": {}},
                "locust": {},
                "workers_requests": {},
                "elapsed_s": self.recorder.elapsed(),
                "aborted_by": None,
            }
        verdicts = [verdict_json.load(v) for v in end["verdicts"]]
        audit_report = self._audit() if self.audit and self._end is not None else None
        code = exit_codes.with_audit(
            int(end["exit_code"]), audit_report.get("passed") if audit_report else None
        )
        summary = report.summarize(
            profile=self.profile,
            host=self.host,
            processes=self.processes,
            seed=self.seed,
            started_at=self.started_at,
            seconds=seconds,
            end=end,
            verdicts=verdicts,
            audit=audit_report,
            exit_code=code,
        )
        if self.report_dir is not None:
            report.write_all(self.report_dir, summary, seconds)
        return LoadResult(code, verdicts, seconds, self.report_dir, summary)

    def _audit(self) -> dict[str, Any]:
        from harness.audit import audit_stack
        from harness.stack import Stack

        stack = self.stack
        if stack is None:
            found = Stack.attach()
            if found is not None and found.running() and found.gateway_url == self.host:
                stack = found
        if not isinstance(stack, Stack):
            return {"passed": None, "summary": "not audited: no local stack behind this host"}
        result = audit_stack(stack, timeout=AUDIT_TIMEOUT_S)
        return {
            "passed": result.passed,
            "quiet": result.quiet,
            "summary": result.summary(),
            "violations": [str(f) for f in result.violations],
        }
