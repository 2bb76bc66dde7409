"""The suite described as data: services, edges, events and the servers they need.

Everything that starts, proxies or generates files for the suite reads a `Topology`, so another
suite can be tested by writing another YAML file of the same shape.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from harness.errors import UserError
from harness.yaml_lines import Loc, dotted, line_of

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
    """Read and validate a topology file; every problem is a `UserError` of one line naming
    the file, where in it (field path and line) and what is wrong."""
    p = topology_path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot read topology file {p}: {exc.strerror or exc}") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise UserError(f"topology file {p} is not valid YAML{where}") from None
    try:
        document = TopologyFile.model_validate(raw)
        _check_references(document)
    except ValidationError as exc:
        # A misspelt field is reported as unknown and as missing: the first says why.
        errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
        error = errors[0]
        raise UserError(_describe(p, node, error["loc"], _message(error))) from None
    except _Invalid as exc:
        raise UserError(_describe(p, node, exc.loc, exc.message)) from None
    return document.topology(p)


# -- the file's schema ---------------------------------------------------------------------------


def _port(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 65535:
        raise PydanticCustomError("port", "must be a port number (1-65535)")
    return value


def _name(value: str) -> str:
    if not _NAME.match(value):
        raise PydanticCustomError("name", "names are lower-case letters, digits and '_'")
    return value


def _app(value: str) -> str:
    if ":" not in value:
        raise PydanticCustomError("app", "must look like 'package.module:attribute'")
    return value


Port = Annotated[int, BeforeValidator(_port)]
Text = Annotated[str, StringConstraints(strict=True, min_length=1)]
Name = Annotated[Text, AfterValidator(_name)]


class _Section(BaseModel):
    # An unknown key is most likely a misspelt known one: say so rather than ignore it.
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ServerEntry(_Section):
    env: Text
    default: Text


class InfrastructureSection(_Section):
    postgres: ServerEntry
    rabbitmq: ServerEntry


class ToxiproxySection(_Section):
    env: Text = "TOXIPROXY_URL"
    default_port: Port = 8474


class ServiceEntry(_Section):
    app: Annotated[Text, AfterValidator(_app)]
    port: Port
    database: Text | None = None
    public: bool = False


class EdgeEntry(_Section):
    source: Text = Field(alias="from")
    target: Text = Field(alias="to")
    kind: EdgeKind


class EventEntry(_Section):
    name: Text
    producer: Text
    consumers: list[Text] | None = None


class TopologyFile(_Section):
    """A topology file as written; `topology()` makes the `Topology` everyone reads."""

    name: str | None = None
    infrastructure: InfrastructureSection
    toxiproxy: ToxiproxySection | None = None
    services: Annotated[dict[Name, ServiceEntry], Field(min_length=1)]
    edges: list[EdgeEntry] | None = None
    events: list[EventEntry] | None = None

    def topology(self, path: Path) -> Topology:
        tox = self.toxiproxy or ToxiproxySection()
        return Topology(
            name=self.name or path.stem,
            path=path,
            postgres=Infrastructure("postgres", **self.infrastructure.postgres.model_dump()),
            rabbitmq=Infrastructure("rabbitmq", **self.infrastructure.rabbitmq.model_dump()),
            toxiproxy_env=tox.env,
            toxiproxy_port=tox.default_port,
            services={k: Service(name=k, **v.model_dump()) for k, v in self.services.items()},
            edges=tuple(Edge(e.source, e.target, e.kind) for e in self.edges or ()),
            events=tuple(
                Event(e.name, e.producer, tuple(e.consumers or ())) for e in self.events or ()
            ),
        )


# -- what one entry cannot check alone ---------------------------------------------------------


class _Invalid(Exception):
    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.loc, self.message = loc, message


def _check_references(doc: TopologyFile) -> None:
    services = doc.services
    taken: dict[int, str] = {}
    for name, service in services.items():
        if service.port in taken:
            raise _Invalid(
                ("services", name, "port"),
                f"port {service.port} is already taken by {taken[service.port]!r}",
            )
        taken[service.port] = name
    seen: set[tuple[str, str]] = set()
    for i, edge in enumerate(doc.edges or ()):
        _check_edge(services, ("edges", i), edge)
        if (edge.source, edge.target) in seen:
            raise _Invalid(("edges", i), f"repeats '{edge.source}->{edge.target}'")
        seen.add((edge.source, edge.target))
    for name, service in services.items():
        if service.database and (name, "postgres") not in seen:
            raise _Invalid(("services", name), "has a database but no edge to postgres")
    for i, event in enumerate(doc.events or ()):
        for j, who in enumerate([event.producer, *(event.consumers or ())]):
            if who not in services:
                where = ("events", i, "producer") if j == 0 else ("events", i, "consumers", j - 1)
                raise _Invalid(where, f"unknown service {who!r}")


def _check_edge(services: dict[str, ServiceEntry], at: tuple[str, int], edge: EdgeEntry) -> None:
    if edge.source not in services:
        raise _Invalid((*at, "from"), f"unknown service {edge.source!r}")
    if edge.kind == "http" and edge.target not in services:
        raise _Invalid((*at, "to"), f"unknown service {edge.target!r}")
    if edge.kind != "http" and edge.target != edge.kind:
        raise _Invalid((*at, "to"), f"an edge of kind {edge.kind} goes to {edge.kind!r}")
    if edge.kind == "postgres" and services[edge.source].database is None:
        raise _Invalid((*at, "from"), f"service {edge.source!r} has no database")


# -- one line per problem ------------------------------------------------------------------------


def _message(error: ErrorDetails) -> str:
    if error["type"] == "missing":
        return "is missing"
    if error["type"] == "extra_forbidden":
        return "is not a known field"
    message = error["msg"].removeprefix("Value error, ")
    value = error.get("input")
    if isinstance(value, str | int | float | bool | None):
        message += f", got {value!r}"
    return message


def _describe(path: Path, node: yaml.Node | None, loc: Loc, what: str) -> str:
    """`topology file <path>: <field path>: <what> (line N)`."""
    line = line_of(node, loc)
    where = f" (line {line})" if line else ""
    return f"topology file {path}: {dotted(loc) or 'the document'}: {what}{where}"
