"""A proxy's toxics, added, updated and removed as Toxiproxy does (its toxic_collection.go).

Toxiproxy checks a new toxic's JSON in this order: the body (bad request), the stream, the
type, the name (already exists), then the attributes, which it decodes once it knows the type.
It checks no value beyond its JSON type: any toxicity, negative times and sizes are accepted.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from chaos.toxiproxy import gojson
from chaos.toxiproxy.errors import (
    bad_request,
    invalid_stream,
    invalid_toxic_type,
    toxic_exists,
    toxic_not_found,
)
from chaos.toxiproxy.toxics import DIRECTIONS, DOWNSTREAM, REGISTRY, UPSTREAM, Toxic, ToxicKind

if TYPE_CHECKING:
    from chaos.toxiproxy.proxy import Proxy

log = logging.getLogger(__name__)

# The first reading of a new toxic, before its type is known (attributes as a NoopToxic).
_WRAPPER = gojson.Struct(
    "ToxicWrapper",
    "toxics.ToxicWrapper",
    {
        "attributes": gojson.Struct("NoopToxic", "toxics.NoopToxic"),
        "name": "string",
        "type": "string",
        "stream": "string",
        "toxicity": "float32",
    },
)


def _attributes_of(kind: type[ToxicKind]) -> gojson.Struct:
    return gojson.Struct(
        "",
        'struct { Attributes interface {} "json:\\"attributes\\"" }',
        {"attributes": kind.struct()},
    )


def _update_of(kind: type[ToxicKind]) -> gojson.Struct:
    go_type = (
        'struct { Attributes interface {} "json:\\"attributes\\""; '
        'Toxicity float32 "json:\\"toxicity\\"" }'
    )
    return gojson.Struct("", go_type, {"attributes": kind.struct(), "toxicity": "float32"})


def read_json(raw: bytes) -> Any:
    try:
        return gojson.loads(raw)
    except gojson.DecodeError as exc:
        raise bad_request(str(exc)) from None


def _decode(struct: gojson.Struct, body: Any, into: dict[str, Any]) -> None:
    try:
        struct.decode(body, into)
    except gojson.DecodeError as exc:
        raise bad_request(str(exc)) from None


def _warn_toxicity(proxy: str, toxic: Toxic) -> None:
    if not 0.0 <= toxic.toxicity <= 1.0:
        # Toxiproxy takes it as it is (above 1: always; below 0: never); so does this server.
        log.warning(
            "proxy %s: toxic %s has toxicity %s, outside [0, 1]; it applies %s",
            proxy,
            toxic.name,
            gojson.format_float32(toxic.toxicity),
            "always" if toxic.toxicity > 1 else "never",
        )


class ToxicCollection:
    def __init__(self, proxy: Proxy) -> None:
        self.proxy = proxy
        self.chains: dict[str, list[Toxic]] = {d: [] for d in DIRECTIONS}

    def chain(self, direction: str) -> list[Toxic]:
        return self.chains[direction]

    def all(self) -> list[Toxic]:
        # Toxiproxy lists the upstream chain first, then the downstream one.
        return self.chains[UPSTREAM] + self.chains[DOWNSTREAM]

    def get(self, name: str) -> Toxic | None:
        return next((t for t in self.all() if t.name == name), None)

    def find(self, name: str) -> Toxic:
        toxic = self.get(name)
        if toxic is None:
            raise toxic_not_found()
        return toxic

    def add_json(self, raw: bytes) -> Toxic:
        body = read_json(raw)
        values: dict[str, Any] = {"name": "", "type": "", "stream": None, "toxicity": 1.0}
        _decode(_WRAPPER, body, values)
        kind = REGISTRY.get(values["type"])
        stream = values["stream"]
        if stream is None:
            stream = kind.default_stream if kind is not None else DOWNSTREAM
        direction = stream.lower()
        if direction not in DIRECTIONS:
            raise invalid_stream()
        name = values["name"] or f"{values['type']}_{stream}"
        if kind is None:
            raise invalid_toxic_type()
        if self.get(name) is not None:
            raise toxic_exists()
        holder = {"attributes": kind().attributes()}
        _decode(_attributes_of(kind), body, holder)
        attributes = holder["attributes"]
        toxic_kind = kind(**attributes)
        toxic_kind.check(attributes, direction)
        toxic = Toxic(name, values["type"], stream, direction, values["toxicity"], toxic_kind)
        _warn_toxicity(self.proxy.name, toxic)
        self.chains[direction] = [*self.chains[direction], toxic]
        for conn in list(self.proxy.connections):
            conn.direction(direction).toxic_added(toxic)
        return toxic

    def update_json(self, name: str, raw: bytes) -> Toxic:
        toxic = self.find(name)
        values = {"attributes": toxic.kind.attributes(), "toxicity": toxic.toxicity}
        _decode(_update_of(type(toxic.kind)), read_json(raw), values)
        toxic.kind.check(values["attributes"], toxic.direction)
        toxic.kind.set_attributes(values["attributes"])
        toxic.toxicity = values["toxicity"]
        _warn_toxicity(self.proxy.name, toxic)
        for conn in list(self.proxy.connections):
            conn.direction(toxic.direction).toxic_updated(toxic)
        return toxic

    def remove(self, name: str) -> None:
        toxic = self.find(name)
        self.chains[toxic.direction] = [t for t in self.chains[toxic.direction] if t is not toxic]
        for conn in list(self.proxy.connections):
            conn.direction(toxic.direction).toxic_removed(toxic)

    def reset(self) -> None:
        for toxic in self.all():
            self.remove(toxic.name)
