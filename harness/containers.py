"""`faultline up --backend testcontainers`: the servers in containers, the services local.

PostgreSQL, RabbitMQ and the real Toxiproxy (the image docker-compose.yml uses) start through
testcontainers; the stack then runs exactly as with servers on loopback, pointed at them by the
topology's variables (FAULTLINE_POSTGRES_URL, FAULTLINE_RABBITMQ_URL, TOXIPROXY_URL).

Toxiproxy joins the host's network. The stack asks it for proxies listening on 127.0.0.1 with
upstreams on 127.0.0.1, as it asks the embedded server, and a container on a bridge network
could neither be reached there nor reach the services. Docker Engine on Linux (and CI runners)
has host networking; Docker Desktop has it from 4.34 once enabled. Where the Toxiproxy API does
not answer on this machine's loopback, start-up stops with one line saying so.

In the foreground testcontainers' reaper removes the containers even if faultline is killed.
With `--detach` the reaper is off (it would remove them when this process exits); their ids are
written to `<FAULTLINE_HOME>/containers.json` and `faultline down` removes them.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import compose, extras, polling, processes
from harness.errors import UserError
from harness.state import home
from harness.topology import Topology
from harness.toxiproxy import answers

BACKENDS = ("local", "testcontainers")
RECORD_FILE = "containers.json"
TOXIPROXY_START_S = 30.0
POSTGRES_USER = "postgres"
RABBITMQ_USER = "faultline"
# RabbitMQ's own line once every listener is up (the AMQP port answers from then on).
RABBITMQ_READY_LOG = "Server startup complete"


@dataclass(frozen=True)
class ContainerSpec:
    """What one container runs: the part of the backend that needs no Docker to check."""

    role: str
    image: str
    env: dict[str, str] = field(default_factory=dict)
    command: tuple[str, ...] = ()
    ports: tuple[int, ...] = ()  # published on random host ports
    host_network: bool = False
    ready_command: tuple[str, ...] = ()  # run inside the container until it exits 0
    ready_log: str = ""  # or: a line the server logs once it accepts connections


def _container(spec: ContainerSpec) -> Any:
    """A testcontainers container for `spec`, not started."""
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.wait_strategies import ExecWaitStrategy, LogMessageWaitStrategy

    container = DockerContainer(
        spec.image, env=dict(spec.env), command=list(spec.command) or None, ports=list(spec.ports)
    )
    if spec.host_network:
        # `network`, not `network_mode`: testcontainers gives a container without `network`
        # one of its own, and Docker refuses the two together.
        container.with_kwargs(network="host")
    if spec.ready_command:
        container.waiting_for(ExecWaitStrategy(list(spec.ready_command)))
    elif spec.ready_log:
        container.waiting_for(LogMessageWaitStrategy(spec.ready_log))
    return container


@dataclass(frozen=True)
class Plan:
    """The three containers of one run and the credentials they are given."""

    postgres_password: str
    rabbitmq_password: str
    toxiproxy_port: int
    specs: dict[str, ContainerSpec]


def plan(topology: Topology, toxiproxy_port: int, *, token: str | None = None) -> Plan:
    """The containers to start: fresh passwords per run (the servers are reachable from the LAN
    by their published ports), Toxiproxy's API on a free loopback port of this machine."""
    pg_password = token or secrets.token_urlsafe(16)
    mq_password = token or secrets.token_urlsafe(16)
    pg_port = compose.server_port(topology, "postgres")
    mq_port = compose.server_port(topology, "rabbitmq")
    specs = {
        "postgres": ContainerSpec(
            "postgres",
            compose.POSTGRES_IMAGE,
            {"POSTGRES_USER": POSTGRES_USER, "POSTGRES_PASSWORD": pg_password},
            ports=(pg_port,),
            # Over TCP: the image's first-start server listens on its socket only, and restarts.
            ready_command=(
                "pg_isready",
                "-h",
                "127.0.0.1",
                "-p",
                str(pg_port),
                "-U",
                POSTGRES_USER,
            ),
        ),
        "rabbitmq": ContainerSpec(
            "rabbitmq",
            compose.RABBITMQ_IMAGE,
            {"RABBITMQ_DEFAULT_USER": RABBITMQ_USER, "RABBITMQ_DEFAULT_PASS": mq_password},
            ports=(mq_port,),
            ready_log=RABBITMQ_READY_LOG,
        ),
        "toxiproxy": ContainerSpec(
            "toxiproxy",
            compose.TOXIPROXY_IMAGE,
            command=("-host=127.0.0.1", f"-port={toxiproxy_port}"),
            host_network=True,
        ),
    }
    return Plan(pg_password, mq_password, toxiproxy_port, specs)


def environment(
    topology: Topology, run: Plan, endpoints: Mapping[str, tuple[str, int]]
) -> dict[str, str]:
    """The variables that point the stack at the containers, `endpoints` being each server's
    published (host, port)."""
    pg_host, pg_port = endpoints["postgres"]
    mq_host, mq_port = endpoints["rabbitmq"]
    return {
        topology.postgres.env: (
            f"postgresql://{POSTGRES_USER}:{run.postgres_password}@{pg_host}:{pg_port}/postgres"
        ),
        topology.rabbitmq.env: f"amqp://{RABBITMQ_USER}:{run.rabbitmq_password}@{mq_host}:{mq_port}/",
        topology.toxiproxy_env: f"http://127.0.0.1:{run.toxiproxy_port}",
    }


def _docker(timeout: int) -> Any:
    """A Docker API client found as testcontainers finds one (DOCKER_HOST, TC_HOST, the
    current docker context, the default socket)."""
    from testcontainers.core.docker_client import DockerClient

    return DockerClient(timeout=timeout).client


def docker_unreachable() -> str | None:
    """Why no Docker engine answers (None when one does)."""
    from docker.errors import DockerException  # imported here to keep `faultline` fast

    try:
        client = _docker(timeout=5)
    except DockerException as exc:
        return _reason(exc)
    try:
        client.ping()
    except (DockerException, OSError) as exc:
        return _reason(exc)
    finally:
        client.close()
    return None


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]


def _record_path() -> Path:
    return home() / RECORD_FILE


class Containers:
    """The three containers of one run; `start()` returns the stack's variables."""

    def __init__(self, topology: Topology, *, reaper: bool = True) -> None:
        self.topology = topology
        self.reaper = reaper
        self.plan = plan(topology, processes.free_port())
        self._started: list[Any] = []

    def start(self) -> dict[str, str]:
        reason = docker_unreachable()
        if reason is not None:
            raise UserError(
                "--backend testcontainers needs a Docker engine, and none is reachable "
                f"({reason}); start Docker or set DOCKER_HOST, or use the default backend "
                "with servers on loopback"
            )
        from testcontainers.core.config import testcontainers_config

        testcontainers_config.ryuk_disabled = not self.reaper
        try:
            endpoints = {role: self._published(role) for role in ("postgres", "rabbitmq")}
            self._start_toxiproxy()
        except BaseException:
            self.stop()
            raise
        return environment(self.topology, self.plan, endpoints)

    def _start(self, role: str) -> Any:
        container = _container(self.plan.specs[role])
        self._started.append(container)
        container.start()  # returns once the spec's readiness check passes
        return container

    def _published(self, role: str) -> tuple[str, int]:
        container = self._start(role)
        port = self.plan.specs[role].ports[0]
        return container.get_container_host_ip(), int(container.get_exposed_port(port))

    def _start_toxiproxy(self) -> None:
        self._start("toxiproxy")
        url = f"http://127.0.0.1:{self.plan.toxiproxy_port}"
        if not polling.until(lambda: answers(url), within=TOXIPROXY_START_S, interval=0.2):
            raise UserError(
                f"the Toxiproxy container runs but its API does not answer on {url}: it shares "
                "the Docker host's network, which is not this machine's (Docker Desktop without "
                "host networking, or a remote DOCKER_HOST)"
            )

    def ids(self) -> list[str]:
        from testcontainers.core.exceptions import ContainerStartException

        ids = []
        for container in self._started:
            with contextlib.suppress(ContainerStartException):  # never created
                ids.append(container.get_container_id())
        return ids

    def record(self) -> Path:
        """Write the container ids for `faultline down` (a detached run outlives this process)."""
        path = _record_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        # Keep ids an earlier run left behind, so `faultline down` still removes them.
        ids = [*_recorded_ids(path), *self.ids()] if path.exists() else self.ids()
        path.write_text(json.dumps({"containers": ids}) + "\n", encoding="utf-8")
        return path

    def stop(self) -> None:
        for container in reversed(self._started):
            with contextlib.suppress(Exception):  # already gone is as good as removed
                container.stop()
        self._started.clear()


def _recorded_ids(path: Path) -> list[str]:
    try:
        ids = json.loads(path.read_text(encoding="utf-8"))["containers"]
    except (OSError, ValueError, KeyError, TypeError):
        ids = None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise UserError(f"cannot read {path}; remove its containers with `docker rm -f`")
    return ids


def remove_recorded() -> int:
    """Remove the containers a detached run recorded; how many there were."""
    path = _record_path()
    if not path.exists():
        return 0
    ids = _recorded_ids(path)
    extras.require("containers", f"removing the containers recorded in {path}")
    from docker.errors import DockerException, NotFound

    try:
        client = _docker(timeout=10)
    except DockerException as exc:
        raise UserError(f"cannot remove the containers in {path}: {_reason(exc)}") from None
    with contextlib.closing(client):
        for container_id in ids:
            with contextlib.suppress(NotFound):
                client.containers.get(container_id).remove(force=True, v=True)
    path.unlink()
    return len(ids)


@contextlib.contextmanager
def backing_servers(
    backend: str, topology: Topology, *, detach: bool = False
) -> Iterator[Containers | None]:
    """For the body, the servers the stack needs: nothing to do for `local`; for
    `testcontainers`, the containers, with the topology's variables pointing at them.

    The containers are removed when the body ends, unless it ends normally with `detach`:
    they are then recorded for `faultline down`.
    """
    if backend == "local":
        yield None
        return
    if backend not in BACKENDS:
        raise UserError(f"unknown backend {backend!r} (known: {', '.join(BACKENDS)})")
    containers = Containers(topology, reaper=not detach)
    saved = {name: os.environ.get(name) for name in _variables(topology)}
    keep = False
    try:
        os.environ.update(containers.start())
        yield containers
        keep = detach
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        if keep:
            containers.record()
        else:
            containers.stop()


def _variables(topology: Topology) -> tuple[str, ...]:
    return (topology.postgres.env, topology.rabbitmq.env, topology.toxiproxy_env)
