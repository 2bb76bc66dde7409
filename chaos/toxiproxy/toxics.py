"""Toxic types, their attributes and defaults, validation and JSON shape (no I/O here).

The byte-level types and attribute names are Toxiproxy 2.x's; `http_error` and `http_latency`
are faultline extensions that act on whole HTTP/1.1 requests of the upstream stream.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from chaos.toxiproxy.errors import ApiError, bad_request, invalid_stream, invalid_toxic_type

UPSTREAM = "upstream"
DOWNSTREAM = "downstream"
STREAMS = (UPSTREAM, DOWNSTREAM)
INT64_MAX = 2**63 - 1


@dataclass(frozen=True)
class Attr:
    name: str
    default: int | str
    minimum: int = 0
    maximum: int = INT64_MAX
    regex: bool = False

    @property
    def is_int(self) -> bool:
        return isinstance(self.default, int)


def _ints(*names: str) -> tuple[Attr, ...]:
    return tuple(Attr(n, 0) for n in names)


_HTTP_FILTERS = (Attr("method", ""), Attr("path", "", regex=True))

TOXIC_TYPES: dict[str, tuple[Attr, ...]] = {
    "latency": _ints("latency", "jitter"),
    "bandwidth": _ints("rate"),
    "slow_close": _ints("delay"),
    "timeout": _ints("timeout"),
    "reset_peer": _ints("timeout"),
    "slicer": _ints("average_size", "size_variation", "delay"),
    "limit_data": _ints("bytes"),
    # faultline extensions
    "http_error": (
        Attr("status", 503, minimum=200, maximum=599),
        Attr("body", ""),
        Attr("content_type", "text/plain; charset=utf-8"),
        *_HTTP_FILTERS,
    ),
    "http_latency": (*_ints("latency", "jitter"), *_HTTP_FILTERS),
}
HTTP_TOXIC_TYPES = frozenset({"http_error", "http_latency"})


@dataclass(eq=False)
class Toxic:
    """One toxic of a proxy; identity (not name) keys per-connection state."""

    name: str
    type: str
    stream: str
    toxicity: float
    attributes: dict[str, Any] = field(default_factory=dict)

    @property
    def is_http(self) -> bool:
        return self.type in HTTP_TOXIC_TYPES

    def to_json(self) -> dict[str, Any]:
        return {
            "attributes": dict(self.attributes),
            "name": self.name,
            "type": self.type,
            "stream": self.stream,
            "toxicity": self.toxicity,
        }


def _object(body: object) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise bad_request(f"expected a JSON object, got {type(body).__name__}")
    return body


def _string(body: dict[str, Any], key: str, default: str) -> str:
    value = body.get(key)
    if value is None:
        return default
    if not isinstance(value, str):
        raise bad_request(f"{key} must be a string")
    return value


def _toxicity(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise bad_request("toxicity must be a number")
    if not 0.0 <= value <= 1.0:
        raise bad_request("toxicity must be between 0 and 1")
    return float(value)


def _attribute(attr: Attr, value: object) -> int | str:
    if attr.is_int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad_request(f"attribute {attr.name} must be an integer")
        if not attr.minimum <= value <= attr.maximum:
            raise bad_request(
                f"attribute {attr.name} must be between {attr.minimum} and {attr.maximum}"
            )
        return value
    if not isinstance(value, str):
        raise bad_request(f"attribute {attr.name} must be a string")
    if attr.regex and value:
        try:
            re.compile(value)
        except re.error as exc:
            raise bad_request(
                f"attribute {attr.name} is not a valid regular expression: {exc}"
            ) from None
    return value


def _attributes(type_: str, given: object, base: dict[str, Any]) -> dict[str, Any]:
    if given is None:
        given = {}
    if not isinstance(given, dict):
        raise bad_request("attributes must be a JSON object")
    merged = dict(base)
    for attr in TOXIC_TYPES[type_]:
        if attr.name in given:
            merged[attr.name] = _attribute(attr, given[attr.name])
    _check_type_rules(type_, merged)
    return merged


def _check_type_rules(type_: str, attrs: dict[str, Any]) -> None:
    if type_ == "slicer":
        if attrs["average_size"] < 1:
            raise bad_request("attribute average_size must be at least 1")
        if attrs["size_variation"] >= attrs["average_size"] and attrs["size_variation"] > 0:
            raise bad_request("attribute size_variation must be less than average_size")


def defaults(type_: str) -> dict[str, Any]:
    return {attr.name: attr.default for attr in TOXIC_TYPES[type_]}


def parse_new_toxic(body: object) -> Toxic:
    """A new toxic from a POST body, with Toxiproxy's defaults and error order."""
    data = _object(body)
    type_ = _string(data, "type", "")
    stream_given = data.get("stream")
    if stream_given is None:
        stream = UPSTREAM if type_ in HTTP_TOXIC_TYPES else DOWNSTREAM
    elif not isinstance(stream_given, str) or stream_given.lower() not in STREAMS:
        raise invalid_stream()
    else:
        stream = stream_given.lower()
    name = _string(data, "name", "") or f"{type_}_{stream}"
    if type_ not in TOXIC_TYPES:
        raise invalid_toxic_type()
    if type_ in HTTP_TOXIC_TYPES and stream != UPSTREAM:
        raise ApiError(f"{type_} acts on requests, so its stream must be upstream", 400)
    toxicity = _toxicity(data["toxicity"]) if data.get("toxicity") is not None else 1.0
    attributes = _attributes(type_, data.get("attributes"), defaults(type_))
    return Toxic(name=name, type=type_, stream=stream, toxicity=toxicity, attributes=attributes)


def parse_update(toxic: Toxic, body: object) -> tuple[dict[str, Any], float]:
    """Attributes merged over the current ones, and the toxicity (kept when absent)."""
    data = _object(body)
    toxicity = toxic.toxicity
    if data.get("toxicity") is not None:
        toxicity = _toxicity(data["toxicity"])
    return _attributes(toxic.type, data.get("attributes"), toxic.attributes), toxicity
