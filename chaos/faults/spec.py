"""Faults as data: what a game-day timeline or a Chaos Toolkit action names, by topology name.

    {kind: toxic, edge: bookings->payments, type: latency, attributes: {latency: 2000}}
    {kind: http, edge: gateway->bookings, status: 503, path: /bookings}
    {kind: down, edges: [gateway->bookings]}
    {kind: database, service: notifications}            # its database away
    {kind: database, service: bookings, latency_ms: 300}  # its database slow
    {kind: broker}                                       # every service cut off from RabbitMQ
    {kind: process, service: bookings, action: kill}     # or pause, restart

`apply(spec, faults)` injects one through the fault API (so every fault is journaled and undone
the same way) and returns the keys that `faults.undo(*keys)` takes to heal it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from chaos.faults import toxics
from chaos.faults.injector import Faults
from chaos.faults.toxics import Toxic

# Toxiproxy 2.x's toxic types; the HTTP-level ones are the `http` kind below.
ToxicType = Literal[
    "latency", "timeout", "reset_peer", "bandwidth", "slow_close", "slicer", "limit_data", "noop"
]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ToxicFault(_Spec):
    """A Toxiproxy toxic on one edge, with Toxiproxy's own attribute names."""

    kind: Literal["toxic"] = "toxic"
    edge: str
    type: ToxicType
    attributes: dict[str, int | float] = Field(default_factory=dict)
    stream: Literal["downstream", "upstream"] = "downstream"
    toxicity: float = Field(1.0, ge=0.0, le=1.0)

    def toxic(self) -> Toxic:
        return Toxic(self.type, dict(self.attributes), self.stream, self.toxicity)

    def describe(self) -> str:
        return f"{self.toxic().describe()} on {self.edge}"


class HttpFault(_Spec):
    """An HTTP-level fault on an HTTP edge: an error status, or latency, for matching requests
    (the embedded proxy server's extension; with a real Toxiproxy use `toxic`)."""

    kind: Literal["http"] = "http"
    edge: str
    status: int | None = Field(None, ge=400, le=599)
    latency_ms: int | None = Field(None, gt=0)
    method: str = ""
    path: str = ""
    rate: float = Field(1.0, gt=0.0, le=1.0)  # the share of matching requests hit (errors)

    @model_validator(mode="after")
    def _one_effect(self) -> HttpFault:
        if (self.status is None) == (self.latency_ms is None):
            raise ValueError("give exactly one of status or latency_ms")
        return self

    def toxic(self) -> Toxic:
        if self.status is not None:
            return toxics.http_error(
                self.status, share=self.rate, method=self.method, path=self.path
            )
        return toxics.http_latency(self.latency_ms or 0, method=self.method, path=self.path)

    def describe(self) -> str:
        what = f"HTTP {self.status}" if self.status is not None else f"+{self.latency_ms} ms"
        where = " ".join(x for x in (self.method, self.path) if x) or "every request"
        return f"{what} on {where} of {self.edge}"


class DownFault(_Spec):
    """Edges taken down: listeners closed, open connections cut, new ones refused."""

    kind: Literal["down"] = "down"
    edges: list[str] = Field(min_length=1)

    def describe(self) -> str:
        return " and ".join(self.edges) + " down"


class DatabaseFault(_Spec):
    """A service's database away (no `latency_ms`) or slow (`latency_ms`)."""

    kind: Literal["database"] = "database"
    service: str
    latency_ms: int | None = Field(None, gt=0)

    def describe(self) -> str:
        if self.latency_ms:
            return f"{self.service}'s database +{self.latency_ms} ms"
        return f"{self.service}'s database away"


class BrokerFault(_Spec):
    """Every service cut off from RabbitMQ."""

    kind: Literal["broker"] = "broker"

    def describe(self) -> str:
        return "broker away"


class ProcessFault(_Spec):
    """A service SIGKILLed (started again on heal), SIGSTOPped (resumed on heal) or restarted
    (nothing to heal)."""

    kind: Literal["process"] = "process"
    service: str
    action: Literal["kill", "pause", "restart"]

    def describe(self) -> str:
        return {"kill": "killed", "pause": "paused", "restart": "restarted"}[self.action].join(
            (f"{self.service} ", "")
        )


FaultSpec = Annotated[
    ToxicFault | HttpFault | DownFault | DatabaseFault | BrokerFault | ProcessFault,
    Field(discriminator="kind"),
]
_ADAPTER: TypeAdapter[Any] = TypeAdapter(FaultSpec)


def parse(data: Any) -> FaultSpec:
    """A fault from plain data (YAML, JSON, a Chaos Toolkit argument); pydantic errors on bad
    input."""
    return _ADAPTER.validate_python(data)


def apply(spec: FaultSpec, faults: Faults) -> list[int]:
    """Inject `spec`; returns the keys that `faults.undo(*keys)` heals. Names are checked
    against the topology first: an unknown edge or service is a `FaultError` and nothing is
    touched."""
    if isinstance(spec, ToxicFault | HttpFault):
        return [faults.add(spec.edge, spec.toxic())]
    if isinstance(spec, DownFault):
        for edge in spec.edges:
            faults.check_edge(edge)
        return faults.disable(*spec.edges)
    if isinstance(spec, DatabaseFault):
        edge = faults.database_edge(spec.service)
        if spec.latency_ms:
            return [faults.add(edge, toxics.latency(spec.latency_ms))]
        return faults.disable(edge)
    if isinstance(spec, BrokerFault):
        return faults.disable(*faults.edges("rabbitmq"))
    faults.check_service(spec.service)
    if spec.action == "kill":
        return [faults.kill(spec.service)]
    if spec.action == "pause":
        return [faults.pause(spec.service)]
    faults.restart(spec.service)
    return []
