"""The suite described as data: services, edges, events and the servers they need.

Everything that starts, proxies or generates files for the suite reads a `Topology`, so another
suite can be tested by writing another YAML file of the same shape.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from harness.errors import UserError

TOPOLOGY_ENV = "FAULTLINE_TOPOLOGY"
DEFAULT_TOPOLOGY = Path(__file__).resolve().parent.parent / "system_under_test" / "topology.yaml"

EdgeKind = Literal["http", "postgres", "rabbitmq"]
EDGE_KINDS: tuple[str, ...] = ("http", "postgres", "rabbitmq")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Infrastructure:
    """A server the suite needs but faultline does not start (PostgreSQL, RabbitMQ)."""

    name: str
    env: str
    default: str

    def url(self, environ: dict[str, str] | None = None) -> str:
        source = os.environ if environ is None else environ
        return source.get(self.env) or self.default


@dataclass(frozen=True)
class Service:
    name: str
    app: str
    port: int
    database: str | None = None
    public: bool = False


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    kind: EdgeKind

    @property
    def proxy_name(self) -> str:
        return f"{self.source}->{self.target}"

    @property
    def env_var(self) -> str:
        """The `SVC_` variable of the calling service that this edge feeds."""
        if self.kind == "http":
            return f"SVC_{self.target.upper()}_URL"
        if self.kind == "postgres":
            return "SVC_DATABASE_URL"
        return "SVC_AMQP_URL"


@dataclass(frozen=True)
class Event:
    name: str
    producer: str
    consumers: tuple[str, ...]


@dataclass(frozen=True)
class Topology:
    name: str
    path: Path
    postgres: Infrastructure
    rabbitmq: Infrastructure
    toxiproxy_env: str
    toxiproxy_port: int
    services: dict[str, Service]
    edges: tuple[Edge, ...]
    events: tuple[Event, ...] = field(default=())

    def service(self, name: str) -> Service:
        try:
            return self.services[name]
        except KeyError:
            known = ", ".join(self.services)
            raise UserError(f"unknown service {name!r} (known: {known})") from None

    def edges_from(self, service: str) -> tuple[Edge, ...]:
        return tuple(e for e in self.edges if e.source == service)

    def edge(self, proxy_name: str) -> Edge:
        for e in self.edges:
            if e.proxy_name == proxy_name:
                return e
        raise UserError(f"unknown edge {proxy_name!r}")

    @property
    def public_service(self) -> Service:
        """The entry point clients talk to (the gateway)."""
        for s in self.services.values():
            if s.public:
                return s
        return next(iter(self.services.values()))

    def consumers(self) -> tuple[str, ...]:
        """Services that consume events, in topology order (each owns queue `<ns>.<name>`)."""
        names = {c for e in self.events for c in e.consumers}
        return tuple(s for s in self.services if s in names)


def topology_path(path: str | Path | None = None) -> Path:
    if path:
        return Path(path)
    env = os.environ.get(TOPOLOGY_ENV)
    return Path(env) if env else DEFAULT_TOPOLOGY


def load_topology(path: str | Path | None = None) -> Topology:
    """Read and validate a topology file; every problem is a `UserError` naming the file."""
    p = topology_path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot read topology file {p}: {exc.strerror or exc}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise UserError(f"topology file {p} is not valid YAML{where}") from None
    try:
        return _parse(raw, p)
    except _Invalid as exc:
        raise UserError(f"topology file {p}: {exc}") from None


class _Invalid(Exception):
    pass


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Invalid(f"{where} must be a mapping")
    return value


def _require(data: dict[str, Any], key: str, where: str) -> Any:
    if key not in data or data[key] is None:
        raise _Invalid(f"{where} is missing {key!r}")
    return data[key]


def _str(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise _Invalid(f"{where} must be a non-empty string")
    return value


def _port(value: Any, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 65535:
        raise _Invalid(f"{where} must be a port number (1-65535), got {value!r}")
    return value


def _parse(raw: Any, path: Path) -> Topology:
    top = _mapping(raw, "the document")
    infra = _mapping(_require(top, "infrastructure", "the document"), "infrastructure")
    servers = {}
    for name in ("postgres", "rabbitmq"):
        item = _mapping(_require(infra, name, "infrastructure"), f"infrastructure.{name}")
        servers[name] = Infrastructure(
            name=name,
            env=_str(_require(item, "env", f"infrastructure.{name}"), f"infrastructure.{name}.env"),
            default=_str(
                _require(item, "default", f"infrastructure.{name}"),
                f"infrastructure.{name}.default",
            ),
        )

    tox = _mapping(top.get("toxiproxy") or {}, "toxiproxy")
    tox_env = _str(tox.get("env", "TOXIPROXY_URL"), "toxiproxy.env")
    tox_port = _port(tox.get("default_port", 8474), "toxiproxy.default_port")

    services: dict[str, Service] = {}
    raw_services = _mapping(_require(top, "services", "the document"), "services")
    if not raw_services:
        raise _Invalid("services must name at least one service")
    ports: dict[int, str] = {}
    for name, item in raw_services.items():
        where = f"service {name!r}"
        if not isinstance(name, str) or not _NAME.match(name):
            raise _Invalid(f"{where}: names are lower-case letters, digits and '_'")
        item = _mapping(item, where)
        port = _port(_require(item, "port", where), f"{where} port")
        if port in ports:
            raise _Invalid(f"{where} uses port {port}, already taken by {ports[port]!r}")
        ports[port] = name
        app = _str(_require(item, "app", where), f"{where} app")
        if ":" not in app:
            raise _Invalid(f"{where} app must look like 'package.module:attribute', got {app!r}")
        database = item.get("database")
        if database is not None:
            database = _str(database, f"{where} database")
        services[name] = Service(
            name=name, app=app, port=port, database=database, public=bool(item.get("public"))
        )

    edges: list[Edge] = []
    seen: set[str] = set()
    raw_edges = top.get("edges") or []
    if not isinstance(raw_edges, list):
        raise _Invalid("edges must be a list")
    for i, item in enumerate(raw_edges, start=1):
        where = f"edge #{i}"
        item = _mapping(item, where)
        source = _str(_require(item, "from", where), f"{where} from")
        target = _str(_require(item, "to", where), f"{where} to")
        kind = _str(_require(item, "kind", where), f"{where} kind")
        if kind not in EDGE_KINDS:
            raise _Invalid(f"{where} has kind {kind!r}; expected one of {', '.join(EDGE_KINDS)}")
        if source not in services:
            raise _Invalid(f"{where} starts at unknown service {source!r}")
        if kind == "http" and target not in services:
            raise _Invalid(f"{where} goes to unknown service {target!r}")
        if kind != "http" and target != kind:
            raise _Invalid(f"{where} of kind {kind} must go to {kind!r}, not {target!r}")
        if kind == "postgres" and services[source].database is None:
            raise _Invalid(f"{where}: service {source!r} has no database")
        edge = Edge(source=source, target=target, kind=kind)  # type: ignore[arg-type]
        if edge.proxy_name in seen:
            raise _Invalid(f"{where} repeats {edge.proxy_name!r}")
        seen.add(edge.proxy_name)
        edges.append(edge)
    for s in services.values():
        if s.database and not any(e.source == s.name and e.kind == "postgres" for e in edges):
            raise _Invalid(f"service {s.name!r} has a database but no edge to postgres")

    events: list[Event] = []
    raw_events = top.get("events") or []
    if not isinstance(raw_events, list):
        raise _Invalid("events must be a list")
    for i, item in enumerate(raw_events, start=1):
        where = f"event #{i}"
        item = _mapping(item, where)
        name = _str(_require(item, "name", where), f"{where} name")
        producer = _str(_require(item, "producer", where), f"{where} producer")
        consumers = item.get("consumers") or []
        if not isinstance(consumers, list):
            raise _Invalid(f"event {name!r} consumers must be a list")
        for svc in [producer, *consumers]:
            if svc not in services:
                raise _Invalid(f"event {name!r} names unknown service {svc!r}")
        events.append(Event(name=name, producer=producer, consumers=tuple(consumers)))

    return Topology(
        name=str(top.get("name") or path.stem),
        path=path,
        postgres=servers["postgres"],
        rabbitmq=servers["rabbitmq"],
        toxiproxy_env=tox_env,
        toxiproxy_port=tox_port,
        services=services,
        edges=tuple(edges),
        events=tuple(events),
    )
