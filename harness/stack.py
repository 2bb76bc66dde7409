"""The stack supervisor: the whole suite on loopback, every edge through a Toxiproxy proxy.

`Stack(...).start()` checks PostgreSQL and RabbitMQ, starts the proxy server, creates one proxy
per topology edge, starts each service with uvicorn pointed through the proxies, waits until all
are ready and records the run in a state file; `stop()` undoes all of it, including the run's
databases and broker objects. `Stack.attach()` takes over a stack another process started.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import httpx

from harness import embedded_toxiproxy, infra, polling, processes, sweep
from harness.errors import UserError
from harness.state import (
    ProxyState,
    ServiceState,
    StackState,
    default_state_file,
    home,
    read_state,
    write_state,
)
from harness.topology import Topology, load_topology
from harness.toxiproxy import ToxiproxyClient, ToxiproxyError
from harness.urls import address, amqp_through, service_url

if TYPE_CHECKING:
    import psycopg

READY_TIMEOUT_S = 60.0
PortPolicy = Literal["topology", "auto"]


class StackError(UserError):
    """The stack could not start; `details` holds the failing service's last log lines."""

    def __init__(self, message: str, details: str = "") -> None:
        super().__init__(message + (f"\n{details}" if details else ""))
        self.details = details


def _is_ours(pid: int, marker: str) -> bool:
    # Guards against a recycled pid: the process must still be the one we started.
    if not processes.alive(pid):
        return False
    cmd = processes.cmdline(pid)
    return not cmd or marker in cmd


def _http_url(port: int) -> str:
    return f"http://127.0.0.1:{port}"


class Stack:
    """One run of the suite. Use as a context manager, or call `start()` and `stop()`."""

    def __init__(
        self,
        topology: Topology | str | Path | None = None,
        *,
        ports: PortPolicy = "topology",
        env: Mapping[str, str] | None = None,
        service_env: Mapping[str, Mapping[str, str]] | None = None,
        state_file: Path | None = None,
        ready_timeout: float = READY_TIMEOUT_S,
        seed: int | None = None,
        stop_grace: float = processes.STOP_GRACE_S,
        proxied: bool = True,
    ) -> None:
        self.topology = topology if isinstance(topology, Topology) else load_topology(topology)
        self.ports_policy = ports
        self.env = dict(env or {})
        self.service_env = {k: dict(v) for k, v in (service_env or {}).items()}
        for name in self.service_env:
            self.topology.service(name)
        self.state_file = state_file or default_state_file()
        self.ready_timeout = ready_timeout
        self.seed = seed
        self.stop_grace = stop_grace
        # False: services reach each other, PostgreSQL and RabbitMQ directly, the proxies
        # still exist but carry nothing (a benchmark measures what they cost this way).
        self.proxied = proxied
        self.state: StackState | None = None
        self.startup_seconds: float | None = None
        # Kept so our children are reaped by the Popen objects that started them.
        self._children: dict[int, subprocess.Popen[bytes]] = {}
        # The run's registration on the PostgreSQL server while this process supervises it:
        # a sweep from any checkout sees the run as alive, even before its databases exist.
        self._lease: psycopg.Connection | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    @classmethod
    def attach(cls, state_file: Path | None = None) -> Stack | None:
        """The stack recorded in `state_file`, or None when none was started."""
        path = state_file or default_state_file()
        state = read_state(path)
        if state is None:
            return None
        stack = cls(state.topology, state_file=path)
        stack.state = state
        return stack

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> Stack:
        t0 = time.monotonic()
        topo = self.topology
        pg_url = topo.postgres.url()
        amqp_url = topo.rabbitmq.url()
        infra.check_postgres(topo.postgres, pg_url)
        infra.check_rabbitmq(topo.rabbitmq, amqp_url)
        self._refuse_running_stack()

        run_id = secrets.token_hex(4)
        namespace = f"fl_{run_id}"
        run_dir = home().resolve() / run_id
        ports = self._service_ports()
        # Every service may own a queue; deleting an absent one is harmless.
        exchanges, queues = infra.broker_objects(namespace, topo.services)
        self.state = StackState(
            run_id=run_id,
            topology=str(topo.path.resolve()),
            namespace=namespace,
            postgres_url=pg_url,
            rabbitmq_url=amqp_url,
            toxiproxy_url="",
            toxiproxy_embedded=False,
            toxiproxy_pid=None,
            gateway_url=_http_url(ports[topo.public_service.name]),
            services={},
            proxies={},
            databases=[f"{namespace}_{s.database}" for s in topo.services.values() if s.database],
            exchanges=exchanges,
            queues=queues,
            run_dir=str(run_dir),
            supervisor_pid=os.getpid(),
        )
        try:
            self._lease = sweep.open_lease(pg_url, namespace)
            self._start_proxy_server(run_dir)
            # Written at each step so that `faultline down` can clean up an interrupted start.
            write_state(self.state, self.state_file)
            self._create_proxies(ports)
            for name in topo.services:
                self._spawn(name, ports[name], run_dir)
            write_state(self.state, self.state_file)
            self.wait_ready(timeout=self.ready_timeout)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - t0
        return self

    def stop(self) -> list[str]:
        """Stop everything this run started and remove what it created; return any problems."""
        state = self.state
        if state is None:
            return []
        problems: list[str] = []
        current = None
        with contextlib.suppress(UserError):
            current = read_state(self.state_file)
        if current is not None and current.run_id == state.run_id:
            # Tells a foreground `faultline up` that the exits it is about to see are wanted.
            state.stopping = True
            write_state(state, self.state_file)
        own = [s.pid for s in state.services.values() if self._owns(s)]
        processes.terminate(own, self.stop_grace)
        if state.toxiproxy_embedded and state.toxiproxy_pid:
            if _is_ours(state.toxiproxy_pid, "toxiproxy"):
                processes.terminate([state.toxiproxy_pid])
        elif state.toxiproxy_url and state.proxies:
            try:
                with ToxiproxyClient(state.toxiproxy_url, timeout=5.0) as client:
                    for name in state.proxies:
                        client.delete_proxy(name, missing_ok=True)
            except ToxiproxyError as exc:
                problems.append(f"could not delete proxies on {state.toxiproxy_url}: {exc}")
        for child in self._children.values():
            child.poll()  # records the exit status so the Popen does not warn later
        self._children.clear()
        try:
            infra.drop_databases(state.postgres_url, state.databases)
        except Exception as exc:
            problems.append(f"could not drop databases {', '.join(state.databases)}: {exc}")
        try:
            infra.delete_broker_objects(state.rabbitmq_url, state.exchanges, state.queues)
        except Exception as exc:
            problems.append(f"could not delete broker objects of {state.namespace}: {exc}")
        if current is not None and current.run_id == state.run_id:
            self.state_file.unlink(missing_ok=True)
        self._release_lease()
        self.state = None
        return problems

    def _release_lease(self) -> None:
        lease, self._lease = self._lease, None
        if lease is not None:
            with contextlib.suppress(Exception):
                lease.close()

    def running(self) -> bool:
        """True while any recorded service process still runs."""
        return self.state is not None and any(self._owns(s) for s in self.state.services.values())

    # -- what other layers read --------------------------------------------------------------

    @property
    def run_id(self) -> str:
        return self._state.run_id

    @property
    def namespace(self) -> str:
        return self._state.namespace

    @property
    def gateway_url(self) -> str:
        return self._state.gateway_url

    @property
    def toxiproxy_url(self) -> str:
        return self._state.toxiproxy_url

    @property
    def toxiproxy_embedded(self) -> bool:
        return self._state.toxiproxy_embedded

    @property
    def services(self) -> list[str]:
        return list(self._state.services)

    def url(self, service: str) -> str:
        return self._service(service).url

    def openapi_url(self, service: str) -> str:
        return f"{self.url(service)}/openapi.json"

    def database_name(self, service: str) -> str:
        name = self._service(service).database
        if name is None:
            raise UserError(f"service {service!r} has no database")
        return name

    def database_url(self, service: str) -> str:
        """Direct connection (not through the proxy), for audits and test setup."""
        return service_url(self._state.postgres_url, self.database_name(service))

    def proxy(self, edge: str) -> ProxyState:
        try:
            return self._state.proxies[edge]
        except KeyError:
            raise UserError(f"unknown proxy {edge!r}") from None

    def pid(self, service: str) -> int:
        return self._service(service).pid

    def log_path(self, service: str) -> Path:
        return Path(self._service(service).log)

    # -- process control (the chaos layer) ---------------------------------------------------

    def kill(self, service: str, sig: int = signal.SIGKILL) -> None:
        """Send `sig` to the service; for SIGKILL/SIGTERM wait until it has exited."""
        svc = self._service(service)
        processes.signal_group(svc.pid, sig)
        if sig in (signal.SIGKILL, signal.SIGTERM):
            processes.wait_gone([svc.pid], processes.STOP_GRACE_S)

    def pause(self, service: str) -> None:
        processes.signal_group(self._service(service).pid, signal.SIGSTOP)

    def resume(self, service: str) -> None:
        processes.signal_group(self._service(service).pid, signal.SIGCONT)

    def restart(
        self, service: str, env: Mapping[str, str] | None = None, *, wait: bool = True
    ) -> None:
        """Stop the service (if running) and start it again on the same port and databases."""
        svc = self._service(service)
        if processes.alive(svc.pid):
            processes.terminate([svc.pid], self.stop_grace)
        if env:
            svc.env.update(env)
        argv, log = self._argv(svc.app, svc.port), Path(svc.log)
        proc = processes.spawn(argv, self._full_env(svc.env), log)
        self._children[proc.pid] = proc
        svc.pid = proc.pid
        write_state(self._state, self.state_file)
        if wait:
            self.wait_ready([service], timeout=self.ready_timeout)

    def is_ready(self, service: str, timeout: float = 1.0) -> bool:
        try:
            resp = httpx.get(f"{self.url(service)}/ready", timeout=timeout)
        except httpx.HTTPError:
            return False
        return resp.status_code == 200

    def wait_ready(
        self, services: list[str] | None = None, timeout: float = READY_TIMEOUT_S
    ) -> None:
        """Poll `/ready` until every service answers 200; fail fast when a process exits."""
        pending = list(services or self._state.services)
        with httpx.Client(timeout=1.0) as client:

            def all_ready() -> bool:
                for name in list(pending):
                    svc = self._service(name)
                    if not processes.alive(svc.pid):
                        raise StackError(
                            f"service {name} exited during start-up; last lines of {svc.log}:",
                            processes.tail(Path(svc.log)),
                        )
                    with contextlib.suppress(httpx.HTTPError):
                        if client.get(f"{svc.url}/ready").status_code == 200:
                            pending.remove(name)
                return not pending

            if polling.until(all_ready, within=timeout, interval=0.1):
                return
        svc = self._service(pending[0])
        raise StackError(
            f"{', '.join(pending)} not ready after {timeout:.0f}s; last lines of {svc.log}:",
            processes.tail(Path(svc.log)),
        )

    # -- internals ---------------------------------------------------------------------------

    @property
    def _state(self) -> StackState:
        if self.state is None:
            raise UserError("the stack is not running")
        return self.state

    def _service(self, name: str) -> ServiceState:
        try:
            return self._state.services[name]
        except KeyError:
            raise UserError(
                f"unknown service {name!r} (known: {', '.join(self._state.services)})"
            ) from None

    def _owns(self, svc: ServiceState) -> bool:
        return _is_ours(svc.pid, svc.app)

    def _refuse_running_stack(self) -> None:
        other = Stack.attach(self.state_file)
        if other is None:
            return
        if other.running():
            raise UserError(
                f"a stack is already running (run {other.run_id}, gateway {other.gateway_url}); "
                "stop it with `faultline down` first"
            )
        other.stop()  # leftovers of a run that died without tearing down

    def _service_ports(self) -> dict[str, int]:
        services = self.topology.services.values()
        if self.ports_policy == "auto":
            ports: dict[str, int] = {}
            while len(ports) < len(self.topology.services):
                port = processes.free_port()
                if port not in ports.values():
                    ports[list(self.topology.services)[len(ports)]] = port
            return ports
        for s in services:
            if processes.port_in_use(s.port):
                raise UserError(
                    f"port {s.port} of service {s.name} is in use; free it or start with "
                    "`faultline up --ports auto`"
                )
        return {s.name: s.port for s in services}

    def _start_proxy_server(self, run_dir: Path) -> None:
        state = self._state
        real = os.environ.get(self.topology.toxiproxy_env)
        if real:
            url = real.rstrip("/")
            embedded_toxiproxy.check_real(url, self.topology.toxiproxy_env)
            state.toxiproxy_url = url
            return
        port = self.topology.toxiproxy_port
        if self.ports_policy == "auto" or processes.port_in_use(port):
            port = processes.free_port()
        log = run_dir / "logs" / "toxiproxy.log"
        proc, url = embedded_toxiproxy.start_embedded(port, log, self.seed)
        self._children[proc.pid] = proc
        state.toxiproxy_pid, state.toxiproxy_url, state.toxiproxy_embedded = proc.pid, url, True

    def _upstream(self, target: str, kind: str, ports: Mapping[str, int]) -> str:
        if kind == "http":
            return f"127.0.0.1:{ports[target]}"
        if kind == "postgres":
            return "{}:{}".format(*address(self._state.postgres_url, 5432))
        return "{}:{}".format(*address(self._state.rabbitmq_url, 5672))

    def _create_proxies(self, ports: Mapping[str, int]) -> None:
        state = self._state
        wanted = [
            {
                "name": e.proxy_name,
                "listen": "127.0.0.1:0",
                "upstream": self._upstream(e.target, e.kind, ports),
                "enabled": True,
            }
            for e in self.topology.edges
        ]
        with ToxiproxyClient(state.toxiproxy_url) as client:
            client.populate(wanted)
            bound = client.proxies()
        for item in wanted:
            name = item["name"]
            if name not in bound:
                raise UserError(f"Toxiproxy did not create proxy {name}")
            state.proxies[name] = ProxyState(
                name=name, listen=bound[name]["listen"], upstream=item["upstream"]
            )

    def _service_env(self, name: str, port: int) -> dict[str, str]:
        state = self._state
        service = self.topology.services[name]
        env = {
            "SVC_NAME": name,
            "SVC_PORT": str(port),
            "SVC_NAMESPACE": state.namespace,
            "SVC_JWT_SECRET": secrets.token_urlsafe(32),  # tokens of this run only
            # Spans as JSON lines beside the logs (harness/traces.py reads them back).
            "SVC_TRACES_DIR": str(Path(state.run_dir) / "traces"),
        }
        for edge in self.topology.edges_from(name):
            proxy = state.proxies[edge.proxy_name]
            host, _, proxy_port = (proxy.listen if self.proxied else proxy.upstream).rpartition(":")
            proxy_host = "127.0.0.1" if host in ("", "0.0.0.0", "[::]") else host
            if edge.kind == "http":
                env[edge.env_var] = f"http://{proxy_host}:{proxy_port}"
            elif edge.kind == "postgres":
                env[edge.env_var] = service_url(
                    state.postgres_url,
                    f"{state.namespace}_{service.database}",
                    host=proxy_host,
                    port=int(proxy_port),
                )
            else:
                env[edge.env_var] = amqp_through(state.rabbitmq_url, proxy_host, int(proxy_port))
        env.update(self.env)
        env.update(self.service_env.get(name, {}))
        return env

    @staticmethod
    def _argv(app: str, port: int) -> list[str]:
        # One worker: several lose TCP_NODELAY on keep-alive connections (uvicorn issue).
        return [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port)]

    @staticmethod
    def _full_env(svc_env: Mapping[str, str]) -> dict[str, str]:
        return {**os.environ, "PYTHONUNBUFFERED": "1", **svc_env}

    def _spawn(self, name: str, port: int, run_dir: Path) -> None:
        state = self._state
        service = self.topology.services[name]
        env = self._service_env(name, port)
        log = run_dir / "logs" / f"{name}.log"
        proc = processes.spawn(self._argv(service.app, port), self._full_env(env), log)
        self._children[proc.pid] = proc
        state.services[name] = ServiceState(
            name=name,
            pid=proc.pid,
            port=port,
            url=_http_url(port),
            app=service.app,
            log=str(log),
            database=f"{state.namespace}_{service.database}" if service.database else None,
            env=env,
        )
