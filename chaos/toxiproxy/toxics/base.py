"""What a toxic type is made of, and the registry the API looks types up in.

As in Toxiproxy (`toxics/*.go`, one file per toxic), a toxic type lives in a module of its own:
a dataclass whose fields are its attributes (JSON name, Go type, default) and whose methods are
its behaviour on one direction of one connection, registered under its type name. The data path
calls these methods and knows no type by name.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, fields
from random import Random
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from chaos.toxiproxy import gojson
from chaos.toxiproxy.errors import ApiError, bad_request
from chaos.toxiproxy.state import ToxicState

if TYPE_CHECKING:
    import h11

    from chaos.toxiproxy.connection import Direction
    from chaos.toxiproxy.http_faults import HttpStage

UPSTREAM = "upstream"
DOWNSTREAM = "downstream"
DIRECTIONS = (UPSTREAM, DOWNSTREAM)


def attribute(go_type: str, default: Any = 0) -> Any:
    """An attribute: a dataclass field that remembers the Go type its JSON decodes into."""
    return field(default=default, metadata={"go": go_type})


def jittered(rng: Random, base: int, jitter: int) -> int:
    """base +/- jitter milliseconds, drawn like Go's `base + Int63n(2*jitter) - jitter`."""
    return base + rng.randrange(2 * jitter) - jitter if jitter > 0 else base


@dataclass
class ToxicKind:
    """A toxic type's attributes and behaviour; subclasses are named like Toxiproxy's structs.

    The hooks below do nothing by default, so a type overrides only what it changes: `pipe`
    for the bytes that pass, `attached`/`detached` for timers, `end_of_stream` for the close.
    """

    type_name: ClassVar[str] = ""
    default_stream: ClassVar[str] = DOWNSTREAM
    per_request: ClassVar[bool] = False  # acts on whole HTTP/1.1 requests, not on chunks
    extension: ClassVar[bool] = False  # a faultline type that Toxiproxy does not have
    state_class: ClassVar[type[ToxicState]] = ToxicState

    @classmethod
    def struct(cls) -> gojson.Struct:
        go = f"toxics.{cls.__name__}"
        return gojson.Struct(cls.__name__, go, {f.name: f.metadata["go"] for f in fields(cls)})

    def attributes(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def set_attributes(self, values: dict[str, Any]) -> None:
        # In place, like Go's decoder: toxics already at work read the new values at once.
        for name, value in values.items():
            setattr(self, name, value)

    def check(self, values: dict[str, Any], direction: str) -> None:
        """Refuse attributes this type cannot work with. Toxiproxy's own types accept anything
        their JSON types admit (and so do they here)."""

    # ---- behaviour on one direction of one connection ----------------------------------
    def new_state(self, toxic: Toxic, active: bool) -> ToxicState:
        return self.state_class(toxic, active)

    def attached(self, d: Direction, state: ToxicState) -> None:
        """The toxic now applies to this direction, or was just updated."""

    def detached(self, d: Direction, state: ToxicState) -> None:
        """The toxic was removed: by default whatever it had scheduled is called off."""
        if state.timer is not None:
            state.timer.cancel()

    async def pipe(
        self, d: Direction, state: ToxicState, data: bytes, at: float
    ) -> AsyncIterator[bytes]:
        """Yield what of `data` (which arrived at loop time `at`) goes on, and when."""
        yield data

    async def end_of_stream(self, d: Direction, state: ToxicState) -> None:
        """The source closed its side; runs before the close is passed on."""

    async def on_request(
        self, d: Direction, state: ToxicState, stage: HttpStage, request: h11.Request
    ) -> tuple[bytes, bool] | None:
        """For per-request types: a made-up response (and whether to close after it), or None."""
        return None


@dataclass(eq=False)
class Toxic:
    """One toxic of a proxy (Go's ToxicWrapper); identity, not name, keys per-connection state."""

    name: str
    type: str
    stream: str  # as the client wrote it ("UPSTREAM" stays "UPSTREAM", as in Toxiproxy)
    direction: str  # upstream or downstream
    toxicity: float  # a float32 value, as Toxiproxy holds it
    kind: ToxicKind

    def to_json(self) -> dict[str, Any]:
        return {
            "attributes": self.kind.attributes(),
            "name": self.name,
            "type": self.type,
            "stream": self.stream,
            "toxicity": gojson.Float32(self.toxicity),
        }


REGISTRY: dict[str, type[ToxicKind]] = {}
K = TypeVar("K", bound=type[ToxicKind])


def register(type_name: str) -> Callable[[K], K]:
    """Class decorator: make a toxic type known to the API under `type_name`."""

    def add(cls: K) -> K:
        cls.type_name = type_name
        REGISTRY[type_name] = cls
        return cls

    return add


class RequestToxic(ToxicKind):
    """Behaviour shared by faultline's HTTP toxics, whose dataclasses declare `method` and
    `path`: a request matches when its method is `method` (any if empty) and `path`, a regular
    expression, is found in its target. `toxicity` is drawn per matching request."""

    per_request = True
    extension = True
    default_stream = UPSTREAM
    method: str
    path: str

    def check(self, values: dict[str, Any], direction: str) -> None:
        if direction != UPSTREAM:
            message = f"{self.type_name} acts on requests, so its stream must be upstream"
            raise ApiError(message, 400)
        if values["path"]:
            try:
                re.compile(values["path"])
            except re.error as exc:
                raise bad_request(
                    f"attribute path is not a valid regular expression: {exc}"
                ) from None

    def matches(self, method: str, target: str) -> bool:
        if self.method and self.method.upper() != method:
            return False
        return not self.path or re.search(self.path, target) is not None

    async def on_request(
        self, d: Direction, state: ToxicState, stage: HttpStage, request: h11.Request
    ) -> tuple[bytes, bool] | None:
        method = request.method.decode("ascii", "replace").upper()
        if not self.matches(method, request.target.decode("latin-1")):
            return None
        if d.rng.random() >= state.toxic.toxicity:
            return None
        d.proxy.stats.activated(state.toxic)
        return await self.act(d, state, stage, request)

    async def act(
        self, d: Direction, state: ToxicState, stage: HttpStage, request: h11.Request
    ) -> tuple[bytes, bool] | None:
        raise NotImplementedError
