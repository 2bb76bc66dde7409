"""pytest plugin (entry point `faultline`): markers and fixtures for the booking suite.

Fixtures:
- `faultline_stack`: the whole suite, started once per session on free ports and torn down at
  the end (or, with `--faultline-reuse`, the stack `faultline up` recorded, left running).
- `faultline_stack_factory(env=..., service_env=..., seed=...)`: a further stack with other
  settings, e.g. a resilience switch turned off (`env={"SVC_BREAKERS": "false"}`), or
  `service_env={"bookings": {...}}` for one service; one per distinct setting per session.
  `with faultline_stack_factory.single_use(...) as stack:` stops it at the block's end, for a
  setting that no later test needs: each stack holds PostgreSQL connections, and the server
  has 100.
- `gateway_client`: an `httpx.Client` on the gateway with a bearer token for demo/demo.
- `toxiproxy`: toxiproxy-python's `Toxiproxy()` pointed at the stack's proxy server (a real
  Toxiproxy or the embedded one); every toxic is removed (and every proxy re-enabled) after the
  test that used it.
- `load_profile(profile, users=, rate=, duration=, thresholds=, processes=, seed=)`: runs a
  load profile (`load.profiles`) against the session stack in a child Locust process, audits
  the stack after it, writes its reports under the test's tmp_path, and returns the
  `LoadResult` (exit_code 0 when every threshold held and the audit was clean).
- `toxiproxy_client`: the same server through faultline's own client
  (`harness.toxiproxy.ToxiproxyClient`), which also updates proxies and toxics and tells the
  embedded server's extensions; reset after the test as well.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

MARKERS = {
    "unit": "pure logic, no network",
    "integration": "real PostgreSQL / RabbitMQ / sockets, no full stack",
    "e2e": "through the gateway with the whole stack up",
    "contract": "Pact consumer tests and provider verification",
    "fuzz": "Schemathesis fuzzing of the OpenAPI documents",
    "chaos": "fault-injection experiments against the stack",
    "load": "Locust load profiles with SLO thresholds",
}
STACK_URL_ENV = "FAULTLINE_STACK_URL"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("faultline")
    group.addoption(
        "--faultline-reuse",
        action="store_true",
        default=False,
        help="use the stack already up (FAULTLINE_STACK_URL, or the one `faultline up` "
        "recorded) instead of starting one; it is left running",
    )
    group.addoption(
        "--faultline-topology",
        default=None,
        help="topology file of the suite to start (default: $FAULTLINE_TOPOLOGY or the "
        "booking suite's)",
    )
    group.addoption(
        "--faultline-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for every service of the session stack (repeatable), "
        "e.g. SVC_RETRIES=false",
    )


def pytest_configure(config: pytest.Config) -> None:
    for name, doc in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {doc}")


SWEEP_ENV = "FAULTLINE_SWEEP"


def pytest_sessionstart(session: pytest.Session) -> None:
    """Remove what runs killed part-way left behind (never what a live run uses), so leftovers
    do not pile up on shared servers. `FAULTLINE_SWEEP=0` turns it off."""
    config = session.config
    if os.environ.get(SWEEP_ENV, "1").lower() in ("0", "false", "no"):
        return
    if hasattr(config, "workerinput"):  # an xdist worker: the controller sweeps
        return
    from harness import infra
    from harness.sweep import sweep
    from harness.topology import load_topology

    try:
        topology = load_topology(config.getoption("--faultline-topology"))
        # Tests that need no server must not fail or wait when the servers are away.
        infra.check_postgres(topology.postgres, topology.postgres.url())
        infra.check_rabbitmq(topology.rabbitmq, topology.rabbitmq.url())
        report = sweep(topology)
    except Exception as exc:  # a failed clean-up must never stop a test session
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        config.stash[_SWEPT] = f"faultline: no sweep of leftovers ({reason})"
        return
    config.stash[_SWEPT] = f"faultline: {report.summary()}"


_SWEPT = pytest.StashKey[str]()


def pytest_report_header(config: pytest.Config) -> str | None:
    return config.stash.get(_SWEPT, None)


def _env_options(config: pytest.Config) -> dict[str, str]:
    from harness.assignments import parse_assignments

    return parse_assignments(config.getoption("--faultline-env"), "--faultline-env")


class ExternalStack:
    """A stack this session did not start (docker-compose, or another machine).

    Only what its URLs give is known: there is no process control and no direct database.
    """

    def __init__(self, gateway_url: str, toxiproxy_url: str | None) -> None:
        self.gateway_url = gateway_url.rstrip("/")
        self.toxiproxy_url = toxiproxy_url or ""
        self.toxiproxy_embedded = False

    def url(self, service: str) -> str:
        from harness.errors import UserError

        if service == "gateway":
            return self.gateway_url
        raise UserError(f"{service} is not reachable directly in a stack started elsewhere")

    def openapi_url(self, service: str) -> str:
        return f"{self.url(service)}/openapi.json"


def _reused_stack(config: pytest.Config) -> Any:
    from harness.errors import UserError
    from harness.stack import Stack

    url = os.environ.get(STACK_URL_ENV)
    if url:
        return ExternalStack(url, os.environ.get("TOXIPROXY_URL"))
    stack = Stack.attach()
    if stack is None or not stack.running():
        raise UserError(
            f"--faultline-reuse: no stack is up; run `faultline up --detach` or set {STACK_URL_ENV}"
        )
    return stack


def _session_home(config: pytest.Config) -> Path:
    from harness.state import home

    # Stacks of a test session keep their state apart from the one `faultline up` records.
    return home() / "pytest" / f"{os.getpid()}"


class StackFactory:
    """Starts stacks on free ports, one per distinct setting, and stops them all at the end."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.stacks: dict[str, Any] = {}

    def __call__(
        self,
        env: Mapping[str, str] | None = None,
        service_env: Mapping[str, Mapping[str, str]] | None = None,
        seed: int | None = None,
    ) -> Any:
        """The stack with these settings; `seed` seeds the embedded proxy server's draws."""
        from harness.stack import Stack

        per_service = {k: dict(v) for k, v in (service_env or {}).items()}
        key = json.dumps([dict(env or {}), per_service, seed], sort_keys=True)
        if key not in self.stacks:
            state_file = _session_home(self.config) / f"stack-{len(self.stacks)}.json"
            stack = Stack(
                self.config.getoption("--faultline-topology"),
                ports="auto",
                env=env,
                service_env=service_env,
                state_file=state_file,
                seed=seed,
            )
            self.stacks[key] = stack.start()
        return self.stacks[key]

    @contextlib.contextmanager
    def single_use(
        self,
        env: Mapping[str, str] | None = None,
        service_env: Mapping[str, Mapping[str, str]] | None = None,
        seed: int | None = None,
    ) -> Iterator[Any]:
        """The stack with these settings, stopped when the block ends. Every stack holds
        PostgreSQL connections (five services, a pool each), and a session that keeps all of
        them to its end can run out of the server's 100."""
        stack = self(env, service_env, seed)
        try:
            yield stack
        finally:
            self.stacks = {k: v for k, v in self.stacks.items() if v is not stack}
            self._stop(stack, keep_logs=False)

    @staticmethod
    def _stop(stack: Any, keep_logs: bool) -> None:
        run_dir = Path(stack.state.run_dir) if stack.state else None
        stack.stop()
        if run_dir and not keep_logs:
            shutil.rmtree(run_dir, ignore_errors=True)

    def close(self, keep_logs: bool) -> None:
        for stack in self.stacks.values():
            self._stop(stack, keep_logs)
        self.stacks.clear()
        shutil.rmtree(_session_home(self.config), ignore_errors=True)


@pytest.fixture(scope="session")
def faultline_stack_factory(
    pytestconfig: pytest.Config, request: pytest.FixtureRequest
) -> Iterator[StackFactory]:
    factory = StackFactory(pytestconfig)
    yield factory
    # Service logs are kept only when they may explain a failure.
    factory.close(keep_logs=request.session.testsfailed > 0)


@pytest.fixture(scope="session")
def faultline_stack(pytestconfig: pytest.Config, faultline_stack_factory: StackFactory) -> Any:
    if pytestconfig.getoption("--faultline-reuse"):
        return _reused_stack(pytestconfig)
    return faultline_stack_factory(env=_env_options(pytestconfig))


@pytest.fixture(scope="session")
def gateway_token(faultline_stack: Any) -> str:
    from harness.suite_client import SuiteClient

    with SuiteClient.public(faultline_stack.gateway_url) as suite:
        return suite.login().access_token


@pytest.fixture
def suite_client(faultline_stack: Any, gateway_token: str) -> Iterator[Any]:
    """The suite's typed client, through the gateway, with the demo account's token."""
    from harness.suite_client import SuiteClient

    with SuiteClient.public(faultline_stack.gateway_url, token=gateway_token) as suite:
        yield suite


@pytest.fixture
def gateway_client(faultline_stack: Any, gateway_token: str) -> Iterator[Any]:
    import httpx

    with httpx.Client(
        base_url=faultline_stack.gateway_url,
        headers={"Authorization": f"Bearer {gateway_token}"},
        timeout=15.0,
    ) as client:
        yield client


@pytest.fixture
def toxiproxy(faultline_stack: Any) -> Iterator[Any]:
    from toxiproxy import Toxiproxy
    from toxiproxy.api import APIConsumer

    address = urlsplit(faultline_stack.toxiproxy_url)
    # toxiproxy-python keeps the server's address in class attributes of APIConsumer, shared
    # by every client in the process: point them at this stack and put them back afterwards.
    saved = APIConsumer.host, APIConsumer.port
    client = Toxiproxy()
    client.update_api_consumer(address.hostname, address.port)
    try:
        yield client
        client.reset()
    finally:
        APIConsumer.host, APIConsumer.port = saved


@pytest.fixture
def toxiproxy_client(faultline_stack: Any) -> Iterator[Any]:
    from harness.toxiproxy import ToxiproxyClient

    with ToxiproxyClient(faultline_stack.toxiproxy_url) as client:
        yield client
        client.reset()


@pytest.fixture
def clean_toxics(faultline_stack: Any) -> Iterator[Callable[[], None]]:
    """For tests that inject faults without the `toxiproxy` fixture: reset after the test."""
    from harness.toxiproxy import ToxiproxyClient

    def reset() -> None:
        with ToxiproxyClient(faultline_stack.toxiproxy_url, timeout=5.0) as client:
            client.reset()

    yield reset
    reset()


@pytest.fixture
def load_profile(faultline_stack: Any, tmp_path: Path) -> Callable[..., Any]:
    """Run a load profile from a test; see the module's docstring."""
    from harness import extras

    extras.require("load", "the load_profile fixture")
    from load.api import Overrides, start
    from load.profiles import duration_arg

    def run(
        profile: Any,
        *,
        users: int | None = None,
        rate: float | None = None,
        duration: str | float | None = None,
        thresholds: list[str] | tuple[str, ...] = (),
        processes: int = 0,
        seed: int | None = None,
        audit: bool = True,
    ) -> Any:
        if isinstance(duration, str):
            duration = duration_arg(duration)
        name = profile if isinstance(profile, str) else profile.name
        overrides = Overrides(users, rate, duration, list(thresholds))
        return start(
            profile,
            host=faultline_stack.gateway_url,
            overrides=overrides,
            seed=seed,
            processes=processes,
            report_dir=tmp_path / f"load-{name}",
            audit=audit,
            stack=faultline_stack,
        ).wait()

    return run
