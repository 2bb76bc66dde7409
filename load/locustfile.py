"""faultline's load profiles for plain Locust (web UI or headless, one process or many).

    locust -f load/locustfile.py --host http://127.0.0.1:8080            # web UI, smoke
    locust -f load/locustfile.py --headless --load-profile baseline --load-rate 20
    locust -f load/locustfile.py --headless --load-profile spike --processes 4
    locust -f load/locustfile.py --master --headless --load-profile soak --expect-workers 2
    locust -f load/locustfile.py --worker --master-host 10.0.0.5

Without `--host` the gateway of the stack `faultline up` started is used. The profile's shape
drives the users (closed model) or the arrival rate (open model); its thresholds are judged
live and at the end, and decide the exit code (0, 99 a threshold failed, 98 the generator was
saturated). `faultline load` runs this same file in a child process.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

import locust.runners
from locust import LoadTestShape, User, constant, events, task
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from harness.errors import UserError
from load.profiles import Overrides, Profile, duration_arg, get_profile
from load.runtime import SECONDS_MESSAGE, Conductor, Generator, is_master, new_seed

# Workers report Locust's own statistics every second rather than every three, so the
# master's figures (and its HTML report) are complete soon after the users stop.
locust.runners.WORKER_REPORT_INTERVAL = 1.0


class _State:
    profile: Profile | None = None
    conductor: Conductor | None = None
    generator: Generator | None = None


STATE = _State()


@events.init_command_line_parser.add_listener
def _arguments(parser: Any) -> None:
    group = parser  # Locust's own parser: it knows include_in_web_ui, its groups do not
    group.add_argument("--load-profile", default="smoke", help="faultline load profile (smoke)")
    group.add_argument("--load-users", type=int, default=None, help="peak users (closed)")
    group.add_argument("--load-rate", type=float, default=None, help="peak iterations/s")
    group.add_argument("--load-duration", default=None, help="length, e.g. 30s or 2m")
    group.add_argument(
        "--threshold",
        action="append",
        default=None,
        include_in_web_ui=False,
        help="a k6 threshold, e.g. 'http_req_duration: p(95)<800' (repeatable)",
    )
    group.add_argument(
        "--load-seed", type=int, default=None, help="seed of the users' choices (replays a run)"
    )
    hidden_options = (
        "--profile-json",
        "--faultline-stream",
        "--faultline-stop-file",
        "--slot-seed",
    )
    for hidden in hidden_options:
        group.add_argument(hidden, default=None, include_in_web_ui=False, help=hidden[2:])


def _profile(options: Any) -> Profile:
    if getattr(options, "profile_json", None):
        return Profile.from_json(json.loads(options.profile_json))
    duration = options.load_duration
    overrides = Overrides(
        users=options.load_users,
        rate=options.load_rate,
        duration_s=duration_arg(duration) if duration else None,
        thresholds=list(options.threshold or []),
    )
    return get_profile(options.load_profile).overridden(overrides)


def _stack_gateway() -> str:
    from harness.stack import Stack

    stack = Stack.attach()
    if stack is None or not stack.running():
        raise UserError("no --host and no stack is up: start one with `faultline up --detach`")
    return stack.gateway_url


@events.init.add_listener
def _init(environment: Environment, **_: Any) -> None:
    # One line per request would bury Locust's own log.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    runner = environment.runner
    options = environment.parsed_options
    if runner is None or options is None or isinstance(runner, WorkerRunner):
        return
    try:
        STATE.profile = _profile(options)
        if not environment.host:
            environment.host = _stack_gateway()
    except UserError as exc:
        sys.stderr.write(f"faultline: {exc}\n")
        sys.exit(2)
    # Workers get the exact profile with the master's options.
    options.profile_json = json.dumps(STATE.profile.to_json())
    runner.register_message(SECONDS_MESSAGE, _seconds_arrived)


def _seconds_arrived(environment: Environment, msg: Any, **_: Any) -> None:
    if STATE.conductor is not None:
        STATE.conductor.received(msg.data)


@events.test_start.add_listener
def _test_start(environment: Environment, **_: Any) -> None:
    runner, options = environment.runner, environment.parsed_options
    if is_master(runner):
        assert STATE.profile is not None
        stream = getattr(options, "faultline_stream", None)
        stop = getattr(options, "faultline_stop_file", None)
        STATE.conductor = Conductor(
            environment,
            STATE.profile,
            Path(stream) if stream else None,
            Path(stop) if stop else None,
        )
        # Sent to the workers with the spawn message: one clock origin, one region of slots.
        # The region is new for every run: a replayed seed must not book the slots its
        # first run holds (a conflict only where a profile wants one).
        options.faultline_t0 = STATE.conductor.t0
        options.slot_seed = new_seed()
        if options.load_seed is None:
            options.load_seed = new_seed()
    if not isinstance(runner, MasterRunner):
        profile = STATE.profile or _profile(options)
        STATE.profile = profile
        t0 = float(getattr(options, "faultline_t0", None) or time.time())
        STATE.generator = Generator(
            environment, profile, t0, int(options.slot_seed or 0), int(options.load_seed or 0)
        )


@events.test_stop.add_listener
def _test_stop(environment: Environment, **_: Any) -> None:
    if STATE.generator is not None:
        STATE.generator.close()
        STATE.generator = None


@events.quitting.add_listener
def _quitting(environment: Environment, **_: Any) -> None:
    if STATE.conductor is not None:
        STATE.conductor.conclude("quit")
    elif isinstance(environment.runner, WorkerRunner):
        environment.process_exit_code = 0  # the master's code is the run's


def _generator() -> Generator:
    generator = STATE.generator
    if generator is None:
        raise RuntimeError("no load run in progress")
    return generator


class ClosedUser(User):
    """A family (or staff member) of the closed model: an iteration, a think time, again."""

    def wait_time(self) -> float:
        low, high = STATE.profile.think_s if STATE.profile else (1.0, 1.0)
        return self.session.rng.uniform(low, high)

    def on_start(self) -> None:
        self.session = _generator().session()

    @task
    def iteration(self) -> None:
        _generator().run_iteration(self.session)


class ArrivalUser(User):
    """One slot of the open model's pool: runs the iterations the schedule hands it."""

    wait_time = constant(0)

    def on_start(self) -> None:
        generator = _generator()
        self.session = generator.session()
        generator.ready += 1

    @task
    def iteration(self) -> None:
        generator = _generator()
        due = generator.next_due()
        generator.run_iteration(self.session, due)


class ProfileShape(LoadTestShape):
    """The profile's users over time (closed), or its pool of users (open)."""

    def tick(self) -> tuple[int, float, list[type[User]]] | None:
        profile, conductor = STATE.profile, STATE.conductor
        if profile is None:
            return None
        if conductor is not None and conductor.ending is not None:
            conductor.finish(conductor.ending)  # here: see Conductor._conduct
            return None
        if profile.model == "open":
            # Spread over two seconds: every user logs in as it starts.
            n = profile.max_in_flight
            return n, max(1.0, n / 2), [ArrivalUser]
        elapsed = STATE.conductor.elapsed() if STATE.conductor else 0.0
        users = max(1, round(profile.target_at(elapsed)))
        return users, float(users), [ClosedUser]
